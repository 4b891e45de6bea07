//! charlm: the chapter's character-level language model. An RNN reads text one
//! character at a time and learns to predict the next one.
//!
//! ```text
//! cargo xtask train charlm [--backend ndarray] [--cell lstm] [--layers 2] [--hidden 256] [--text FILE]
//! cargo xtask train charlm --resume runs/charlm/<timestamp> [--epochs 20]
//! cargo xtask sample charlm --run runs/charlm/<timestamp> --prime "Hamlet" --temperature 0.8 --length 500
//! ```

mod model;
mod task;

use std::path::PathBuf;

use clap::{Args, Parser};
use recur_cells::CellKind;
use recur_data::{CharVocab, read_text};
use recur_train::{AppError, Backend, Defaults, RunConfig, RunDir, TrainFlags, check, load_best};
use serde::{Deserialize, Serialize};

use crate::model::{CharLm, generate};
use crate::task::CharLmTask;

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The system's name: its runs are `runs/charlm/<timestamp>/`.
const SYSTEM: &str = "charlm";

/// The corpus used when `--text` is not given.
const DEFAULT_TEXT: &str = "datasets/hamlet/hamlet.txt";
const DEFAULTS: Defaults = Defaults {
    epochs: 10,
    batch: 32,
    lr: 2e-3,
    lr_decay: 0.95,
    clip: 5.0,
};

#[derive(Parser)]
#[command(name = "charlm", about = "Character-level RNN language model")]
enum Cli {
    /// Train on a text file (default: the embedded Hamlet), or resume a run.
    Train(Config),
    /// Generate text from a run's best model (lowest validation loss).
    Sample(SampleArgs),
}

/// Everything that defines a training run; written to the run's config.json.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
struct Config {
    /// Text file to train on (UTF-8).
    #[arg(long, default_value = DEFAULT_TEXT)]
    text: PathBuf,
    /// Recurrent cell: rnn, rnn-relu, lstm or gru.
    #[arg(long, default_value = "lstm", value_parser = parse_cell)]
    cell: CellKind,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Size of the character embedding.
    #[arg(long, default_value_t = 64)]
    embedding: usize,
    /// Dropout between layers.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Characters per truncated-BPTT window (`--batch` is the parallel streams).
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Fraction of the text (its end) held out for validation.
    #[arg(long, default_value_t = 0.1)]
    valid_fraction: f64,
    /// Start from these weights instead of a seeded draw: a PyTorch state
    /// dict of the same model saved as safetensors (`embedding.weight`,
    /// `rnn.weight_ih_l0`, ..., `output.weight`, `output.bias`), as
    /// `reference/charlm.py --save-init` writes it.
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    train: TrainFlags,
}

#[derive(Args)]
struct SampleArgs {
    /// The run folder to sample from.
    #[arg(long)]
    run: PathBuf,
    /// Text to start from.
    #[arg(long, default_value = "Hamlet")]
    prime: String,
    /// Softmax temperature: below 1 is more conservative.
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    length: usize,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Seed for sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn parse_cell(s: &str) -> Result<CellKind, String> {
    s.parse()
}

fn main() {
    recur_train::run_cli(&DEFAULTS, |cli: Cli, matches| match cli {
        Cli::Train(config) => train(config, matches),
        Cli::Sample(args) => sample(args),
    });
}

fn train(given: Config, matches: &clap::ArgMatches) -> Result<(), AppError> {
    let RunConfig { config, resumed } = RunConfig::resolve(SYSTEM, given, matches)?;
    let text = read_text(&config.text)?;
    let vocab = CharVocab::from_text(&text);
    let tokens = vocab.encode(&text)?;
    let split = ((tokens.len() as f64) * (1.0 - config.valid_fraction)) as usize;
    let mut task = CharLmTask {
        init: config.init.clone().filter(|_| resumed.is_none()),
        train: tokens[..split].to_vec(),
        valid: tokens[split..].to_vec(),
        config: config.clone(),
        vocab,
        carried: None,
    };
    recur_train::train(&mut task, &config.train, &config, resumed)?;
    Ok(())
}

fn sample(args: SampleArgs) -> Result<(), AppError> {
    let run = RunDir::open(&args.run, SYSTEM)?;
    let config: Config = run.read_config()?;
    let vocab = CharVocab::load(run.path().join("vocab.json"))?;
    let device = args.backend.device();
    let (model, _) = load_best(&run, CharLm::new(&config, vocab.len(), &device))?;
    let text = generate(
        &model,
        &vocab,
        &args.prime,
        args.length,
        args.temperature,
        args.seed,
        &device,
    )?;
    println!("{text}");
    Ok(())
}

impl recur_train::AppConfig for Config {
    fn train_flags(&self) -> &recur_train::TrainFlags {
        &self.train
    }

    /// The sizes and rates a user can get wrong, each error naming its flag.
    fn validate(&self) -> Result<(), recur_train::TrainError> {
        check::sizes(&[
            ("layers", self.layers),
            ("hidden", self.hidden),
            ("embedding", self.embedding),
            ("window", self.window),
        ])?;
        check::dropout("dropout", self.dropout)?;
        check::share("valid-fraction", self.valid_fraction)?;
        Ok(())
    }
}
