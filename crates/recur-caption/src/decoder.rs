//! The caption decoder: an LSTM whose first input is the image embedding and
//! whose later inputs are the caption's words (show and tell, Vinyals et al.,
//! 2015), optionally with soft attention over a grid of image features at
//! every step (show, attend and tell, Xu et al., 2015).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use recur_cells::{CellKind, CellState, Recurrent, RecurrentConfig, linear};
use recur_seq2seq::attention::{Additive, AdditiveConfig, Attention, Keys};
use recur_seq2seq::search::{StepDecoder, StepOutput};

use crate::CaptionError;
use crate::encoder::Encoded;

/// Configuration of a [`CaptionDecoder`].
#[derive(Config, Debug)]
pub struct CaptionDecoderConfig {
    /// Vocabulary size (specials included).
    pub vocab: usize,
    /// Size of the word embeddings and of the image embedding.
    #[config(default = 64)]
    pub embed: usize,
    /// LSTM hidden units.
    #[config(default = 128)]
    pub hidden: usize,
    /// Soft attention over an image feature grid with this many channels
    /// per location; `None`: show-and-tell, the image is seen only at the
    /// first step.
    #[config(default = "None")]
    pub attention: Option<usize>,
    /// Hidden units of the additive attention's score.
    #[config(default = 64)]
    pub attention_hidden: usize,
}

impl CaptionDecoderConfig {
    /// Builds the decoder; the output bias starts at zero (see
    /// [`CaptionDecoder::with_output_bias`]).
    pub fn init(&self, device: &Device) -> CaptionDecoder {
        let context = self.attention.unwrap_or(0);
        CaptionDecoder {
            embedding: EmbeddingConfig::new(self.vocab, self.embed).init(device),
            rnn: RecurrentConfig::new(CellKind::Lstm, self.embed + context, self.hidden)
                .init(device),
            output: LinearConfig::new(self.hidden, self.vocab).init(device),
            attention: self.attention.map(|channels| {
                AdditiveConfig::new(self.hidden, channels, self.attention_hidden).init(device)
            }),
        }
    }
}

/// The caption decoder.
#[derive(Module, Debug)]
pub struct CaptionDecoder {
    /// Word embeddings, `[vocab, embed]`.
    pub embedding: Embedding,
    /// One LSTM layer; its input is the embedding, followed by the attention
    /// context when there is attention.
    pub rnn: Recurrent,
    /// Hidden state to vocabulary logits.
    pub output: Linear,
    /// Soft attention over the image grid, queried with the previous hidden
    /// state.
    pub attention: Option<Additive>,
}

/// What the decoder carries from one step to the next.
#[derive(Debug, Clone)]
pub struct DecoderState {
    /// The LSTM state, `[n, hidden]`.
    pub cell: CellState,
    /// The attention keys of the image grid, `n` rows (attention only).
    pub keys: Option<Keys>,
}

/// What [`CaptionDecoder::forward`] returns.
#[derive(Debug, Clone)]
pub struct DecoderOutput {
    /// Logits of the next word after each input token, `[batch, time, vocab]`.
    pub logits: Tensor<3>,
    /// Attention weights over the grid at each step, `[batch, time,
    /// locations]` (attention only).
    pub attention: Option<Tensor<3>>,
}

impl CaptionDecoder {
    /// Vocabulary size.
    pub fn vocab(&self) -> usize {
        self.output.weight.dims()[1]
    }

    /// The output layer: hidden states `[..., hidden]` -> logits `[..., vocab]`.
    fn logits<const D: usize>(&self, hidden: Tensor<D>) -> Tensor<D> {
        let bias = self.output.bias.as_ref().map(Param::val);
        linear(hidden, self.output.weight.val(), bias)
    }

    /// Grid channels the attention expects, `None` without attention.
    pub fn attention_channels(&self) -> Option<usize> {
        self.attention.as_ref().map(|a| a.key.weight.dims()[0])
    }

    /// Sets the output layer's bias, one value per word, e.g.
    /// [`recur_data::log_frequency_bias`] of the vocabulary's counts so that
    /// training starts from the unigram distribution.
    pub fn with_output_bias(mut self, bias: &[f32]) -> Result<Self, CaptionError> {
        if bias.len() != self.vocab() {
            return Err(CaptionError::Argument(format!(
                "output bias has {} values for a vocabulary of {}",
                bias.len(),
                self.vocab()
            )));
        }
        let device = self.output.weight.device();
        let bias = Tensor::from_data(TensorData::new(bias.to_vec(), [bias.len()]), &device);
        self.output.bias = Some(Param::from_tensor(bias));
        Ok(self)
    }

