//! The encoder-decoder: an RNN encoder reads the source, an RNN decoder
//! with input feeding and attention writes the target one token at a time
//! (Bahdanau et al., 2015; Luong et al., 2015).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig,
};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use recur_cells::{Cell, CellConfig, CellKind, CellState, Recurrent, RecurrentConfig, linear};
use recur_data::{Batch, SplitMix64, pad};

use crate::attention::{
    AnyAttention, Attention, AttentionConfig, AttentionKind, Keys, length_mask,
};
use crate::error::Seq2SeqError;
use crate::search::{StepDecoder, StepOutput};

/// Configuration of a [`Seq2Seq`] model.
#[derive(Config, Debug)]
pub struct Seq2SeqConfig {
    /// Source vocabulary size.
    pub source_vocab: usize,
    /// Target vocabulary size.
    pub target_vocab: usize,
    /// Features of the source and target word embeddings.
    #[config(default = 128)]
    pub embedding: usize,
    /// Features of each encoder state per direction. The decoder's state has
    /// as many features as the encoder's output (`directions * hidden`), so
    /// that every attention kind, dot included, can compare them.
    #[config(default = 128)]
    pub hidden: usize,
    /// Stacked layers in the encoder and in the decoder.
    #[config(default = 1)]
    pub layers: usize,
    /// The recurrent cell of encoder and decoder (GRU or LSTM).
    #[config(default = "CellKind::Gru")]
    pub cell: CellKind,
    /// Whether the encoder reads the source in both directions.
    #[config(default = true)]
    pub bidirectional: bool,
    /// The attention score.
    #[config(default = "AttentionKind::Additive")]
    pub attention: AttentionKind,
    /// Dropout (training only) on the source and target word embeddings,
    /// between stacked encoder layers and on the attentional vector, which
    /// the output layer reads and the next step is fed.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the output layer reuses the decoder's input embedding
    /// (Press & Wolf, 2017); needs `embedding == directions * hidden`.
    #[config(default = false)]
    pub tie_embeddings: bool,
}

impl Seq2SeqConfig {
    /// Features of the decoder state and of the attentional vector.
    pub fn decoder_hidden(&self) -> usize {
        self.hidden * if self.bidirectional { 2 } else { 1 }
    }

    /// Builds the model.
    ///
    /// # Errors
    ///
    /// [`Seq2SeqError::TiedSize`] when tied embeddings do not match the
    /// attentional vector; [`Seq2SeqError::Config`] for zero sizes.
    pub fn init(&self, device: &Device) -> Result<Seq2Seq, Seq2SeqError> {
        if self.source_vocab == 0 || self.target_vocab == 0 || self.embedding == 0 {
            return Err(Seq2SeqError::Config(
                "vocabularies and embedding must be non-empty",
            ));
        }
        if self.hidden == 0 || self.layers == 0 {
            return Err(Seq2SeqError::Config("hidden and layers must be at least 1"));
        }
        let hidden = self.decoder_hidden();
        if self.tie_embeddings && self.embedding != hidden {
            return Err(Seq2SeqError::TiedSize {
                embedding: self.embedding,
                hidden,
            });
        }
        let encoder = Encoder {
            embedding: EmbeddingConfig::new(self.source_vocab, self.embedding).init(device),
            rnn: RecurrentConfig::new(self.cell, self.embedding, self.hidden)
                .with_num_layers(self.layers)
                .with_bidirectional(self.bidirectional)
                .with_dropout(self.dropout)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        };
        // Input feeding: layer 0 reads the embedding and the previous
        // attentional vector.
        let cells = (0..self.layers)
            .map(|layer| {
                let input = if layer == 0 {
                    self.embedding + hidden
                } else {
                    hidden
                };
                CellConfig::new(self.cell, input, hidden).init(device)
            })
            .collect();
        let bound = 1.0 / (hidden as f64).sqrt();
        let decoder = Decoder {
            embedding: EmbeddingConfig::new(self.target_vocab, self.embedding).init(device),
            bridge: LinearConfig::new(hidden, hidden).init(device),
            cells,
            attention: AttentionConfig::new(self.attention, hidden, hidden, hidden).init(device)?,
            combine: LinearConfig::new(2 * hidden, hidden)
                .with_bias(false)
                .init(device),
            output_weight: (!self.tie_embeddings).then(|| {
                Initializer::Uniform {
                    min: -bound,
                    max: bound,
                }
                .init([hidden, self.target_vocab], device)
            }),
            output_bias: Initializer::Zeros.init([self.target_vocab], device),
            dropout: DropoutConfig::new(self.dropout).init(),
        };
        Ok(Seq2Seq { encoder, decoder })
    }
}

