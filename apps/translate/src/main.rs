//! translate: the chapter's encoder-decoder with attention. An RNN encoder
//! reads a German sentence, an RNN decoder writes its English translation,
//! and attention lets the decoder look back at every source word.
//!
//! ```text
//! cargo xtask train translate [--backend flex] [--attention bahdanau|dot|general] [--data DIR] ...
//! cargo xtask train translate --resume runs/translate/<timestamp> [--epochs 20]
//! cargo xtask translate --run runs/translate/<timestamp> "Wie geht es dir?" [--beam 5]
//! ```

mod data;
mod eval;
mod task;

use std::path::PathBuf;

use burn::tensor::{Int, Tensor, TensorData};
use clap::{Args, Parser};
use data::{Data, load_vocabs};
use eval::{draw_attention, max_len, search_config};
use recur_cells::CellKind;
use recur_data::tokenize;
use recur_seq2seq::attention::AttentionKind;
use recur_seq2seq::search::{SearchConfig, beam_search, greedy};
use recur_train::{AppError, Backend, Defaults, RunConfig, RunDir, TrainFlags, check, load_best};
use serde::{Deserialize, Serialize};
use task::{TranslateTask, model_config};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The system's name: its runs are `runs/translate/<timestamp>/`.
const SYSTEM: &str = "translate";

/// The sentence pairs used when `--data` is not given.
const DEFAULT_DATA: &str = "datasets/de-en-short";
const DEFAULTS: Defaults = Defaults {
    epochs: 10,
    batch: 32,
    lr: 2e-3,
    lr_decay: 0.9,
    clip: 5.0,
};

#[derive(Parser)]
#[command(
    name = "translate",
    about = "Neural machine translation with attention"
)]
enum Cli {
    /// Train on sentence pairs (default: the embedded short German-English
    /// pairs), or resume a run; ends with test BLEU and attention pictures.
    Train(Config),
    /// Translate sentences with a run's best model (highest validation BLEU).
    Translate(TranslateArgs),
}

/// Everything that defines a training run; written to the run's config.json.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
struct Config {
    /// Folder with `train.tsv`, `valid.tsv` and `test.tsv` (source TAB target).
    #[arg(long, default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// Attention score: bahdanau (additive), dot or general.
    #[arg(long, default_value = "bahdanau", value_parser = parse::<AttentionKind>)]
    attention: AttentionKind,
    /// Recurrent cell of encoder and decoder: gru or lstm.
    #[arg(long, default_value = "gru", value_parser = parse::<CellKind>)]
    cell: CellKind,
    /// Stacked layers in encoder and decoder.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Hidden units per encoder direction (the decoder has directions x hidden).
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Size of the word embeddings.
    #[arg(long, default_value_t = 128)]
    embedding: usize,
    /// Read the source left to right only (default: both directions).
    #[arg(long)]
    unidirectional: bool,
    /// Tie the decoder's output layer to its input embedding (needs
    /// embedding = directions x hidden).
    #[arg(long)]
    tie_embeddings: bool,
    /// Dropout on the word embeddings, between stacked encoder layers and
    /// on the attentional vector (training only).
    #[arg(long, default_value_t = 0.3)]
    dropout: f64,
    /// Probability of feeding the reference previous word (else the
    /// decoder's own guess) at each training step.
    #[arg(long, default_value_t = 1.0)]
    teacher_forcing: f64,
    /// Words seen fewer times in the training data become `<unk>`.
    #[arg(long, default_value_t = 1)]
    min_count: u64,
    /// Beam size of the test evaluation's beam search.
    #[arg(long, default_value_t = 5)]
    beam: usize,
    /// GNMT length penalty alpha of the beam search (0: none).
    #[arg(long, default_value_t = 0.6)]
    length_penalty: f32,
    /// Test sentences whose attention is drawn (`plots/attention-<i>.png`).
    #[arg(long, default_value_t = 4)]
    heatmaps: usize,
    /// Start from these weights instead of a seeded draw: the state dict of
    /// the PyTorch reference (`reference/seq2seq.py --save-init`) on the same
    /// data and sizes. The reference has one architecture, this app's
    /// default one. Two programs started from the same weights differ only
    /// in how they train.
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    train: TrainFlags,
}

