//! Attention: a decoder state (the query) scores every encoder state (the
//! keys); the softmax of the scores weights the encoder states into one
//! context vector.
//!
//! Three scores, one trait ([`Attention`]):
//!
//! - [`Additive`] (Bahdanau et al., 2015): `score(q, k) = v · tanh(W_q q + W_k k)`.
//! - [`Dot`] (Luong et al., 2015): `score(q, k) = q · k`.
//! - [`General`] (Luong et al., 2015): `score(q, k) = q · (W k)`.
//!
//! Whatever depends on the keys alone (`W_k k`, `W k`) is computed once per
//! source sequence by [`Attention::keys`], not once per decoder step.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use recur_cells::additive_scores;
use serde::{Deserialize, Serialize};

/// The score added at padded positions before the softmax: finite, so a
/// fully padded row cannot produce NaN, and low enough that `exp` of it
/// underflows to exactly 0 (real scores are many orders of magnitude
/// smaller).
const MASKED_SCORE: f32 = -1.0e9;

/// Per-source state, computed once per source sequence by [`Attention::keys`]
/// and read at every decoder step.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The encoder states the context averages, `[batch, src_len, key_dim]`.
    pub values: Tensor<3>,
    /// The keys as the score compares them with a query,
    /// `[batch, src_len, features]` (`features` depends on the attention).
    pub projected: Tensor<3>,
    /// Added to the scores before the softmax, `[batch, src_len]`: 0 at
    /// real positions, a large negative number at padding (`None`: no
    /// padding). Kept as floats rather than the boolean mask because
    /// selecting rows of boolean tensors (beam search) is not supported by
    /// every backend (burn-flex 0.22).
    pub padding: Option<Tensor<2>>,
}

impl Keys {
    /// `[batch, src_len]` of the source.
    pub fn dims(&self) -> [usize; 2] {
        let [batch, src_len, _] = self.values.dims();
        [batch, src_len]
    }

    /// Keeps or repeats rows `indices` (`[m]`, values < batch) of every
    /// tensor: how beam search gives each hypothesis its source.
    pub fn select(&self, indices: Tensor<1, Int>) -> Keys {
        Keys {
            values: self.values.clone().select(0, indices.clone()),
            projected: self.projected.clone().select(0, indices.clone()),
            padding: self
                .padding
                .clone()
                .map(|padding| padding.select(0, indices)),
        }
    }
}

/// Output of one attention step.
#[derive(Debug, Clone)]
pub struct Attended {
    /// The weighted sum of the encoder states, `[batch, key_dim]`.
    pub context: Tensor<2>,
    /// The attention weights, `[batch, src_len]`: each row sums to 1 and
    /// padded positions are exactly 0.
    pub weights: Tensor<2>,
}

/// An attention mechanism: scores encoder states against a decoder state.
pub trait Attention {
    /// Prepares the keys of a source batch.
    ///
    /// - encoder: `[batch, src_len, key_dim]`
    /// - mask: `[batch, src_len]`, true at real positions (`None`: all real)
    fn keys(&self, encoder: Tensor<3>, mask: Option<Tensor<2, Bool>>) -> Keys;

    /// One attention step.
    ///
    /// - query: `[batch, query_dim]`, the decoder state
    fn attend(&self, query: Tensor<2>, keys: &Keys) -> Attended;
}

/// The masked softmax of `scores` (`[batch, src_len]`) and the context it
/// weights: the part every attention shares.
fn weigh(scores: Tensor<2>, keys: &Keys) -> Attended {
    let scores = match &keys.padding {
        Some(padding) => scores + padding.clone(),
        None => scores,
    };
    let weights = softmax(scores, 1);
    let [batch, _, key_dim] = keys.values.dims();
    // [batch, 1, src_len] @ [batch, src_len, key_dim] -> [batch, 1, key_dim]
    let context = weights
        .clone()
        .unsqueeze_dim::<3>(1)
        .matmul(keys.values.clone())
        .reshape([batch, key_dim]);
    Attended { context, weights }
}

/// The score added at each position: 0 where `mask` is true, [`MASKED_SCORE`]
/// where it is false.
fn padding_scores(mask: Option<Tensor<2, Bool>>) -> Option<Tensor<2>> {
    mask.map(|mask| mask.bool_not().float() * MASKED_SCORE)
}

/// `[batch, src_len, features] · [batch, features]` -> `[batch, src_len]`.
fn dot_scores(projected: &Tensor<3>, query: Tensor<2>) -> Tensor<2> {
    let [batch, src_len, _] = projected.dims();
    projected
        .clone()
        .matmul(query.unsqueeze_dim::<3>(2))
        .reshape([batch, src_len])
}