/// The encoder: embedding plus a stacked, optionally bidirectional RNN,
/// masked by the source lengths.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Source word embedding, `[source_vocab, embedding]`.
    pub embedding: Embedding,
    /// The recurrent layers.
    pub rnn: Recurrent,
    /// Dropout on the embedded source.
    pub dropout: Dropout,
}

/// The decoder: stacked cells with input feeding, attention over the
/// encoder states and an output layer.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Target word embedding, `[target_vocab, embedding]`.
    pub embedding: Embedding,
    /// Initial decoder state from the encoder's final states:
    /// `s_0 = tanh(W [h_fwd; h_bwd] + b)`, per layer.
    pub bridge: Linear,
    /// One cell per layer; layer 0 reads `[embedding; previous attentional vector]`.
    pub cells: Vec<Cell>,
    /// Scores the encoder states against the top layer's state.
    pub attention: AnyAttention,
    /// Luong's attentional vector `h~ = tanh(W_c [context; h])` (eq. 5).
    pub combine: Linear,
    /// Output weights `[hidden, target_vocab]`; `None` when tied to
    /// `embedding` (then `embedding.weight^T` is used).
    pub output_weight: Option<Param<Tensor<2>>>,
    /// Output bias, `[target_vocab]`.
    pub output_bias: Param<Tensor<1>>,
    /// Dropout on the embedded target words and on the attentional vector.
    pub dropout: Dropout,
}

/// The encoder-decoder.
#[derive(Module, Debug)]
pub struct Seq2Seq {
    /// Reads the source.
    pub encoder: Encoder,
    /// Writes the target.
    pub decoder: Decoder,
}

/// What the decoder carries from one step to the next, for `n` rows.
#[derive(Debug, Clone)]
pub struct DecoderState {
    /// One cell state per layer, each `[n, hidden]`.
    pub cells: Vec<CellState>,
    /// The previous attentional vector `h~`, `[n, hidden]` (input feeding).
    pub feed: Tensor<2>,
    /// The encoder states and source mask the attention reads.
    pub keys: Keys,
}

impl DecoderState {
    /// Keeps or repeats rows `indices` of every tensor.
    pub fn select(self, indices: Tensor<1, Int>) -> DecoderState {
        DecoderState {
            cells: self
                .cells
                .into_iter()
                .map(|cell| CellState {
                    h: cell.h.select(0, indices.clone()),
                    c: cell.c.map(|c| c.select(0, indices.clone())),
                })
                .collect(),
            feed: self.feed.select(0, indices.clone()),
            keys: self.keys.select(indices),
        }
    }
}

impl Decoder {
    /// One step for `n` rows: `tokens` `[n]` -> attention weights
    /// `[n, src_len]` and the next state, whose `feed` is the attentional
    /// vector the output layer reads ([`Decoder::logits`]). The output layer
    /// is kept out of the step so that training applies it to all steps at
    /// once: one `[batch * tgt_len, hidden] x [hidden, vocab]` product and
    /// one weight gradient instead of one per step.
    fn step(&self, tokens: Tensor<1, Int>, state: DecoderState) -> (Tensor<2>, DecoderState) {
        let [n] = tokens.dims();
        let embedded = self
            .embedding
            .forward(tokens.reshape([n, 1]))
            .squeeze_dim::<2>(1);
        let embedded = self.dropout.forward(embedded);
        let mut input = Tensor::cat(vec![embedded, state.feed], 1);
        let mut cells = Vec::with_capacity(self.cells.len());
        for (cell, cell_state) in self.cells.iter().zip(state.cells) {
            let next = cell.step(input, cell_state);
            input = next.h.clone();
            cells.push(next);
        }
        let attended = self.attention.attend(input.clone(), &state.keys);
        let feed = self.dropout.forward(
            self.combine
                .forward(Tensor::cat(vec![attended.context, input], 1))
                .tanh(),
        );
        let state = DecoderState {
            cells,
            feed,
            keys: state.keys,
        };
        (attended.weights, state)
    }

