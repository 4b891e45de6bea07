//! charlm: the chapter's character-level language model. An RNN reads text one
//! character at a time and learns to predict the next one.
//!
//! ```text
//! cargo xtask train charlm [--backend ndarray] [--cell lstm] [--layers 2] [--hidden 256] [--text FILE]
//! cargo xtask train charlm --resume runs/charlm/<timestamp>
//! cargo xtask sample charlm --run runs/charlm/<timestamp> --prime "Hamlet" --temperature 0.8 --length 500
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::{Args, Parser, Subcommand};
use recur_cells::{CellKind, Recurrent, RecurrentConfig, RecurrentState, linear};
use recur_data::{BpttWindows, CharVocab, SplitMix64, read_text};
use recur_train::plot::{Series, line_chart};
use recur_train::{
    Backend, Checkpointer, MetricsLog, Progress, RunDir, TrainingState, check_finite,
    clip_grad_norm, read_metrics,
};
use serde::{Deserialize, Serialize};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The corpus used when `--text` is not given.
const DEFAULT_TEXT: &str = "datasets/hamlet/hamlet.txt";
const METRICS: [&str; 6] = [
    "epoch",
    "step",
    "train_loss",
    "valid_loss",
    "valid_bpc",
    "seconds",
];

#[derive(Parser)]
#[command(name = "charlm", about = "Character-level RNN language model")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a text file (default: the embedded Hamlet), or resume a run.
    Train(TrainArgs),
    /// Generate text from a run's latest checkpoint.
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
    /// Parallel streams per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Characters per truncated-BPTT window.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Passes over the training text.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Learning-rate decay per epoch (multiplied in after each epoch).
    #[arg(long, default_value_t = 0.95)]
    lr_decay: f64,
    /// Largest joint L2 norm of all gradients (a larger one is scaled down).
    #[arg(long, default_value_t = 5.0)]
    clip: f32,
    /// Fraction of the text (its end) held out for validation.
    #[arg(long, default_value_t = 0.1)]
    valid_fraction: f64,
    /// Stop after this many minutes of training, summed over the epochs of
    /// this invocation (validation and sampling not counted; 0: no limit);
    /// the epoch it ends in is validated and checkpointed. For fixed
    /// wall-clock budgets: `--epochs 100 --minutes 7` trains for 7 minutes.
    #[arg(long, default_value_t = 0.0)]
    minutes: f64,
    /// Seed for initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Start from these weights instead of a seeded draw: a PyTorch state
    /// dict of the same model saved as safetensors (`embedding.weight`,
    /// `rnn.weight_ih_l0`, ..., `output.weight`, `output.bias`), as
    /// `reference/charlm.py --save-init` writes it. Two programs started
    /// from the same weights differ only in how they train.
    #[arg(long)]
    init: Option<PathBuf>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    config: Config,
    /// burn backend. flex by default: since the input projection moved into
    /// the fused recurrence it trains about 1.2x as many characters per
    /// second as ndarray with OpenBLAS (13,022 against 10,945 on Shakespeare,
    /// one minute each, back to back on 2 cores).
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Folder under which `runs/charlm/<timestamp>/` is created.
    #[arg(long, default_value = ".")]
    root: PathBuf,
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
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
    backend: Backend,
    /// Seed for sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn parse_cell(s: &str) -> Result<CellKind, String> {
    s.parse()
}

/// Embedding, a stacked recurrent layer, and a projection to the characters.
#[derive(Module, Debug)]
struct CharLm {
    embedding: Embedding,
    rnn: Recurrent,
    output: Linear,
}

impl CharLm {
    fn new(config: &Config, vocab: usize, device: &Device) -> Self {
        CharLm {
            embedding: EmbeddingConfig::new(vocab, config.embedding).init(device),
            rnn: RecurrentConfig::new(config.cell, config.embedding, config.hidden)
                .with_num_layers(config.layers)
                .with_dropout(config.dropout)
                .init(device),
            output: LinearConfig::new(config.hidden, vocab).init(device),
        }
    }

