#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! - [`shapes`]: the embedded data set, pictures of two coloured shapes
//!   drawn from a seed, with some colour-shape combinations held out of
//!   training ([`shapes::generate`]).
//! - [`CaptionData`]: images (model inputs, pictures, splits) and their
//!   captions; [`read_features`] reads the chapter's format
//!   (`features.npy`, `image_captions.token`, Karpathy split JSON).
//! - [`ImageEncoder`]: one trait, three kinds: [`FeatureEncoder`]
//!   (precomputed features, a linear map), [`CnnEncoder`] (a small CNN
//!   trained end to end, with a feature grid for attention) and
//!   [`PretrainedEncoder`] (EfficientNet-Lite0 with its ImageNet weights,
//!   frozen, with its 1280-channel grid for attention); [`Encoder`] picks
//!   one at run time.
//! - [`CaptionDecoder`]: the LSTM decoder, show-and-tell or with soft
//!   attention; a [`StepDecoder`](recur_seq2seq::search::StepDecoder) for
//!   greedy and beam search. [`masked_cross_entropy`] is its loss.
//! - [`CaptionModel`]: encoder and decoder together: loss of a batch,
//!   captions of images.

mod data;
mod decoder;
mod encoder;
mod error;
mod model;
pub mod shapes;

pub use data::{CaptionData, CaptionedImage, Picture, read_features};
pub use decoder::{
    CaptionDecoder, CaptionDecoderConfig, DecoderOutput, DecoderState, masked_cross_entropy,
};
pub use encoder::{
    CnnEncoder, CnnEncoderConfig, Encoded, Encoder, FeatureEncoder, FeatureEncoderConfig,
    ImageEncoder, PretrainedEncoder, PretrainedEncoderConfig,
};
pub use error::CaptionError;
pub use model::CaptionModel;
