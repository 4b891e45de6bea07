#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! - [`attention`]: the [`Attention`](attention::Attention) trait,
//!   [`Additive`](attention::Additive), [`Dot`](attention::Dot) and
//!   [`General`](attention::General), and
//!   [`AttentionConfig`](attention::AttentionConfig) to pick one at run time.
//! - [`model`]: [`Seq2Seq`] ([`Encoder`], [`Decoder`]), built by
//!   [`Seq2SeqConfig`]; [`PairBatch`], padded sentence pairs shifted for
//!   teacher forcing.
//! - [`search`]: [`greedy`](search::greedy) and
//!   [`beam_search`](search::beam_search) over a
//!   [`StepDecoder`](search::StepDecoder).
//! - [`torch`]: the parameters under the names of the translate app's
//!   PyTorch reference ([`Seq2Seq::torch_parameters`]), and loading its
//!   state dict ([`Seq2Seq::load_torch`]).
//! - [`Seq2SeqError`]: invalid configurations and inputs.

pub mod attention;
mod error;
pub mod model;
pub mod search;
pub mod torch;

pub use error::Seq2SeqError;
pub use model::{Decoder, DecoderState, Encoder, PairBatch, Seq2Seq, Seq2SeqConfig};
