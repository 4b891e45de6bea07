//! caption: the chapter's image captioner. An image encoder turns a picture
//! into one vector, the LSTM reads it as its first input and then writes the
//! caption word by word.
//!
//! ```text
//! cargo xtask train caption [--backend wgpu] [--attention] [--encoder cnn|pretrained|features]
//! cargo xtask train caption --features DIR [--split dataset.json]
//! cargo xtask train caption --resume runs/caption/<timestamp> [--epochs 12]
//! cargo run -p caption -- caption --run runs/caption/<timestamp> [--beam 3]
//! cargo run -p caption -- features --images DIR --out DIR   # pretrained CNN features
//! ```

mod features;
mod model;
mod report;
mod task;

use std::path::PathBuf;

use clap::{Args, Parser};
use recur_data::{Split, WordVocab};
use recur_train::{AppError, Backend, Defaults, RunConfig, RunDir, TrainFlags, load_best};
use recur_vision::IMAGE_SIZE;
use serde::{Deserialize, Serialize};

use crate::model::{EncoderKind, caption_images};
use crate::task::CaptionTask;

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The system's name: its runs are `runs/caption/<timestamp>/`.
const SYSTEM: &str = "caption";

const DEFAULTS: Defaults = Defaults {
    epochs: 8,
    batch: 32,
    lr: 3e-3,
    lr_decay: 0.8,
    clip: 5.0,
};

#[derive(Parser)]
#[command(
    name = "caption",
    about = "Image captioning: show and tell, with optional soft attention"
)]
enum Cli {
    /// Train on the generated shapes (default) or on precomputed features,
    /// or resume a run; ends with test BLEU, samples and an HTML page from
    /// the best model (lowest validation loss).
    Train(Config),
    /// Caption the images of a run's data split with its best model.
    Caption(CaptionArgs),
    /// Turn a folder of images into `features.npy` + `image_captions.token`
    /// with the pretrained EfficientNet-Lite0, for `train --features`.
    Features(features::FeaturesArgs),
}

/// Everything that defines a training run; written to the run's config.json.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
struct Config {
    /// Folder with `features.npy` (float16/32/64, C or Fortran order, one
    /// row per image) and `image_captions.token`; default: the generated
    /// shapes.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Karpathy split JSON for `--features` (default: every 9th image
    /// validation, every 10th test).
    #[arg(long, requires = "features")]
    split: Option<PathBuf>,
    /// Image encoder (default: cnn on shapes, features with --features).
    #[arg(long, value_enum)]
    encoder: Option<EncoderKind>,
    /// EfficientNet-Lite0's weights for `--encoder pretrained`
    /// (`cargo xtask data fetch efficientnet-lite0`).
    #[arg(long, default_value = features::DEFAULT_WEIGHTS)]
    #[serde(default = "model::default_weights")]
    weights: PathBuf,
    /// `--encoder pretrained`: the side pictures are resized to before the
    /// network (it was trained at 224; the attention grid has a cell per 32
    /// pixels, and the cost grows with the square of the side).
    #[arg(long, default_value_t = IMAGE_SIZE)]
    #[serde(default = "model::default_network_size")]
    network_size: usize,
    /// Soft attention over the encoder's feature grid (show, attend and
    /// tell): `--attention` or `--attention true` turns it on, `--attention
    /// false` gives plain show-and-tell (default: on with the CNNs, which
    /// have a grid).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    attention: Option<bool>,
    /// Keep words seen at least this often in the training captions.
    #[arg(long, default_value_t = 2)]
    min_count: u64,
    /// Word (and image) embedding size.
    #[arg(long, default_value_t = 64)]
    #[serde(alias = "embed")] // its name in runs saved before 2026-12-04
    embedding: usize,
    /// LSTM hidden units.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Channels of the CNN's first convolution (then 2x and 4x).
    #[arg(long, default_value_t = 8)]
    channels: usize,
    /// Hidden units of the attention score.
    #[arg(long, default_value_t = 64)]
    attention_hidden: usize,
    /// Generated shapes: training pictures.
    #[arg(long, default_value_t = 2000)]
    shapes_train: usize,
    /// Generated shapes: validation and test pictures (each).
    #[arg(long, default_value_t = 200)]
    shapes_eval: usize,
    /// Generated shapes: the generator's seed.
    #[arg(long, default_value_t = 7)]
    shapes_seed: u64,
    /// Beam width of the final evaluation (beside greedy).
    #[arg(long, default_value_t = 3)]
    beam: usize,
    /// Longest caption generated, in words.
    #[arg(long, default_value_t = 20)]
    max_len: usize,
    /// Test images shown in index.html.
    #[arg(long, default_value_t = 24)]
    show: usize,
    #[command(flatten)]
    #[serde(flatten)]
    train: TrainFlags,
}

#[derive(Args)]
struct CaptionArgs {
    /// The run folder.
    #[arg(long)]
    run: PathBuf,
    /// Which images: train, val or test.
    #[arg(long, default_value = "test", value_parser = parse_split)]
    split: Split,
    /// How many of them (0: all).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Beam width (1: greedy).
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
}

fn parse_split(s: &str) -> Result<Split, String> {
    match s {
        "train" => Ok(Split::Train),
        "val" | "valid" => Ok(Split::Val),
        "test" => Ok(Split::Test),
        other => Err(format!(
            "unknown split `{other}` (expected train, val or test)"
        )),
    }
}

fn main() {
    recur_train::run_cli(&DEFAULTS, |cli: Cli, matches| match cli {
        Cli::Train(config) => train(config, matches),
        Cli::Caption(args) => caption(args),
        Cli::Features(args) => features::run(args),
    });
}

fn train(given: Config, matches: &clap::ArgMatches) -> Result<(), AppError> {
    let RunConfig {
        mut config,
        resumed,
    } = RunConfig::resolve(SYSTEM, given, matches)?;
    if resumed.is_none() {
        // A new run saves the encoder and attention its data resolved.
        config.encoder = Some(config.encoder_kind());
        config.attention = Some(config.attends());
    }
    // The data and the model are built before a new run folder is made, so
    // bad input or flags that do not fit the data leave nothing behind.
    let mut task = CaptionTask::new(config.clone())?;
    let trained = recur_train::train(&mut task, &config.train, &config, resumed)?;
    // The leader reports on the best model; the other workers are done.
    let Some(run) = trained.run else {
        return Ok(());
    };
    let device = config.train.backend.device();
    let (model, _) = load_best(&run, config.model(&task.data, &task.vocab, &device)?)?;
    report::evaluate(&run, &config, &task.data, &task.vocab, &model, &device)
}

fn caption(args: CaptionArgs) -> Result<(), AppError> {
    recur_train::check::sizes(&[("beam", args.beam)])?;
    let device = args.backend.device();
    let run = RunDir::open(&args.run, SYSTEM)?;
    let config: Config = run.read_config()?;
    let vocab = WordVocab::load(run.path().join("vocab.json"))?;
    let data = config.data()?;
    let (model, _) = load_best(&run, config.model(&data, &vocab, &device)?)?;
    let mut indices = data.split(args.split);
    if args.count > 0 {
        indices.truncate(args.count);
    }
    let search = model::search(config.max_len, args.beam);
    for (&i, hypothesis) in indices
        .iter()
        .zip(caption_images(&model, &data, &indices, &search, &device))
    {
        let image = &data.images[i];
        println!(
            "{}\t{}",
            image.name,
            vocab.decode_sentence(&hypothesis.tokens)
        );
    }
    Ok(())
}