    /// The output layer: attentional vectors `[n, hidden]` -> logits
    /// `[n, target_vocab]`.
    fn logits(&self, feed: Tensor<2>) -> Tensor<2> {
        let weight = match &self.output_weight {
            Some(weight) => weight.val(),
            None => self.embedding.weight.val().transpose(),
        };
        linear(feed, weight, Some(self.output_bias.val()))
    }
}

impl Seq2Seq {
    /// Features of the decoder state.
    pub fn decoder_hidden(&self) -> usize {
        self.encoder.rnn.output_size()
    }

    /// Encodes a source batch into the decoder's initial state.
    ///
    /// - source: `[batch, src_len]` token ids, padded
    /// - lengths: each source's real length (1..=src_len)
    ///
    /// # Errors
    ///
    /// A [`Seq2SeqError::Cells`] when `lengths` does not fit the batch.
    pub fn encode(
        &self,
        source: Tensor<2, Int>,
        lengths: &[usize],
    ) -> Result<DecoderState, Seq2SeqError> {
        let [batch, src_len] = source.dims();
        if let Some(index) = lengths.iter().position(|&l| l == 0) {
            return Err(Seq2SeqError::EmptySource { index });
        }
        let device = source.device();
        let embedded = self
            .encoder
            .dropout
            .forward(self.encoder.embedding.forward(source));
        let encoded = self.encoder.rnn.forward(embedded, Some(lengths), None)?;
        // Final states [layers * directions, batch, hidden] -> per layer
        // [batch, directions * hidden]: forward and backward side by side.
        let rnn = &self.encoder.rnn;
        let (directions, hidden) = (rnn.directions(), rnn.hidden_size());
        let finals = encoded
            .state
            .h
            .reshape([rnn.num_layers, directions, batch, hidden])
            .swap_dims(1, 2)
            .reshape([rnn.num_layers, batch, directions * hidden]);
        let initial = self.decoder.bridge.forward(finals).tanh();
        let has_c = rnn.kind().has_cell_state();
        let cells = (0..rnn.num_layers)
            .map(|layer| {
                let h = initial
                    .clone()
                    .narrow(0, layer, 1)
                    .reshape([batch, directions * hidden]);
                CellState {
                    c: has_c.then(|| h.zeros_like()),
                    h,
                }
            })
            .collect();
        let mask = length_mask(lengths, src_len, &device);
        Ok(DecoderState {
            cells,
            feed: Tensor::zeros([batch, directions * hidden], &device),
            keys: self.decoder.attention.keys(encoded.output, Some(mask)),
        })
    }

    /// Teacher-forced decoding of a batch (training and validation).
    ///
    /// At each step the decoder reads the reference previous token with
    /// probability `teacher_forcing` (one draw from `rng` per step for the
    /// whole batch), otherwise its own most probable previous token. With a
    /// ratio of 1 (or 0) `rng` is not used.
    ///
    /// Returns the logits `[batch, tgt_len, target_vocab]` for
    /// `batch.target_out`.
    ///
    /// # Errors
    ///
    /// As [`Seq2Seq::encode`].
    pub fn forward(
        &self,
        batch: &PairBatch,
        teacher_forcing: f64,
        rng: &mut SplitMix64,
    ) -> Result<Tensor<3>, Seq2SeqError> {
        let device = self.decoder.output_bias.device();
        let mut state = self.encode(batch.source.ids_tensor(&device), &batch.source.lengths)?;
        let target_in = batch.target_in.ids_tensor(&device);
        let [size, tgt_len] = target_in.dims();
        let hidden = self.decoder_hidden();
        // Fully teacher-forced decoding never reads its own guesses.
        let own_guesses = teacher_forcing < 1.0;
        let mut feeds = Vec::with_capacity(tgt_len);
        let mut previous: Option<Tensor<1, Int>> = None;
        for t in 0..tgt_len {
            let teacher = target_in.clone().narrow(1, t, 1).reshape([size]);
            let tokens = match previous.take() {
                Some(own) if !draw(teacher_forcing, rng) => own,
                _ => teacher,
            };
            state = self.decoder.step(tokens, state).1;
            if own_guesses {
                // The guess is a token id: no gradient flows through it.
                let logits = self.decoder.logits(state.feed.clone().detach());
                previous = Some(logits.argmax(1).reshape([size]));
            }
            feeds.push(state.feed.clone());
        }
        let feeds = Tensor::stack::<3>(feeds, 1).reshape([size * tgt_len, hidden]);
        let logits = self.decoder.logits(feeds);
        let vocab = logits.dims()[1];
        Ok(logits.reshape([size, tgt_len, vocab]))
    }

