//! charlm's model: embedding, stacked recurrent layer, projection to the
//! characters; and sampling text from it.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use recur_cells::{Recurrent, RecurrentConfig, RecurrentState, linear};
use recur_data::{CharVocab, SplitMix64, Window};
use recur_train::{AppError, Context};

use crate::Config;

/// Embedding, a stacked recurrent layer, and a projection to the characters.
#[derive(Module, Debug)]
pub struct CharLm {
    embedding: Embedding,
    rnn: Recurrent,
    output: Linear,
}

impl CharLm {
    pub fn new(config: &Config, vocab: usize, device: &Device) -> Self {
        CharLm {
            embedding: EmbeddingConfig::new(vocab, config.embedding).init(device),
            rnn: RecurrentConfig::new(config.cell, config.embedding, config.hidden)
                .with_num_layers(config.layers)
                .with_dropout(config.dropout)
                .init(device),
            output: LinearConfig::new(config.hidden, vocab).init(device),
        }
    }

    /// The model with the weights of a PyTorch state dict saved as
    /// safetensors under `nn.Embedding`/`nn.LSTM`/`nn.Linear`'s names.
    pub fn load_torch(mut self, path: &Path) -> Result<Self, AppError> {
        // The recurrent layer's names and layout are its own (`load_torch`);
        // the store, with PyTorch's layout of `Linear` weights, reads the rest.
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true);
        let loaded = self.load_from(&mut store)?;
        for name in ["embedding.weight", "output.weight", "output.bias"] {
            if !loaded.applied.iter().any(|applied| applied == name) {
                return Err(format!("no tensor {name}").into());
            }
        }
        self.rnn = self.rnn.load_torch_prefixed(path, "rnn.")?;
        Ok(self)
    }

    /// Logits `[batch, time, vocab]` for ids `[batch, time]`, and the state
    /// after the last step.
    pub fn forward(
        &self,
        ids: Tensor<2, Int>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        let out = self
            .rnn
            .forward(self.embedding.forward(ids), None, state)
            .expect("the embedding size is the layer's input size");
        let bias = self.output.bias.as_ref().map(Param::val);
        (
            linear(out.output, self.output.weight.val(), bias),
            out.state,
        )
    }

    /// Mean cross-entropy over `window` from `state`, and the state after it.
    pub fn loss(
        &self,
        window: &Window,
        state: Option<RecurrentState>,
        device: &Device,
    ) -> (Tensor<1>, RecurrentState) {
        let (logits, last) = self.forward(window.input_tensor(device), state);
        let [b, t, v] = logits.dims();
        let loss = CrossEntropyLossConfig::new().init(device).forward(
            logits.reshape([b * t, v]),
            window.target_tensor(device).reshape([b * t]),
        );
        (loss, last)
    }
}

/// `prime` followed by `length` sampled characters.
pub fn generate(
    model: &CharLm,
    vocab: &CharVocab,
    prime: &str,
    length: usize,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Result<String, AppError> {
    if !(temperature > 0.0) {
        return Err(format!("--temperature must be positive, got {temperature}").into());
    }
    let prime_ids = vocab.encode(prime).context("--prime")?;
    if prime_ids.is_empty() {
        return Err("--prime must not be empty".into());
    }
    let ids = |ids: &[usize]| {
        let values: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        Tensor::<2, Int>::from_data(TensorData::new(values, [1, ids.len()]), device)
    };
    let mut rng = SplitMix64::new(seed);
    let (mut logits, mut state) = model.forward(ids(&prime_ids), None);
    let mut out = prime_ids;
    for _ in 0..length {
        let [_, time, v] = logits.dims();
        let last = logits.slice([0..1, time - 1..time]).reshape([1, v]);
        let probabilities = softmax(last.div_scalar(temperature), 1)
            .into_data()
            .try_to_vec::<f32>()?;
        let next = pick(&probabilities, &mut rng);
        out.push(next);
        (logits, state) = model.forward(ids(&[next]), Some(state));
    }
    Ok(vocab.decode(&out))
}

/// An index drawn with the given probabilities.
fn pick(probabilities: &[f32], rng: &mut SplitMix64) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut acc = 0.0;
    for (i, &p) in probabilities.iter().enumerate() {
        acc += f64::from(p);
        if u < acc {
            return i;
        }
    }
    probabilities.len() - 1
}
