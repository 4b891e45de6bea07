//! Many-to-many: a bidirectional LSTM tags every step of a sequence (a
//! tagger), each tag depending on what comes before and after.
//!
//! Task: tag each digit 1 if the same digit appears again later in the
//! sequence, else 0: the right-to-left direction sees the future.
//!
//! ```text
//! cargo run -p recur-cells --example many_to_many
//! ```

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor};
use common::{Rng, device, padded_ids, step};
use recur_cells::{CellKind, Recurrent, RecurrentConfig};

const PAD: usize = 10;
/// Tags: 0 = not seen again, 1 = seen again, 2 = padding (a class of its own,
/// as a pad token is in a vocabulary, and ignored by the loss).
const NO_TAG: usize = 2;

#[derive(Module, Debug)]
struct Tagger {
    embedding: Embedding,
    lstm: Recurrent,
    output: Linear,
}

impl Tagger {
    fn new(device: &Device) -> Self {
        Tagger {
            embedding: EmbeddingConfig::new(11, 16).init(device),
            lstm: RecurrentConfig::new(CellKind::Lstm, 16, 32)
                .with_bidirectional(true)
                .init(device),
            output: LinearConfig::new(64, 3).init(device),
        }
    }

    /// Tag logits `[batch, time, 3]`.
    fn forward(&self, ids: Tensor<2, Int>, lengths: &[usize]) -> Tensor<3> {
        let out = self
            .lstm
            .forward(self.embedding.forward(ids), Some(lengths), None)
            .expect("shapes are consistent");
        self.output.forward(out.output)
    }
}

/// Sequences of 4..=10 digits, their lengths and `[batch * time]` tags.
fn batch(
    rng: &mut Rng,
    size: usize,
    device: &Device,
) -> (Tensor<2, Int>, Vec<usize>, Tensor<1, Int>) {
    let rows: Vec<Vec<usize>> = (0..size)
        .map(|_| (0..4 + rng.below(7)).map(|_| rng.below(10)).collect())
        .collect();
    let tags: Vec<Vec<usize>> = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r[i + 1..].contains(&r[i]) as usize)
                .collect()
        })
        .collect();
    let lengths = rows.iter().map(Vec::len).collect();
    let tags = padded_ids(&tags, NO_TAG, device);
    let [batch, time] = tags.dims();
    (
        padded_ids(&rows, PAD, device),
        lengths,
        tags.reshape([batch * time]),
    )
}

fn main() {
    let device = device();
    let mut rng = Rng::new(3);
    let mut model = Tagger::new(&device);
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new()
        .with_pad_tokens(Some(vec![NO_TAG]))
        .init(&device);
    for iteration in 1..=400 {
        let (ids, lengths, tags) = batch(&mut rng, 32, &device);
        let logits = model.forward(ids, &lengths);
        let [b, t, c] = logits.dims();
        let loss = loss_fn.forward(logits.reshape([b * t, c]), tags);
        model = step(model, &mut optimizer, loss, 1e-2, iteration);
    }

    let model = model.valid();
    let (ids, lengths, tags) = batch(&mut rng, 500, &device);
    let logits = model.forward(ids, &lengths);
    let [b, t, c] = logits.dims();
    let predicted = logits.reshape([b * t, c]).argmax(1).reshape([b * t]);
    let real = tags.clone().not_equal_elem(NO_TAG as i64);
    let correct = predicted
        .equal(tags)
        .bool_and(real.clone())
        .int()
        .sum()
        .into_scalar::<i64>();
    let total = real.int().sum().into_scalar::<i64>();
    let accuracy = correct as f64 / total as f64;
    println!(
        "tag accuracy on 500 new sequences: {:.1}%",
        100.0 * accuracy
    );
    assert!(accuracy > 0.9, "the tagger should learn to look ahead");
}