/// Configuration of [`Additive`] attention.
#[derive(Config, Debug)]
pub struct AdditiveConfig {
    /// Features of the query (the decoder state).
    pub query_dim: usize,
    /// Features of each encoder state.
    pub key_dim: usize,
    /// Features of the hidden layer the score is computed in.
    pub hidden: usize,
}

impl AdditiveConfig {
    /// Builds the attention with burn's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> Additive {
        Additive {
            query: LinearConfig::new(self.query_dim, self.hidden)
                .with_bias(false)
                .init(device),
            key: LinearConfig::new(self.key_dim, self.hidden).init(device),
            score: LinearConfig::new(self.hidden, 1)
                .with_bias(false)
                .init(device),
        }
    }
}

/// Additive attention (Bahdanau et al., 2015, eq. 6 and appendix A.1.2):
/// `score(q, k) = v · tanh(W_q q + W_k k + b)`.
#[derive(Module, Debug)]
pub struct Additive {
    /// `W_q`, `[query_dim] -> [hidden]`.
    pub query: Linear,
    /// `W_k` and `b`, `[key_dim] -> [hidden]`.
    pub key: Linear,
    /// `v`, `[hidden] -> [1]`, without a bias.
    pub score: Linear,
}

impl Attention for Additive {
    fn keys(&self, encoder: Tensor<3>, mask: Option<Tensor<2, Bool>>) -> Keys {
        Keys {
            projected: self.key.forward(encoder.clone()),
            values: encoder,
            padding: padding_scores(mask),
        }
    }

    fn attend(&self, query: Tensor<2>, keys: &Keys) -> Attended {
        // v · tanh(W_k k + b + W_q q) in one fused op: composed from burn's
        // ops the tanh took a fifth of the translate app's training time.
        let query = self.query.forward(query);
        let [hidden, _] = self.score.weight.dims();
        let v = self.score.weight.val().reshape([hidden]);
        // A bias of `score` (`AdditiveConfig` builds none) would add the
        // same constant to every score, which the softmax cancels.
        weigh(additive_scores(keys.projected.clone(), query, v), keys)
    }
}

/// Configuration of [`Dot`] attention.
#[derive(Config, Debug)]
pub struct DotConfig {
    /// Whether scores are divided by `sqrt(key_dim)` (Vaswani et al., 2017);
    /// Luong's dot score is unscaled.
    #[config(default = false)]
    pub scaled: bool,
}

impl DotConfig {
    /// Builds the (parameter-free) attention.
    pub fn init(&self) -> Dot {
        Dot {
            scaled: self.scaled,
        }
    }
}

/// Dot-product attention (Luong et al., 2015, eq. 8): `score(q, k) = q · k`;
/// the query and the keys must have the same number of features.
#[derive(Module, Debug)]
pub struct Dot {
    /// Whether scores are divided by `sqrt(key_dim)`.
    pub scaled: bool,
}

impl Attention for Dot {
    fn keys(&self, encoder: Tensor<3>, mask: Option<Tensor<2, Bool>>) -> Keys {
        let [_, _, key_dim] = encoder.dims();
        let projected = if self.scaled {
            encoder.clone() / (key_dim as f64).sqrt()
        } else {
            encoder.clone()
        };
        Keys {
            values: encoder,
            projected,
            padding: padding_scores(mask),
        }
    }

    fn attend(&self, query: Tensor<2>, keys: &Keys) -> Attended {
        weigh(dot_scores(&keys.projected, query), keys)
    }
}

/// Configuration of [`General`] attention.
#[derive(Config, Debug)]
pub struct GeneralConfig {
    /// Features of the query (the decoder state).
    pub query_dim: usize,
    /// Features of each encoder state.
    pub key_dim: usize,
}

impl GeneralConfig {
    /// Builds the attention with burn's default `Linear` initialisation.
    pub fn init(&self, device: &Device) -> General {
        General {
            key: LinearConfig::new(self.key_dim, self.query_dim)
                .with_bias(false)
                .init(device),
        }
    }
}

/// General (bilinear) attention (Luong et al., 2015, eq. 8):
/// `score(q, k) = q · (W k)`.
#[derive(Module, Debug)]
pub struct General {
    /// `W`, `[key_dim] -> [query_dim]`, applied to the keys once per source.
    pub key: Linear,
}

