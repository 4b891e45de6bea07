#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! - BLEU: [`corpus_bleu`] and [`sentence_bleu`] with sacrebleu's defaults;
//!   [`BleuConfig`] for the other settings ([`Tokenizer`], [`Smoothing`],
//!   lowercasing, effective order); [`Bleu`], the score with its
//!   statistics; [`BleuStats`], sufficient statistics that add up over a
//!   corpus.
//! - [`tokenize_13a`]: sacrebleu's default tokenizer on its own.
//! - Language models: [`perplexity`] and [`bits_per_char`] from a mean
//!   negative log-likelihood in nats.
//! - [`EvalError`]: malformed inputs (no hypotheses, no references, streams
//!   of the wrong length, a bad smoothing value).

mod bleu;
mod error;
mod lm;
mod tokenize;

pub use bleu::{
    Bleu, BleuConfig, BleuStats, MAX_NGRAM_ORDER, Smoothing, Tokenizer, corpus_bleu, sentence_bleu,
};
pub use error::EvalError;
pub use lm::{bits_per_char, perplexity};
pub use tokenize::tokenize_13a;
