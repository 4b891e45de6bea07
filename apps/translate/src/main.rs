//! translate: the chapter's encoder-decoder with attention. An RNN encoder
//! reads a German sentence, an RNN decoder writes its English translation,
//! and attention lets the decoder look back at every source word.
//!
//! ```text
//! cargo xtask train translate [--backend flex] [--attention bahdanau|dot|general] [--data DIR] ...
//! cargo xtask train translate --resume runs/translate/<timestamp>
//! cargo xtask translate --run runs/translate/<timestamp> "Wie geht es dir?" [--beam 5]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Int, Tensor, TensorData};
use clap::{Args, Parser, Subcommand};
use recur_cells::CellKind;
use recur_data::{Batcher, SplitMix64, WordVocab, read_parallel, tokenize};
use recur_seq2seq::attention::AttentionKind;
use recur_seq2seq::search::{
    Hypothesis, SearchConfig, beam_search, beam_search_with_max_lens, greedy, greedy_with_max_lens,
};
use recur_seq2seq::{PairBatch, Seq2Seq, Seq2SeqConfig};
use recur_train::plot::{Heatmap, Series, heatmap, line_chart};
use recur_train::{
    Backend, Checkpointer, MetricsLog, Progress, RunDir, TrainingState, check_finite,
    clip_grad_norm, read_metrics,
};
use serde::{Deserialize, Serialize};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The sentence pairs used when `--data` is not given.
const DEFAULT_DATA: &str = "datasets/de-en-short";
const METRICS: [&str; 8] = [
    "epoch",
    "step",
    "train_loss",
    "valid_loss",
    "valid_perplexity",
    "valid_bleu",
    "sentences_per_second",
    "seconds",
];
/// Sentences decoded at once when evaluating.
const EVAL_BATCH: usize = 64;