impl Attention for General {
    fn keys(&self, encoder: Tensor<3>, mask: Option<Tensor<2, Bool>>) -> Keys {
        Keys {
            projected: self.key.forward(encoder.clone()),
            values: encoder,
            padding: padding_scores(mask),
        }
    }

    fn attend(&self, query: Tensor<2>, keys: &Keys) -> Attended {
        weigh(dot_scores(&keys.projected, query), keys)
    }
}

/// Which attention score; the value of an app's `--attention` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttentionKind {
    /// [`Additive`] (Bahdanau); spelt `bahdanau` or `additive`.
    Additive,
    /// [`Dot`] (Luong); spelt `dot`.
    Dot,
    /// [`General`] (Luong); spelt `general`.
    General,
}

impl std::fmt::Display for AttentionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AttentionKind::Additive => "bahdanau",
            AttentionKind::Dot => "dot",
            AttentionKind::General => "general",
        })
    }
}

impl std::str::FromStr for AttentionKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bahdanau" | "additive" => Ok(AttentionKind::Additive),
            "dot" => Ok(AttentionKind::Dot),
            "general" | "luong" => Ok(AttentionKind::General),
            other => Err(format!(
                "unknown attention `{other}` (expected bahdanau, dot or general)"
            )),
        }
    }
}

/// Configuration of an attention chosen at run time: an [`AnyAttention`].
#[derive(Config, Debug)]
pub struct AttentionConfig {
    /// Which score.
    pub kind: AttentionKind,
    /// Features of the query (the decoder state).
    pub query_dim: usize,
    /// Features of each encoder state; must equal `query_dim` for
    /// [`AttentionKind::Dot`].
    pub key_dim: usize,
    /// Hidden features of [`AttentionKind::Additive`] (unused by the others).
    pub hidden: usize,
}

impl AttentionConfig {
    /// Builds the chosen attention.
    ///
    /// # Errors
    ///
    /// [`AttentionError::DotDims`] when a dot attention's query and keys
    /// differ in size.
    pub fn init(&self, device: &Device) -> Result<AnyAttention, AttentionError> {
        Ok(match self.kind {
            AttentionKind::Additive => AnyAttention::Additive(
                AdditiveConfig::new(self.query_dim, self.key_dim, self.hidden).init(device),
            ),
            AttentionKind::Dot => {
                if self.query_dim != self.key_dim {
                    return Err(AttentionError::DotDims {
                        query_dim: self.query_dim,
                        key_dim: self.key_dim,
                    });
                }
                AnyAttention::Dot(DotConfig::new().init())
            }
            AttentionKind::General => {
                AnyAttention::General(GeneralConfig::new(self.query_dim, self.key_dim).init(device))
            }
        })
    }
}

/// An invalid attention configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttentionError {
    /// Dot attention compares the query with the keys directly.
    #[error(
        "dot attention needs a query as wide as the keys (query {query_dim}, keys {key_dim}); use bahdanau or general"
    )]
    DotDims {
        /// Features of the query.
        query_dim: usize,
        /// Features of each key.
        key_dim: usize,
    },
}

/// One of the three attentions, chosen at run time.
// One per model, built once: the size of the additive variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum AnyAttention {
    /// See [`Additive`].
    Additive(Additive),
    /// See [`Dot`].
    Dot(Dot),
    /// See [`General`].
    General(General),
}

impl Attention for AnyAttention {
    fn keys(&self, encoder: Tensor<3>, mask: Option<Tensor<2, Bool>>) -> Keys {
        match self {
            AnyAttention::Additive(a) => a.keys(encoder, mask),
            AnyAttention::Dot(a) => a.keys(encoder, mask),
            AnyAttention::General(a) => a.keys(encoder, mask),
        }
    }

    fn attend(&self, query: Tensor<2>, keys: &Keys) -> Attended {
        match self {
            AnyAttention::Additive(a) => a.attend(query, keys),
            AnyAttention::Dot(a) => a.attend(query, keys),
            AnyAttention::General(a) => a.attend(query, keys),
        }
    }
}

/// The `[batch, src_len]` mask of a padded batch: true where position `t`
/// is before sequence `b`'s length.
pub fn length_mask(lengths: &[usize], src_len: usize, device: &Device) -> Tensor<2, Bool> {
    let values: Vec<bool> = lengths
        .iter()
        .flat_map(|&length| (0..src_len).map(move |t| t < length))
        .collect();
    Tensor::from_data(TensorData::new(values, [lengths.len(), src_len]), device)
}
