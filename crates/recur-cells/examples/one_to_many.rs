//! One-to-many: one input sets the initial state of a GRU, which then
//! generates a sequence, each step fed the token it produced last (as an
//! image captioner does from an image vector).
//!
//! Task: from a digit d, count down `d, d-1, ..., 0` and stop with END.
//! Training feeds the true previous token (teacher forcing) through the
//! sequence layer; generation feeds the model's own output through single
//! cell steps.
//!
//! ```text
//! cargo run -p recur-cells --example one_to_many
//! ```

mod common;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use common::{Rng, device, padded_ids, step};
use recur_cells::{CellKind, CellState, Recurrent, RecurrentConfig, RecurrentState};

const END: usize = 10;
const START: usize = 11;
const PAD: usize = 12;
const HIDDEN: usize = 32;

#[derive(Module, Debug)]
struct Generator {
    /// The one input: digit d as a learned vector that becomes h0.
    seed: Embedding,
    tokens: Embedding,
    gru: Recurrent,
    output: Linear,
}

impl Generator {
    fn new(device: &Device) -> Self {
        Generator {
            seed: EmbeddingConfig::new(10, HIDDEN).init(device),
            tokens: EmbeddingConfig::new(13, 16).init(device),
            gru: RecurrentConfig::new(CellKind::Gru, 16, HIDDEN).init(device),
            output: LinearConfig::new(HIDDEN, 13).init(device),
        }
    }

    /// h0 `[batch, hidden]` from the digits.
    fn initial(&self, digits: Tensor<1, Int>) -> Tensor<2> {
        let [batch] = digits.dims();
        self.seed
            .forward(digits.reshape([batch, 1]))
            .reshape([batch, HIDDEN])
            .tanh()
    }

    /// Teacher-forced logits `[batch, time, 13]` for the inputs `START, y0, y1, ...`.
    fn forward(
        &self,
        digits: Tensor<1, Int>,
        inputs: Tensor<2, Int>,
        lengths: &[usize],
    ) -> Tensor<3> {
        let h0 = self.initial(digits).unsqueeze_dim(0);
        let state = RecurrentState { h: h0, c: None };
        let out = self
            .gru
            .forward(self.tokens.forward(inputs), Some(lengths), Some(state))
            .expect("shapes are consistent");
        self.output.forward(out.output)
    }

    /// Greedy generation, one cell step at a time, feeding back the argmax.
    fn generate(&self, digit: usize, device: &Device) -> Vec<usize> {
        let digits = Tensor::from_data(TensorData::new(vec![digit as i64], [1]), device);
        let mut state = CellState {
            h: self.initial(digits),
            c: None,
        };
        let mut token = START;
        let mut produced = Vec::new();
        while produced.len() < 15 {
            let ids = Tensor::from_data(TensorData::new(vec![token as i64], [1, 1]), device);
            let input = self.tokens.forward(ids).reshape([1, 16]);
            state = self.gru.cells[0].step(input, state);
            token = self
                .output
                .forward(state.h.clone())
                .argmax(1)
                .into_scalar::<i64>() as usize;
            if token == END {
                break;
            }
            produced.push(token);
        }
        produced
    }
}

fn countdown(d: usize) -> Vec<usize> {
    (0..=d).rev().collect()
}

fn main() {
    let device = device();
    let mut rng = Rng::new(2);
    let mut model = Generator::new(&device);
    let mut optimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new()
        .with_pad_tokens(Some(vec![PAD]))
        .init(&device);
    for iteration in 1..=300 {
        let digits: Vec<usize> = (0..32).map(|_| rng.below(10)).collect();
        let inputs: Vec<Vec<usize>> = digits
            .iter()
            .map(|&d| [vec![START], countdown(d)].concat())
            .collect();
        let targets: Vec<Vec<usize>> = digits
            .iter()
            .map(|&d| [countdown(d), vec![END]].concat())
            .collect();
        let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let digit_ids = digits.iter().map(|&d| d as i64).collect::<Vec<_>>();
        let digit_ids = Tensor::from_data(TensorData::new(digit_ids, [32]), &device);
        let logits = model.forward(digit_ids, padded_ids(&inputs, PAD, &device), &lengths);
        let [batch, time, vocab] = logits.dims();
        let targets = padded_ids(&targets, PAD, &device).reshape([batch * time]);
        let loss = loss_fn.forward(logits.reshape([batch * time, vocab]), targets);
        model = step(model, &mut optimizer, loss, 1e-2, iteration);
    }

    let model = model.valid();
    let mut right = 0;
    for d in 0..10 {
        let generated = model.generate(d, &device);
        println!("{d} -> {generated:?}");
        right += (generated == countdown(d)) as usize;
    }
    println!("{right}/10 countdowns generated correctly");
    assert!(right >= 9, "the generator should learn to count down");
}
