//! From a configuration to the data and the model, and what training and
//! evaluation compute with them: losses over captions, captions of images.

use std::fmt::Write as _;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use clap::ValueEnum;
use recur_caption::shapes::{ShapesConfig, generate};
use recur_caption::{
    CaptionData, CaptionDecoderConfig, CaptionModel, CnnEncoderConfig, Encoder,
    FeatureEncoderConfig, ImageEncoder, PretrainedEncoderConfig, read_features,
};
use recur_data::{Split, WordVocab, log_frequency_bias, pad, tokenize};
use recur_seq2seq::search::{Hypothesis, SearchConfig};
use recur_train::{AppError, Context};
use recur_vision::{EfficientNetLite0, IMAGE_SIZE};
use serde::{Deserialize, Serialize};

use crate::Config;

/// Images decoded together at evaluation.
const EVAL_BATCH: usize = 64;

/// Which image encoder the model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// A small CNN trained end to end (needs pictures: the shapes set).
    Cnn,
    /// EfficientNet-Lite0 with its ImageNet weights (`--weights`), frozen,
    /// run on every batch (needs pictures: the shapes set).
    Pretrained,
    /// A linear map of precomputed features (or of raw pixels on shapes).
    /// For real photos, `cargo xtask features` writes EfficientNet-Lite0's
    /// features once for `--features DIR`.
    Features,
}

impl Config {
    /// The encoder, its default resolved from the data.
    pub fn encoder_kind(&self) -> EncoderKind {
        self.encoder.unwrap_or(if self.features.is_some() {
            EncoderKind::Features
        } else {
            EncoderKind::Cnn
        })
    }

    /// Whether the decoder attends, its default resolved from the encoder.
    pub fn attends(&self) -> bool {
        self.attention
            .unwrap_or(self.encoder_kind() != EncoderKind::Features)
    }

    /// The data set: precomputed features, or the generated shapes.
    pub fn data(&self) -> Result<CaptionData, AppError> {
        Ok(match &self.features {
            Some(dir) => read_features(
                &dir.join("features.npy"),
                &dir.join("image_captions.token"),
                self.split.as_deref(),
            )?,
            None => generate(
                &ShapesConfig::new()
                    .with_train(self.shapes_train)
                    .with_valid(self.shapes_eval)
                    .with_test(self.shapes_eval)
                    .with_seed(self.shapes_seed),
            ),
        })
    }

    /// A freshly initialised model for `data` and `vocab`; the flags that do
    /// not fit the data are errors.
    pub fn model(
        &self,
        data: &CaptionData,
        vocab: &WordVocab,
        device: &Device,
    ) -> Result<CaptionModel, AppError> {
        let encoder = match self.encoder_kind() {
            EncoderKind::Features => Encoder::Features(
                FeatureEncoderConfig::new(data.input_size, self.embedding).init(device),
            ),
            EncoderKind::Cnn => Encoder::Cnn(
                CnnEncoderConfig::new(self.picture_side(data)?, self.embedding)
                    .with_channels(self.channels)
                    .init(device),
            ),
            EncoderKind::Pretrained => {
                let side = self.picture_side(data)?;
                let net = EfficientNetLite0::load(&self.weights, device).map_err(|e| {
                    format!("--weights {e} (run `cargo xtask data fetch efficientnet-lite0`)")
                })?;
                Encoder::Pretrained(
                    PretrainedEncoderConfig::new(side, self.embedding)
                        .with_network_size(self.network_size)
                        .init(net, device),
                )
            }
        };
        let grid = match (self.attends(), encoder.grid_channels()) {
            (false, _) => None,
            (true, Some(channels)) => Some(channels),
            (true, None) => {
                return Err(
                    "--attention needs an encoder with a feature grid (cnn or pretrained), not feature vectors"
                        .into(),
                );
            }
        };
        let decoder = CaptionDecoderConfig::new(vocab.len())
            .with_embed(self.embedding)
            .with_hidden(self.hidden)
            .with_attention(grid)
            .with_attention_hidden(self.attention_hidden)
            .init(device)
            .with_output_bias(&log_frequency_bias(vocab.counts()))?;
        CaptionModel::new(encoder, decoder).context("--attention")
    }

    /// The side of the data's square pictures, for the encoders that need
    /// pictures.
    fn picture_side(&self, data: &CaptionData) -> Result<usize, AppError> {
        data.image_size.ok_or_else(|| {
            let kind = self.encoder_kind().to_possible_value();
            format!(
                "--encoder {} needs pictures, but --features gives feature vectors (use --encoder features)",
                kind.as_ref().map_or("", |v| v.get_name())
            )
            .into()
        })
    }
}