#[derive(Args)]
struct TranslateArgs {
    /// The run folder to translate with.
    #[arg(long)]
    run: PathBuf,
    /// Beam size; 1 is greedy decoding.
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// Translations printed per sentence, best first (at most --beam).
    #[arg(long, default_value_t = 1)]
    n_best: usize,
    /// GNMT length penalty alpha (0: none).
    #[arg(long, default_value_t = 0.6)]
    length_penalty: f32,
    /// Also draw the first sentence's attention into this PNG file.
    #[arg(long)]
    heatmap: Option<PathBuf>,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// The sentences to translate.
    #[arg(required = true)]
    sentences: Vec<String>,
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

fn main() {
    recur_train::run_cli(&DEFAULTS, |cli: Cli, matches| match cli {
        Cli::Train(config) => train(config, matches),
        Cli::Translate(args) => translate(args),
    });
}

fn train(given: Config, matches: &clap::ArgMatches) -> Result<(), AppError> {
    let RunConfig { config, resumed } = RunConfig::resolve(SYSTEM, given, matches)?;
    if !matches!(config.cell, CellKind::Gru | CellKind::Lstm) {
        return Err(format!("--cell must be gru or lstm, got {}", config.cell).into());
    }
    let data = Data::load(&config, resumed.as_ref())?;
    let mut task = TranslateTask::new(config.clone(), data, resumed.is_some())?;
    let trained = recur_train::train(&mut task, &config.train, &config, resumed)?;
    // Rank 0 alone tests the model of the epoch with the best validation BLEU.
    let Some(run) = trained.run else {
        return Ok(());
    };
    let (model, best) = load_best(&run, trained.model)?;
    eval::test(&model, &config, best.epoch, &task.data, &run)?;
    Ok(())
}

fn translate(args: TranslateArgs) -> Result<(), AppError> {
    check::sizes(&[("beam", args.beam)])?;
    let run = RunDir::open(&args.run, SYSTEM)?;
    let config: Config = run.read_config()?;
    let (source_vocab, target_vocab) = load_vocabs(&run)?;
    let device = args.backend.device();
    let (model, _) = load_best(
        &run,
        model_config(&config, &source_vocab, &target_vocab).init(&device)?,
    )?;
    let n_best = args.n_best.clamp(1, args.beam);
    let search = search_config(args.beam, args.length_penalty, n_best);
    for (i, sentence) in args.sentences.iter().enumerate() {
        let words = tokenize(sentence);
        if words.is_empty() {
            return Err(format!("sentence {} ({sentence:?}) has no words", i + 1).into());
        }
        let ids = source_vocab.encode(&words);
        let values: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        let source = Tensor::<2, Int>::from_data(TensorData::new(values, [1, ids.len()]), &device);
        let state = model.encode(source, &[ids.len()])?;
        let search = SearchConfig {
            max_len: max_len(ids.len()),
            ..search
        };
        let hypotheses = match args.beam {
            1 => greedy(&model, state, 1, &search),
            _ => beam_search(&model, state, 1, &search).remove(0),
        };
        for hypothesis in &hypotheses {
            let text = target_vocab.decode(&hypothesis.tokens).join(" ");
            match n_best {
                1 => println!("{text}"),
                _ => println!("{:.3}\t{text}", hypothesis.score),
            }
        }
        if let (0, Some(path), Some(best)) = (i, &args.heatmap, hypotheses.first()) {
            if best.tokens.is_empty() {
                eprintln!("note: the translation is empty, no attention to draw");
            } else {
                draw_attention(best, &words, &target_vocab, path)?;
            }
        }
    }
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
            ("min-count", self.min_count as usize),
            ("beam", self.beam),
        ])?;
        check::dropout("dropout", self.dropout)?;
        check::probability("teacher-forcing", self.teacher_forcing)?;
        check::non_negative("length-penalty", f64::from(self.length_penalty))?;
        Ok(())
    }
}
