//! Many-to-one: an LSTM reads a whole variable-length sequence and one label
//! is predicted from its final state (a sequence classifier).
//!
//! Task: is there more 1s than 0s in a binary sequence of odd length 3..=15?
//!
//! ```text
//! cargo run -p recur-cells --example many_to_one
//! ```

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use common::{Rng, device, padded_ids, step};
use recur_cells::{CellKind, Recurrent, RecurrentConfig};

#[derive(Module, Debug)]
struct Classifier {
    embedding: Embedding,
    lstm: Recurrent,
    output: Linear,
}

impl Classifier {
    fn new(device: &Device) -> Self {
        Classifier {
            embedding: EmbeddingConfig::new(3, 8).init(device), // 0, 1, padding
            lstm: RecurrentConfig::new(CellKind::Lstm, 8, 32).init(device),
            output: LinearConfig::new(32, 2).init(device),
        }
    }

    /// Class logits `[batch, 2]` from the state after each sequence's last step.
    fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<2> {
        let out = self
            .lstm
            .forward(self.embedding.forward(ids), Some(lengths), None)
            .expect("shapes are consistent");
        let [_, batch, hidden] = out.state.h.dims();
        self.output.forward(out.state.h.reshape([batch, hidden]))
    }
}

/// A batch of sequences, their lengths and labels (1 = majority of ones).
fn batch(
    rng: &mut Rng,
    size: usize,
    device: &Device,
) -> (Tensor<2, Int>, Vec<usize>, Tensor<1, Int>) {
    let rows: Vec<Vec<usize>> = (0..size)
        .map(|_| (0..3 + 2 * rng.below(7)).map(|_| rng.below(2)).collect())
        .collect();
    let labels: Vec<i64> = rows
        .iter()
        .map(|r| (2 * r.iter().sum::<usize>() > r.len()) as i64)
        .collect();
    let lengths = rows.iter().map(Vec::len).collect();
    let labels = Tensor::from_data(TensorData::new(labels, [size]), device);
    (padded_ids(&rows, 2, device), lengths, labels)
}

fn main() {
    let device = device();
    let mut rng = Rng::new(1);
    let mut model = Classifier::new(&device);
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    for iteration in 1..=300 {
        let (ids, lengths, labels) = batch(&mut rng, 32, &device);
        let loss = loss_fn.forward(model.forward(ids, &lengths), labels);
        model = step(model, &mut optimizer, loss, 1e-2, iteration);
    }

    let model = model.valid();
    let (ids, lengths, labels) = batch(&mut rng, 1000, &device);
    let predicted = model.forward(ids, &lengths).argmax(1).reshape([1000]);
    let correct = predicted.equal(labels).int().sum().into_scalar::<i64>();
    println!(
        "accuracy on 1000 new sequences: {:.1}%",
        correct as f64 / 10.0
    );
    assert!(correct > 900, "the classifier should learn majority vote");
}