/// `--weights`' default in configurations saved without it.
pub fn default_weights() -> PathBuf {
    crate::features::DEFAULT_WEIGHTS.into()
}

/// `--network-size`'s default in configurations saved without it.
pub fn default_network_size() -> usize {
    IMAGE_SIZE
}

/// Every caption of the images of one split.
pub struct Captions {
    /// The image of each caption.
    pub images: Vec<usize>,
    /// Each caption encoded (`<start> words <end>`).
    pub ids: Vec<Vec<usize>>,
}

impl Captions {
    /// The captions of the images in `split`.
    pub fn of(data: &CaptionData, vocab: &WordVocab, split: Split) -> Captions {
        let mut captions = Captions {
            images: Vec::new(),
            ids: Vec::new(),
        };
        for i in data.split(split) {
            for caption in &data.images[i].captions {
                captions.images.push(i);
                captions.ids.push(vocab.encode_sentence(&tokenize(caption)));
            }
        }
        captions
    }

    /// The mean masked cross-entropy of the captions at `indices` (padded
    /// together, each with its image), and the number of tokens it averages:
    /// every word and the end token.
    pub fn loss(
        &self,
        model: &CaptionModel,
        data: &CaptionData,
        indices: &[usize],
        device: &Device,
    ) -> (Tensor<1>, usize) {
        let captions: Vec<&[usize]> = indices.iter().map(|&k| self.ids[k].as_slice()).collect();
        let batch = pad(&captions, WordVocab::PAD);
        let images: Vec<usize> = indices.iter().map(|&k| self.images[k]).collect();
        let tokens = batch.lengths.iter().map(|l| l - 1).sum();
        (
            model.loss(data.inputs_tensor(&images, device), &batch),
            tokens,
        )
    }

    /// The mean masked cross-entropy per token over all the captions; NaN
    /// without any.
    pub fn mean_loss(&self, model: &CaptionModel, data: &CaptionData, device: &Device) -> f64 {
        let (mut total, mut weight) = (0.0, 0.0);
        let all: Vec<usize> = (0..self.ids.len()).collect();
        for indices in all.chunks(EVAL_BATCH) {
            let (loss, tokens) = self.loss(model, data, indices, device);
            total += f64::from(loss.into_scalar::<f32>()) * tokens as f64;
            weight += tokens as f64;
        }
        if weight > 0.0 {
            total / weight
        } else {
            f64::NAN
        }
    }
}

/// Greedy search (`beam` 1) or beam search for captions of up to `max_len`
/// words.
pub fn search(max_len: usize, beam: usize) -> SearchConfig {
    let mut search = SearchConfig::new(WordVocab::START, WordVocab::END, max_len + 1);
    search.beam_size = beam;
    search
}

/// Captions of the images at `indices`, decoded in batches.
pub fn caption_images(
    model: &CaptionModel,
    data: &CaptionData,
    indices: &[usize],
    search: &SearchConfig,
    device: &Device,
) -> Vec<Hypothesis> {
    indices
        .chunks(EVAL_BATCH)
        .flat_map(|rows| model.caption(data.inputs_tensor(rows, device), search))
        .collect()
}

/// Greedy captions of the first four validation images beside their first
/// reference: the samples written after every epoch.
pub fn samples(
    model: &CaptionModel,
    data: &CaptionData,
    vocab: &WordVocab,
    max_len: usize,
    device: &Device,
) -> String {
    let valid = data.split(Split::Val);
    let shown = &valid[..valid.len().min(4)];
    let mut text = String::new();
    for (&i, hypothesis) in shown.iter().zip(caption_images(
        model,
        data,
        shown,
        &search(max_len, 1),
        device,
    )) {
        let _ = writeln!(
            text,
            "{}\n  generated: {}\n  reference: {}",
            data.images[i].name,
            vocab.decode_sentence(&hypothesis.tokens),
            data.images[i].captions.first().map_or("", String::as_str)
        );
    }
    text
}

impl recur_train::AppConfig for Config {
    fn train_flags(&self) -> &recur_train::TrainFlags {
        &self.train
    }

    /// The sizes and rates a user can get wrong, each error naming its flag.
    fn validate(&self) -> Result<(), recur_train::TrainError> {
        recur_train::check::sizes(&[
            ("min-count", self.min_count as usize),
            ("embedding", self.embedding),
            ("hidden", self.hidden),
            ("channels", self.channels),
            ("attention-hidden", self.attention_hidden),
            ("shapes-train", self.shapes_train),
            ("shapes-eval", self.shapes_eval),
            ("network-size", self.network_size),
            ("beam", self.beam),
            ("max-len", self.max_len),
        ])?;
        Ok(())
    }
}