    /// The state after the first step, whose input is the image embedding.
    pub fn start(&self, encoded: Encoded) -> DecoderState {
        let [batch, _] = encoded.embedding.dims();
        let cell = &self.rnn.cells[0];
        let keys = match (&self.attention, encoded.grid) {
            (Some(attention), Some(grid)) => Some(attention.keys(grid, None)),
            _ => None,
        };
        let state = DecoderState {
            cell: cell.zero_state(batch, &encoded.embedding.device()),
            keys,
        };
        self.advance(encoded.embedding, state).0
    }

    /// One LSTM step from `input` (`[n, embed]`): with attention, the
    /// previous hidden state queries the grid and the context joins the
    /// input. Returns the new state and the attention weights `[n, locations]`.
    fn advance(&self, input: Tensor<2>, state: DecoderState) -> (DecoderState, Option<Tensor<2>>) {
        let (input, weights) = match (&self.attention, &state.keys) {
            (Some(attention), Some(keys)) => {
                let attended = attention.attend(state.cell.h.clone(), keys);
                (
                    Tensor::cat(vec![input, attended.context], 1),
                    Some(attended.weights),
                )
            }
            _ => (input, None),
        };
        let cell = self.rnn.cells[0].step(input, state.cell);
        (
            DecoderState {
                cell,
                keys: state.keys,
            },
            weights,
        )
    }

    /// Teacher-forced decoding of a batch of captions.
    ///
    /// - encoded: the images, `embedding` `[batch, embed]` (and `grid`
    ///   `[batch, locations, channels]` with attention)
    /// - tokens: `[batch, time]`, `<start>` and the caption's words, padded
    ///
    /// Logits past a row's real tokens are unspecified: mask them out of
    /// the loss.
    ///
    /// Returns logits `[batch, time, vocab]`: position `t` scores the token
    /// after `tokens[:, t]`.
    pub fn forward(&self, encoded: Encoded, tokens: Tensor<2, Int>) -> DecoderOutput {
        let [batch, time] = tokens.dims();
        let words = self.embedding.forward(tokens);
        // One step at a time, as decoding runs: with attention each step's
        // input depends on the previous state.
        let [_, _, embed] = words.dims();
        let mut state = self.start(encoded);
        let (mut hidden, mut weights) = (Vec::with_capacity(time), Vec::with_capacity(time));
        for t in 0..time {
            let input = words.clone().narrow(1, t, 1).reshape([batch, embed]);
            let (next, w) = self.advance(input, state);
            hidden.push(next.cell.h.clone());
            weights.extend(w);
            state = next;
        }
        let hidden: Tensor<3> = Tensor::stack(hidden, 1);
        DecoderOutput {
            logits: self.logits(hidden),
            attention: (!weights.is_empty()).then(|| Tensor::stack(weights, 1)),
        }
    }
}

impl StepDecoder for CaptionDecoder {
    type State = DecoderState;

    fn device(&self) -> Device {
        self.output.weight.device()
    }

    fn step(&self, tokens: Tensor<1, Int>, state: DecoderState) -> (StepOutput, DecoderState) {
        let [n] = tokens.dims();
        let input = self.embedding.forward(tokens.reshape([n, 1]));
        let [_, _, embed] = input.dims();
        let (state, attention) = self.advance(input.reshape([n, embed]), state);
        let log_probs = log_softmax(self.logits(state.cell.h.clone()), 1);
        (
            StepOutput {
                log_probs,
                attention,
            },
            state,
        )
    }

    fn select(&self, state: DecoderState, indices: Tensor<1, Int>) -> DecoderState {
        DecoderState {
            cell: CellState {
                h: state.cell.h.select(0, indices.clone()),
                c: state.cell.c.map(|c| c.select(0, indices.clone())),
            },
            keys: state.keys.map(|keys| keys.select(indices)),
        }
    }
}

/// Softmax cross-entropy averaged over the real tokens only.
///
/// - logits: `[batch, time, vocab]`
/// - targets: `[batch, time]`
/// - mask: `[batch, time]`, 1 at real tokens and 0 at padding
///
/// Returns `[1]`: `-sum(mask * log p(target)) / sum(mask)`.
pub fn masked_cross_entropy(
    logits: Tensor<3>,
    targets: Tensor<2, Int>,
    mask: Tensor<2>,
) -> Tensor<1> {
    let [batch, time, _] = logits.dims();
    let picked = log_softmax(logits, 2)
        .gather(2, targets.unsqueeze_dim::<3>(2))
        .reshape([batch, time]);
    let total = (picked * mask.clone()).sum().neg();
    total / mask.sum().clamp_min(1.0)
}