#[derive(Parser)]
#[command(
    name = "translate",
    about = "Neural machine translation with attention"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on sentence pairs (default: the embedded short German-English
    /// pairs), or resume a run; ends with test BLEU and attention pictures.
    Train(TrainArgs),
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
    #[arg(long, default_value = "bahdanau", value_parser = parse_attention)]
    attention: AttentionKind,
    /// Recurrent cell of encoder and decoder: gru or lstm.
    #[arg(long, default_value = "gru", value_parser = parse_cell)]
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
    /// Sentence pairs per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Passes over the training pairs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Learning-rate decay per epoch (multiplied in after each epoch).
    #[arg(long, default_value_t = 0.9)]
    lr_decay: f64,
    /// Largest joint L2 norm of all gradients (a larger one is scaled down).
    #[arg(long, default_value_t = 5.0)]
    clip: f32,
    /// Beam size of the test evaluation's beam search.
    #[arg(long, default_value_t = 5)]
    beam: usize,
    /// GNMT length penalty alpha of the beam search (0: none).
    #[arg(long, default_value_t = 0.6)]
    length_penalty: f32,
    /// Test sentences whose attention is drawn (`plots/attention-<i>.png`).
    #[arg(long, default_value_t = 4)]
    heatmaps: usize,
    /// Stop an epoch after this many minutes of training (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    minutes: f64,
    /// Seed for initialisation, shuffling and teacher forcing.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Start from these weights instead of a seeded draw: the state dict of
    /// the PyTorch reference (`reference/seq2seq.py --save-init`) on the same
    /// data and sizes. The reference has one architecture, this app's
    /// default one. Two programs started from the same weights differ only
    /// in how they train.
    #[arg(long)]
    init: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    config: Config,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Folder under which `runs/translate/<timestamp>/` is created.
    #[arg(long, default_value = ".")]
    root: PathBuf,
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

fn parse_cell(s: &str) -> Result<CellKind, String> {
    s.parse()
}

fn parse_attention(s: &str) -> Result<AttentionKind, String> {
    s.parse()
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Translate(args) => translate(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// One split as token ids: (source, target) pairs and the target words.
struct Split {
    pairs: Vec<(Vec<usize>, Vec<usize>)>,
    references: Vec<String>,
    sources: Vec<Vec<String>>,
}

/// Tokenised (source, target) sentence pairs.
type WordPairs = Vec<(Vec<String>, Vec<String>)>;

/// A data folder's three splits, tokenised.
struct Corpus {
    train: WordPairs,
    valid: WordPairs,
    test: WordPairs,
}

impl Corpus {
    /// Reads `train.tsv`, `valid.tsv` and `test.tsv`, dropping pairs with no
    /// word on a side (e.g. a line of punctuation).
    fn read(dir: &Path) -> Result<Corpus, String> {
        let split = |name: &str| -> Result<WordPairs, String> {
            let pairs =
                read_parallel(dir.join(format!("{name}.tsv"))).map_err(|e| e.to_string())?;
            let pairs: Vec<_> = pairs
                .iter()
                .map(|(source, target)| (tokenize(source), tokenize(target)))
                .filter(|(source, target)| !source.is_empty() && !target.is_empty())
                .collect();
            if pairs.is_empty() {
                return Err(format!(
                    "{}: no sentence pairs",
                    dir.join(format!("{name}.tsv")).display()
                ));
            }
            Ok(pairs)
        };
        Ok(Corpus {
            train: split("train")?,
            valid: split("valid")?,
            test: split("test")?,
        })
    }
}

fn encode(pairs: &[(Vec<String>, Vec<String>)], source: &WordVocab, target: &WordVocab) -> Split {
    Split {
        pairs: pairs
            .iter()
            .map(|(s, t)| (source.encode(s), target.encode(t)))
            .collect(),
        references: pairs.iter().map(|(_, t)| t.join(" ")).collect(),
        sources: pairs.iter().map(|(s, _)| s.clone()).collect(),
    }
}

fn model_config(config: &Config, source: &WordVocab, target: &WordVocab) -> Seq2SeqConfig {
    Seq2SeqConfig::new(source.len(), target.len())
        .with_embedding(config.embedding)
        .with_hidden(config.hidden)
        .with_layers(config.layers)
        .with_cell(config.cell)
        .with_bidirectional(!config.unidirectional)
        .with_attention(config.attention)
        .with_dropout(config.dropout)
        .with_tie_embeddings(config.tie_embeddings)
}

fn check(config: &Config) -> Result<(), String> {
    if !(0.0..=1.0).contains(&config.teacher_forcing) {
        return Err(format!(
            "--teacher-forcing must be in [0, 1], got {}",
            config.teacher_forcing
        ));
    }
    if config.beam == 0 {
        return Err("--beam must be at least 1".into());
    }
    if !matches!(config.cell, CellKind::Gru | CellKind::Lstm) {
        return Err(format!("--cell must be gru or lstm, got {}", config.cell));
    }
    Ok(())
}

fn train(args: TrainArgs) -> Result<(), String> {
    // A new run, or the one being resumed (its saved config and vocabularies
    // win). Data and the initial weights are read and checked before a new
    // run folder is made, so bad input leaves nothing behind.
    let resumed = match &args.resume {
        Some(path) => {
            let run = RunDir::open(path).map_err(|e| e.to_string())?;
            let config: Config = run.read_config().map_err(|e| e.to_string())?;
            Some((run, config))
        }
        None => None,
    };
    let config = resumed.as_ref().map_or(&args.config, |(_, config)| config);
    check(config)?;
    let corpus = Corpus::read(&config.data)?;
    let (source_vocab, target_vocab) = match &resumed {
        Some((run, _)) => load_vocabs(run)?,
        None => (
            WordVocab::build(corpus.train.iter().map(|(s, _)| s), config.min_count),
            WordVocab::build(corpus.train.iter().map(|(_, t)| t), config.min_count),
        ),
    };
    let device = args.backend.autodiff_device();
    // The initial weights (and dropout) draw from the backend's generator;
    // a resumed run's weights come from its checkpoint below.
    device.seed(config.seed);
    let mut model = model_config(config, &source_vocab, &target_vocab)
        .init(&device)
        .map_err(|e| e.to_string())?;
    let (run, config) = match resumed {
        Some(resumed) => resumed,
        None => {
            if let Some(path) = &args.config.init {
                model = model
                    .load_torch(path, "")
                    .map_err(|e| format!("--init: {e}"))?;
            }
            let run = RunDir::create(&args.root, "translate").map_err(|e| e.to_string())?;
            run.write_config(&args.config).map_err(|e| e.to_string())?;
            for (vocab, name) in [
                (&source_vocab, "source_vocab.json"),
                (&target_vocab, "target_vocab.json"),
            ] {
                vocab
                    .save(run.path().join(name))
                    .map_err(|e| e.to_string())?;
            }
            (run, args.config)
        }
    };
    let train_split = encode(&corpus.train, &source_vocab, &target_vocab);
    let valid_split = encode(&corpus.valid, &source_vocab, &target_vocab);
    let test_split = encode(&corpus.test, &source_vocab, &target_vocab);
    eprintln!(
        "run {}: {} train, {} valid, {} test pairs; vocabularies {} source, {} target; {} {} + {} attention on {}",
        run.path().display(),
        train_split.pairs.len(),
        valid_split.pairs.len(),
        test_split.pairs.len(),
        source_vocab.len(),
        target_vocab.len(),
        if config.unidirectional { "uni" } else { "bi" },
        config.cell,
        config.attention,
        args.backend
    );

    // PyTorch's Adam epsilon (burn's default is 1e-5) and, below, its joint
    // gradient clipping: the optimiser of the PyTorch reference script.
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(|e| e.to_string())?;
    let best_checkpointer = best_checkpointer(&run)?;
    let mut state = TrainingState::new(0, 0);
    if let Some(checkpoint) = checkpointer.latest().map_err(|e| e.to_string())? {
        let (loaded, loaded_optimizer, loaded_state) = checkpointer
            .load(&checkpoint, model, Some(optimizer))
            .map_err(|e| e.to_string())?;
        (model, state) = (loaded, loaded_state);
        optimizer = loaded_optimizer.ok_or("checkpoint without optimizer state")?;
        eprintln!(
            "resumed from {} (epoch {})",
            checkpoint.path.display(),
            state.epoch
        );
    }
    let mut metrics = MetricsLog::open(run.metrics(), &METRICS).map_err(|e| e.to_string())?;
    let batcher = Batcher::new(config.batch, config.seed)
        .map_err(|e| format!("--batch: {e}"))?
        .with_bucketing(50);
    let lengths: Vec<usize> = train_split.pairs.iter().map(|(s, _)| s.len()).collect();

    for epoch in state.epoch + 1..=config.epochs {
        let lr = config.lr * config.lr_decay.powi(epoch as i32 - 1);
        let order = batcher.order(&lengths, epoch as u64);
        let mut progress =
            Progress::new(order.len() as u64, "sent/s").with_epoch(epoch, config.epochs);
        // The teacher-forcing draws of an epoch do not depend on a resume.
        let mut rng = SplitMix64::new(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
        let started = Instant::now();
        let (mut loss_sum, mut batches, mut sentences) = (0.0, 0usize, 0usize);
        for indices in order {
            let pairs: Vec<_> = indices.iter().map(|&i| &train_split.pairs[i]).collect();
            let batch = pair_batch(&pairs);
            let logits = model
                .forward(&batch, config.teacher_forcing, &mut rng)
                .map_err(|e| e.to_string())?;
            let loss = model.loss(logits, &batch);
            let value = check_finite(
                "train loss",
                loss.clone().into_scalar::<f32>() as f64,
                epoch,
                state.step,
            )
            .map_err(|e| e.to_string())?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let grads = clip_grad_norm(&model, grads, config.clip);
            model = optimizer.step(lr, model, grads);
            (loss_sum, batches, state.step) = (loss_sum + value, batches + 1, state.step + 1);
            sentences += batch.len();
            progress.update(1, batch.len() as u64, Some(value));
            if config.minutes > 0.0 && started.elapsed().as_secs_f64() > config.minutes * 60.0 {
                break;
            }
        }
        progress.finish();
        let train_seconds = started.elapsed().as_secs_f64();

        let train_loss = loss_sum / batches.max(1) as f64;
        let evaluated = model.valid();
        let valid_loss = evaluate_loss(&evaluated, &valid_split.pairs)?;
        let perplexity = recur_eval::perplexity(valid_loss);
        let greedy_search = search_config(1, config.length_penalty, 1);
        let (valid_bleu, _, _) = bleu(&evaluated, &valid_split, &target_vocab, &greedy_search)?;
        let speed = sentences as f64 / train_seconds.max(1e-9);
        eprintln!(
            "epoch {epoch}: train loss {train_loss:.4}, valid loss {valid_loss:.4} (perplexity {perplexity:.2}), valid BLEU {valid_bleu:.2}, {speed:.1} sentences/s"
        );
        metrics
            .append(&[
                epoch as f64,
                state.step as f64,
                train_loss,
                valid_loss,
                perplexity,
                valid_bleu,
                speed,
                started.elapsed().as_secs_f64(),
            ])
            .map_err(|e| e.to_string())?;
        plot(&run)?;
        state.epoch = epoch;
        state.best_valid = Some(state.best_valid.map_or(valid_loss, |b| b.min(valid_loss)));
        let best_bleu = state.extra[BEST_VALID_BLEU].as_f64();
        if best_bleu.is_none_or(|best| valid_bleu > best) {
            state.extra = serde_json::json!({ BEST_VALID_BLEU: valid_bleu });
            // Before the latest checkpoint: a resume after a kill in
            // between redoes this epoch and saves it again.
            best_checkpointer
                .save(&model, None, &state)
                .map_err(|e| e.to_string())?;
        }
        checkpointer
            .save(&model, Some(&optimizer), &state)
            .map_err(|e| e.to_string())?;
    }

    let (model, best) = load_best(&run, model.valid())?;
    let results = test(
        &model,
        &config,
        best.epoch,
        &test_split,
        &target_vocab,
        &run,
    )?;
    let path = run.path().join("results.json");
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "test BLEU (model of epoch {}): greedy {:.2}, beam {} {:.2}; valid perplexity {:.2}",
        results.best_epoch,
        results.test_bleu_greedy,
        config.beam,
        results.test_bleu_beam,
        results.valid_perplexity
    );
    println!("run folder: {}", run.path().display());
    Ok(())
}

/// The model of the epoch with the highest validation BLEU (greedy), which
/// the test scores and `translate` uses (early stopping by checkpoint
/// selection). Selected by BLEU, not by validation loss: on these corpora
/// the loss is lowest a few epochs before the translations are best.
fn best_checkpointer(run: &RunDir) -> Result<Checkpointer, String> {
    Checkpointer::new(run.path().join("best"), 1).map_err(|e| e.to_string())
}

/// The key of the best validation BLEU so far in [`TrainingState::extra`].
const BEST_VALID_BLEU: &str = "best_valid_bleu";

/// `model` with the best checkpoint's parameters loaded, and its state.
fn load_best(run: &RunDir, model: Seq2Seq) -> Result<(Seq2Seq, TrainingState), String> {
    let checkpointer = best_checkpointer(run)?;
    let checkpoint = checkpointer
        .latest()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no checkpoint yet", checkpointer.dir().display()))?;
    let (model, _, state) = checkpointer
        .load(&checkpoint, model, None)
        .map_err(|e| e.to_string())?;
    Ok((model, state))
}

/// What a finished run reports in results.json.
#[derive(Serialize)]
struct Results {
    epochs: usize,
    /// The epoch whose model was tested (highest validation BLEU).
    best_epoch: usize,
    /// Validation BLEU (greedy), loss and perplexity of the tested model.
    valid_bleu: f64,
    valid_loss: f64,
    valid_perplexity: f64,
    /// Validation perplexity after the last epoch.
    last_valid_perplexity: f64,
    test_bleu_greedy: f64,
    test_bleu_beam: f64,
    beam: usize,
    length_penalty: f32,
    test_sentences: usize,
    /// Sentences per second of the last epoch's training.
    train_sentences_per_second: Option<f64>,
}

fn load_vocabs(run: &RunDir) -> Result<(WordVocab, WordVocab), String> {
    let load = |name: &str| WordVocab::load(run.path().join(name)).map_err(|e| e.to_string());
    Ok((load("source_vocab.json")?, load("target_vocab.json")?))
}

fn pair_batch(pairs: &[&(Vec<usize>, Vec<usize>)]) -> PairBatch {
    let pairs: Vec<(&[usize], &[usize])> = pairs
        .iter()
        .map(|(s, t)| (s.as_slice(), t.as_slice()))
        .collect();
    PairBatch::new(&pairs, WordVocab::START, WordVocab::END, WordVocab::PAD)
}

/// Mean cross-entropy per target token (end tokens included), teacher-forced.
fn evaluate_loss(model: &Seq2Seq, pairs: &[(Vec<usize>, Vec<usize>)]) -> Result<f64, String> {
    let mut rng = SplitMix64::new(0);
    let (mut total, mut tokens) = (0.0, 0usize);
    for chunk in pairs.chunks(EVAL_BATCH) {
        let batch = pair_batch(&chunk.iter().collect::<Vec<_>>());
        let logits = model
            .forward(&batch, 1.0, &mut rng)
            .map_err(|e| e.to_string())?;
        let loss = model.loss(logits, &batch).into_scalar::<f32>() as f64;
        total += loss * batch.target_tokens() as f64;
        tokens += batch.target_tokens();
    }
    Ok(total / tokens.max(1) as f64)
}

/// Decodes `sources` (token ids) in batches: the best hypothesis of each.
fn decode(
    model: &Seq2Seq,
    sources: &[&[usize]],
    search: &SearchConfig,
) -> Result<Vec<Hypothesis>, String> {
    let device = recur_seq2seq::search::StepDecoder::device(model);
    let mut out = Vec::with_capacity(sources.len());
    for chunk in sources.chunks(EVAL_BATCH) {
        let batch = recur_data::pad(chunk, WordVocab::PAD);
        let state = model
            .encode(batch.ids_tensor(&device), &batch.lengths)
            .map_err(|e| e.to_string())?;
        // Room for a translation about twice as long as each source, as the
        // PyTorch reference allows; a limit from the batch's longest source
        // would make a translation depend on the sentences batched with it.
        let max_lens: Vec<usize> = chunk.iter().map(|s| max_len(s.len())).collect();
        if search.beam_size <= 1 {
            out.extend(greedy_with_max_lens(model, state, &max_lens, search));
        } else {
            for mut best in beam_search_with_max_lens(model, state, &max_lens, search) {
                out.push(best.remove(0));
            }
        }
    }
    Ok(out)
}

/// Corpus BLEU of `model`'s translations of `split` (best hypothesis of
/// each source with `search`), the hypotheses and their text.
fn bleu(
    model: &Seq2Seq,
    split: &Split,
    target_vocab: &WordVocab,
    search: &SearchConfig,
) -> Result<(f64, Vec<Hypothesis>, Vec<String>), String> {
    let sources: Vec<&[usize]> = split.pairs.iter().map(|(s, _)| s.as_slice()).collect();
    let hypotheses = decode(model, &sources, search)?;
    let texts: Vec<String> = hypotheses
        .iter()
        .map(|h| target_vocab.decode(&h.tokens).join(" "))
        .collect();
    let hyps: Vec<&str> = texts.iter().map(String::as_str).collect();
    let references: Vec<&str> = split.references.iter().map(String::as_str).collect();
    let score = recur_eval::corpus_bleu(&hyps, std::slice::from_ref(&references))
        .map_err(|e| e.to_string())?;
    Ok((score.score, hypotheses, texts))
}

/// The most decoder steps for a source of `source_len` words: room for a
/// translation about twice as long.
fn max_len(source_len: usize) -> usize {
    2 * source_len + 5
}

fn search_config(beam: usize, length_penalty: f32, n_best: usize) -> SearchConfig {
    SearchConfig {
        beam_size: beam,
        length_penalty,
        n_best,
        ..SearchConfig::new(WordVocab::START, WordVocab::END, 0)
    }
}

/// Test BLEU greedy and with beam search, the translations, and attention
/// pictures of the first test sentences.
fn test(
    model: &Seq2Seq,
    config: &Config,
    best_epoch: usize,
    split: &Split,
    target_vocab: &WordVocab,
    run: &RunDir,
) -> Result<Results, String> {
    let mut scores = Vec::new();
    for (name, beam) in [("greedy", 1), ("beam", config.beam)] {
        let search = search_config(beam, config.length_penalty, 1);
        let (score, hypotheses, texts) = bleu(model, split, target_vocab, &search)?;
        let path = run.samples().join(format!("test-{name}.txt"));
        std::fs::write(&path, texts.join("\n") + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if name == "beam" {
            for (i, hypothesis) in hypotheses.iter().take(config.heatmaps).enumerate() {
                draw_attention(
                    hypothesis,
                    &split.sources[i],
                    target_vocab,
                    &run.plots().join(format!("attention-{i}.png")),
                )?;
            }
        }
        scores.push(score);
    }
    let metrics = read_metrics(run.metrics()).map_err(|e| e.to_string())?;
    let last = |name: &str| metrics.column(name).and_then(|c| c.last().copied());
    // The last row of that epoch: a resumed run may have logged it twice.
    let at_best = |name: &str| {
        metrics
            .points("epoch", name)
            .and_then(|points| {
                points
                    .into_iter()
                    .rev()
                    .find(|&(epoch, _)| epoch as usize == best_epoch)
                    .map(|(_, value)| value)
            })
            .unwrap_or(f64::NAN)
    };
    let valid_loss = at_best("valid_loss");
    Ok(Results {
        epochs: config.epochs,
        best_epoch,
        valid_bleu: at_best("valid_bleu"),
        valid_loss,
        valid_perplexity: recur_eval::perplexity(valid_loss),
        last_valid_perplexity: last("valid_perplexity").unwrap_or(f64::NAN),
        test_bleu_greedy: scores[0],
        test_bleu_beam: scores[1],
        beam: config.beam,
        length_penalty: config.length_penalty,
        test_sentences: split.pairs.len(),
        train_sentences_per_second: last("sentences_per_second"),
    })
}

/// The attention of one translation as a heatmap: output words down the
/// side, source words along the top.
fn draw_attention(
    hypothesis: &Hypothesis,
    source: &[String],
    target_vocab: &WordVocab,
    path: &Path,
) -> Result<(), String> {
    let rows = hypothesis.attention.len();
    if rows == 0 {
        return Ok(());
    }
    let cols = source.len();
    // Rows span the padded batch; the real source is the first `cols` positions.
    let values: Vec<f32> = hypothesis
        .attention
        .iter()
        .flat_map(|row| row[..cols].iter().copied())
        .collect();
    let row_labels: Vec<String> = target_vocab
        .decode(&hypothesis.tokens)
        .into_iter()
        .map(String::from)
        .collect();
    let title = format!("attention: {}", source.join(" "));
    heatmap(
        &Heatmap {
            title: &title,
            values: &values,
            rows,
            cols,
            row_labels: &row_labels,
            col_labels: source,
            range: Some((0.0, 1.0)),
        },
        path,
    )
    .map_err(|e| e.to_string())
}

/// The loss curves of a run as plots/loss.png.
fn plot(run: &RunDir) -> Result<(), String> {
    let metrics = read_metrics(run.metrics()).map_err(|e| e.to_string())?;
    let series: Vec<Series> = ["train_loss", "valid_loss"]
        .into_iter()
        .filter_map(|name| {
            metrics
                .points("epoch", name)
                .map(|points| Series::new(name, points))
        })
        .collect();
    line_chart(
        &series,
        "translate loss (nats per target word)",
        run.plots().join("loss.png"),
    )
    .map_err(|e| e.to_string())
}

fn translate(args: TranslateArgs) -> Result<(), String> {
    if args.beam == 0 {
        return Err("--beam must be at least 1".into());
    }
    let run = RunDir::open(&args.run).map_err(|e| e.to_string())?;
    let config: Config = run.read_config().map_err(|e| e.to_string())?;
    let (source_vocab, target_vocab) = load_vocabs(&run)?;
    let device = args.backend.device();
    let model = model_config(&config, &source_vocab, &target_vocab)
        .init(&device)
        .map_err(|e| e.to_string())?;
    let (model, _) = load_best(&run, model)?;

    let n_best = args.n_best.clamp(1, args.beam);
    let search = search_config(args.beam, args.length_penalty, n_best);
    for (i, sentence) in args.sentences.iter().enumerate() {
        let words = tokenize(sentence);
        if words.is_empty() {
            return Err(format!("sentence {} ({sentence:?}) has no words", i + 1));
        }
        let ids = source_vocab.encode(&words);
        let source = Tensor::<2, Int>::from_data(
            TensorData::new(
                ids.iter().map(|&id| id as i64).collect::<Vec<_>>(),
                [1, ids.len()],
            ),
            &device,
        );
        let state = model
            .encode(source, &[ids.len()])
            .map_err(|e| e.to_string())?;
        let search = SearchConfig {
            max_len: max_len(ids.len()),
            ..search
        };
        let hypotheses = if args.beam == 1 {
            greedy(&model, state, 1, &search)
        } else {
            beam_search(&model, state, 1, &search).remove(0)
        };
        for hypothesis in &hypotheses {
            let text = target_vocab.decode(&hypothesis.tokens).join(" ");
            if n_best > 1 {
                println!("{:.3}\t{text}", hypothesis.score);
            } else {
                println!("{text}");
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