    /// The model with the weights of a PyTorch state dict saved as
    /// safetensors under `nn.Embedding`/`nn.LSTM`/`nn.Linear`'s names.
    fn load_torch(mut self, path: &Path) -> Result<Self, String> {
        let error = |message: String| format!("--init {}: {message}", path.display());
        // The recurrent layer's names and layout are its own (`load_torch`);
        // the store, with PyTorch's layout of `Linear` weights, reads the rest.
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true);
        let loaded = self
            .load_from(&mut store)
            .map_err(|e| error(e.to_string()))?;
        for name in ["embedding.weight", "output.weight", "output.bias"] {
            if !loaded.applied.iter().any(|applied| applied == name) {
                return Err(error(format!("no tensor {name}")));
            }
        }
        self.rnn = self
            .rnn
            .load_torch_prefixed(path, "rnn.")
            .map_err(|e| error(e.to_string()))?;
        Ok(self)
    }

    /// Logits `[batch, time, vocab]` for ids `[batch, time]`, and the state
    /// after the last step.
    fn forward(
        &self,
        ids: Tensor<2, Int>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        let out = self
            .rnn
            .forward(self.embedding.forward(ids), None, state)
            .expect("the embedding size is the layer's input size");
        let output = &self.output;
        let bias = output.bias.as_ref().map(Param::val);
        (linear(out.output, output.weight.val(), bias), out.state)
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Sample(args) => sample(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn train(args: TrainArgs) -> Result<(), String> {
    // A new run, or the one being resumed (its saved config wins). The text
    // and the initial weights are read before a new run folder is made, so
    // bad input leaves nothing.
    let resumed = match &args.resume {
        Some(path) => {
            let run = RunDir::open(path).map_err(|e| e.to_string())?;
            let config: Config = run.read_config().map_err(|e| e.to_string())?;
            Some((run, config))
        }
        None => None,
    };
    let config = resumed.as_ref().map_or(&args.config, |(_, config)| config);
    let text = read_text(&config.text).map_err(|e| e.to_string())?;
    let vocab = CharVocab::from_text(&text);
    let device = args.backend.autodiff_device();
    // The initial weights (and dropout) draw from the backend's generator.
    device.seed(config.seed);
    let mut model = CharLm::new(config, vocab.len(), &device);
    let (run, config) = match resumed {
        Some(resumed) => resumed,
        None => {
            if let Some(path) = &args.config.init {
                model = model.load_torch(path)?;
            }
            let run = RunDir::create(&args.root, "charlm").map_err(|e| e.to_string())?;
            run.write_config(&args.config).map_err(|e| e.to_string())?;
            (run, args.config)
        }
    };
    vocab
        .save(run.path().join("vocab.json"))
        .map_err(|e| e.to_string())?;
    let tokens = vocab.encode(&text).map_err(|e| e.to_string())?;
    let split = ((tokens.len() as f64) * (1.0 - config.valid_fraction)) as usize;
    let (train_tokens, valid_tokens) = tokens.split_at(split);
    eprintln!(
        "run {}: {} characters ({} train, {} valid), vocabulary {}, {} on {}",
        run.path().display(),
        tokens.len(),
        train_tokens.len(),
        valid_tokens.len(),
        vocab.len(),
        config.cell,
        args.backend
    );

    // PyTorch's Adam epsilon (burn's default is 1e-5) and, below, its joint
    // gradient clipping: the optimiser of the PyTorch reference script.
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(|e| e.to_string())?;
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
    let loss_fn = CrossEntropyLossConfig::new().init(&device);

    let budget = Duration::from_secs_f64(config.minutes * 60.0);
    let over_budget = |trained: Duration| config.minutes > 0.0 && trained > budget;
    let mut trained = Duration::ZERO;
    for epoch in state.epoch + 1..=config.epochs {
        let lr = config.lr * config.lr_decay.powi(epoch as i32 - 1);
        let windows = BpttWindows::new(train_tokens, config.batch, config.window)
            .map_err(|e| e.to_string())?;
        let mut progress =
            Progress::new(windows.num_windows() as u64, "char/s").with_epoch(epoch, config.epochs);
        let started = Instant::now();
        let (mut carried, mut loss_sum, mut batches) = (None, 0.0, 0usize);
        for window in windows {
            let (logits, last) = model.forward(window.input_tensor(&device), carried);
            let [b, t, v] = logits.dims();
            let loss = loss_fn.forward(
                logits.reshape([b * t, v]),
                window.target_tensor(&device).reshape([b * t]),
            );
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
            // Truncated BPTT: the state flows into the next window, its graph does not.
            carried = Some(RecurrentState {
                h: last.h.detach(),
                c: last.c.map(Tensor::detach),
            });
            (loss_sum, batches, state.step) = (loss_sum + value, batches + 1, state.step + 1);
            progress.update(1, (b * t) as u64, Some(value));
            if over_budget(trained + started.elapsed()) {
                break;
            }
        }
        progress.finish();
        trained += started.elapsed();

        let train_loss = loss_sum / batches.max(1) as f64;
        // One autodiff-free copy serves validation and the sample.
        let (inference, plain) = (model.valid(), args.backend.device());
        let valid_loss = evaluate(&inference, valid_tokens, &config, &plain)?;
        let bpc = recur_eval::bits_per_char(valid_loss);
        eprintln!(
            "epoch {epoch}: train loss {train_loss:.4}, valid loss {valid_loss:.4} nats ({bpc:.3} bits/char)"
        );
        let seconds = started.elapsed().as_secs_f64();
        metrics
            .append(&[
                epoch as f64,
                state.step as f64,
                train_loss,
                valid_loss,
                bpc,
                seconds,
            ])
            .map_err(|e| e.to_string())?;
        plot(&run)?;
        let text = generate(
            &inference,
            &vocab,
            "\n",
            300,
            0.8,
            config.seed + epoch as u64,
            &plain,
        )?;
        std::fs::write(run.samples().join(format!("epoch-{epoch:03}.txt")), &text)
            .map_err(|e| format!("{}: {e}", run.samples().display()))?;
        eprintln!("--- sample ---\n{text}\n--------------");
        state.epoch = epoch;
        state.best_valid = Some(
            state
                .best_valid
                .map_or(valid_loss, |b: f64| b.min(valid_loss)),
        );
        checkpointer
            .save(&model, Some(&optimizer), &state)
            .map_err(|e| e.to_string())?;
        if over_budget(trained) {
            break;
        }
    }
    println!("run folder: {}", run.path().display());
    Ok(())
}

/// Mean cross-entropy (nats per character) over `tokens`, carrying the state
/// across windows as in training.
fn evaluate(
    model: &CharLm,
    tokens: &[usize],
    config: &Config,
    device: &Device,
) -> Result<f64, String> {
    let rows = config
        .batch
        .min(tokens.len().saturating_sub(1) / config.window)
        .max(1);
    let windows = BpttWindows::new(tokens, rows, config.window).map_err(|e| e.to_string())?;
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut carried, mut total, mut count) = (None, 0.0, 0usize);
    for window in windows {
        let (logits, last) = model.forward(window.input_tensor(device), carried);
        let [b, t, v] = logits.dims();
        let loss = loss_fn.forward(
            logits.reshape([b * t, v]),
            window.target_tensor(device).reshape([b * t]),
        );
        total += loss.into_scalar::<f32>() as f64 * (b * t) as f64;
        count += b * t;
        carried = Some(last);
    }
    Ok(total / count.max(1) as f64)
}

/// `prime` followed by `length` sampled characters.
fn generate(
    model: &CharLm,
    vocab: &CharVocab,
    prime: &str,
    length: usize,
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Result<String, String> {
    if temperature <= 0.0 {
        return Err(format!("--temperature must be positive, got {temperature}"));
    }
    let prime_ids = vocab.encode(prime).map_err(|e| format!("--prime: {e}"))?;
    if prime_ids.is_empty() {
        return Err("--prime must not be empty".into());
    }
    let ids = |ids: &[usize]| {
        let values: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        Tensor::<2, Int>::from_data(TensorData::new(values, [1, ids.len()]), device)
    };
    let mut rng = SplitMix64::new(seed);
    let (mut logits, mut state) = model.forward(ids(&prime_ids), None);
    let mut out = prime_ids.clone();
    for _ in 0..length {
        let [_, time, v] = logits.dims();
        let last = logits.slice([0..1, time - 1..time]).reshape([1, v]);
        let probabilities = softmax(last.div_scalar(temperature), 1)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        let next = pick(&probabilities, &mut rng);
        out.push(next);
        (logits, state) = model.forward(ids(&[next]), Some(state));
    }
    Ok(vocab.decode(&out))
}

/// An index drawn with the given probabilities.
fn pick(probabilities: &[f32], rng: &mut SplitMix64) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut acc = 0.0;
    for (i, &p) in probabilities.iter().enumerate() {
        acc += p as f64;
        if u < acc {
            return i;
        }
    }
    probabilities.len() - 1
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
        "charlm loss (nats per character)",
        run.plots().join("loss.png"),
    )
    .map_err(|e| e.to_string())
}

fn sample(args: SampleArgs) -> Result<(), String> {
    let run = RunDir::open(&args.run).map_err(|e| e.to_string())?;
    let config: Config = run.read_config().map_err(|e| e.to_string())?;
    let vocab = CharVocab::load(run.path().join("vocab.json")).map_err(|e| e.to_string())?;
    let device = args.backend.device();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(|e| e.to_string())?;
    let checkpoint = checkpointer
        .latest()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no checkpoint yet", run.checkpoints().display()))?;
    let (model, _, _) = checkpointer
        .load(
            &checkpoint,
            CharLm::new(&config, vocab.len(), &device),
            None,
        )
        .map_err(|e| e.to_string())?;
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
