#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! - Vocabularies: [`CharVocab`] (one id per character) and [`WordVocab`]
//!   (specials at fixed ids, a `min_count` threshold), with counts,
//!   encode/decode and JSON files; [`tokenize`] for captions and sentences.
//! - [`log_frequency_bias`]: an output layer's initial bias from counts.
//! - Batching: [`pad`] into a [`Batch`] (ids and mask tensors, `[batch,
//!   time]`), [`Batcher`] (deterministic shuffling from a seed, optional
//!   bucketing by length), [`BpttWindows`] (contiguous truncated-BPTT windows
//!   over a token stream), [`SplitMix64`] (the generator behind the shuffle).
//! - Readers: [`read_text`], [`read_parallel`], [`read_flickr_captions`],
//!   [`read_karpathy_split`], [`read_npy`] (float16/32/64, C or Fortran
//!   order, as row-major float32; [`write_npy`] beside it). Each bad input is
//!   a [`DataError`] that names the file and the line, byte offset or row.

mod batch;
mod bias;
mod error;
mod npy;
mod read;
mod rng;
mod vocab;

pub use batch::{Batch, Batcher, BpttWindows, Window, pad};
pub use bias::{MIN_FREQUENCY, log_frequency_bias};
pub use error::DataError;
pub use npy::{NpyMatrix, read_npy, write_npy};
pub use read::{
    FlickrCaption, KarpathyImage, KarpathySentence, KarpathySplit, Split, read_flickr_captions,
    read_karpathy_split, read_parallel, read_text, write_atomically,
};
pub use rng::SplitMix64;
pub use vocab::{CharVocab, WordVocab, tokenize};