    /// Mean cross-entropy of `logits` (`[batch, tgt_len, target_vocab]`, from
    /// [`Seq2Seq::forward`]) against `batch.target_out`, over real target
    /// tokens only: padding adds nothing to the loss or its gradients.
    pub fn loss(&self, logits: Tensor<3>, batch: &PairBatch) -> Tensor<1> {
        let device = logits.device();
        let [size, tgt_len, vocab] = logits.dims();
        let log_probs = log_softmax(logits.reshape([size * tgt_len, vocab]), 1);
        let targets = batch
            .target_out
            .ids_tensor(&device)
            .reshape([size * tgt_len, 1]);
        let mask = batch.target_out.mask(&device).reshape([size * tgt_len, 1]);
        let picked = log_probs.gather(1, targets) * mask;
        let tokens = batch.target_tokens().max(1) as f64;
        picked.sum().neg() / tokens
    }
}

/// Whether to use the reference token at a step, with probability `ratio`.
fn draw(ratio: f64, rng: &mut SplitMix64) -> bool {
    if ratio >= 1.0 {
        true
    } else if ratio <= 0.0 {
        false
    } else {
        ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < ratio
    }
}

impl StepDecoder for Seq2Seq {
    type State = DecoderState;

    fn device(&self) -> Device {
        self.decoder.output_bias.device()
    }

    fn step(&self, tokens: Tensor<1, Int>, state: DecoderState) -> (StepOutput, DecoderState) {
        let (weights, state) = self.decoder.step(tokens, state);
        let output = StepOutput {
            log_probs: log_softmax(self.decoder.logits(state.feed.clone()), 1),
            attention: Some(weights),
        };
        (output, state)
    }

    fn select(&self, state: DecoderState, indices: Tensor<1, Int>) -> DecoderState {
        state.select(indices)
    }
}

/// A batch of (source, target) pairs, padded, with the target shifted for
/// teacher forcing.
#[derive(Debug, Clone)]
pub struct PairBatch {
    /// The sources, `[batch, src_len]`.
    pub source: Batch,
    /// `start` followed by each target, `[batch, tgt_len]`: the decoder's inputs.
    pub target_in: Batch,
    /// Each target followed by `end`, `[batch, tgt_len]`: what it must predict.
    pub target_out: Batch,
}

impl PairBatch {
    /// Pads `pairs` of token ids (targets without start and end tokens).
    pub fn new<S: AsRef<[usize]>, T: AsRef<[usize]>>(
        pairs: &[(S, T)],
        start_id: usize,
        end_id: usize,
        pad_id: usize,
    ) -> PairBatch {
        let sources: Vec<&[usize]> = pairs.iter().map(|(s, _)| s.as_ref()).collect();
        let shifted = |first: Option<usize>, last: Option<usize>| -> Vec<Vec<usize>> {
            pairs
                .iter()
                .map(|(_, t)| {
                    first
                        .into_iter()
                        .chain(t.as_ref().iter().copied())
                        .chain(last)
                        .collect()
                })
                .collect()
        };
        PairBatch {
            source: pad(&sources, pad_id),
            target_in: pad(&shifted(Some(start_id), None), pad_id),
            target_out: pad(&shifted(None, Some(end_id)), pad_id),
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.source.batch
    }

    /// Whether the batch holds no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of target tokens the loss counts (end tokens included).
    pub fn target_tokens(&self) -> usize {
        self.target_out.lengths.iter().sum()
    }
}
