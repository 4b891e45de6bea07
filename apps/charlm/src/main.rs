//! charlm: the chapter's character-level language model. An RNN reads text one
//! character at a time and learns to predict the next one.
//!
//! ```text
//! cargo xtask train charlm [--backend ndarray] [--cell lstm] [--layers 2] [--hidden 256] [--text FILE]
//! cargo xtask train charlm --resume runs/charlm/<timestamp> [--epochs 20]
//! cargo xtask sample charlm --run runs/charlm/<timestamp> --prime "Hamlet" --temperature 0.8 --length 500
//! ```

use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use clap::{Args, Parser};
use recur_cells::{CellKind, Recurrent, RecurrentConfig, RecurrentState, linear};
use recur_data::{BpttWindows, CharVocab, SplitMix64, Window, read_text};
use recur_train::{
    AppError, Backend, Best, Context, Defaults, Loss, RunConfig, RunDir, Shard, Task, TrainFlags,
    exit_on_error, load_best,
};
use serde::{Deserialize, Serialize};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    fn load_torch(mut self, path: &Path) -> Result<Self, AppError> {
        // The recurrent layer's names and layout are its own (`load_torch`);
        // the store, with PyTorch's layout of `Linear` weights, reads the rest.
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true);
        let loaded = self.load_from(&mut store)?;
        for name in ["embedding.weight", "output.weight", "output.bias"] {
            if !loaded.applied.iter().any(|applied| applied == name) {
                return Err(format!("no tensor {name}").into());
            }
        }
        self.rnn = self.rnn.load_torch_prefixed(path, "rnn.")?;
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
        let bias = self.output.bias.as_ref().map(Param::val);
        (
            linear(out.output, self.output.weight.val(), bias),
            out.state,
        )
    }

    /// Mean cross-entropy over `window` from `state`, and the state after it.
    fn loss(
        &self,
        window: &Window,
        state: Option<RecurrentState>,
        device: &Device,
    ) -> (Tensor<1>, RecurrentState) {
        let (logits, last) = self.forward(window.input_tensor(device), state);
        let [b, t, v] = logits.dims();
        let loss = CrossEntropyLossConfig::new().init(device).forward(
            logits.reshape([b * t, v]),
            window.target_tensor(device).reshape([b * t]),
        );
        (loss, last)
    }
}

/// Training on a text: truncated BPTT over parallel streams.
struct CharLmTask {
    config: Config,
    vocab: CharVocab,
    train: Vec<usize>,
    valid: Vec<usize>,
    /// The state carried from one window into the next (this worker's rows).
    carried: Option<RecurrentState>,
    /// `--init` for a new run (a resumed one starts from its checkpoint).
    init: Option<PathBuf>,
}

/// One row of metrics.csv beside the loop's own columns.
#[derive(Serialize)]
struct Metrics {
    /// Nats per character.
    valid_loss: f64,
    valid_bpc: f64,
}

impl Task for CharLmTask {
    type Model = CharLm;
    type Batch = Window;
    type Metrics = Metrics;
    const SYSTEM: &'static str = "charlm";
    const UNIT: &'static str = "chars";
    const BEST: Option<Best> = Some(Best {
        metric: "valid_loss",
        higher_is_better: false,
    });

    fn model(&self, device: &Device) -> Result<CharLm, AppError> {
        let model = CharLm::new(&self.config, self.vocab.len(), device);
        match &self.init {
            Some(path) => model
                .load_torch(path)
                .context(format_args!("--init {}", path.display())),
            None => Ok(model),
        }
    }

    fn describe(&self, model: &CharLm) -> String {
        let (train, valid) = (self.train.len(), self.valid.len());
        let params = model.num_params();
        format!(
            "{train} + {valid} characters, vocabulary {}, {} with {params} parameters",
            self.vocab.len(),
            self.config.cell
        )
    }

    fn save(&self, run: &RunDir) -> Result<(), AppError> {
        Ok(self.vocab.save(run.path().join("vocab.json"))?)
    }

    fn batches(&mut self, _epoch: usize) -> Result<Vec<Window>, AppError> {
        self.carried = None;
        let (batch, window) = (self.config.train.batch, self.config.window);
        Ok(BpttWindows::new(&self.train, batch, window)
            .context("--batch/--window")?
            .collect())
    }

    fn items(&self, window: &Window) -> u64 {
        (window.batch * window.time) as u64
    }

    fn loss(
        &mut self,
        model: &CharLm,
        window: &Window,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError> {
        let rows = window.rows(shard.range(window.batch));
        let (mean, last) = model.loss(&rows, self.carried.take(), device);
        // Truncated BPTT: the state flows into the next window, its graph does not.
        self.carried = Some(RecurrentState {
            h: last.h.detach(),
            c: last.c.map(Tensor::detach),
        });
        Ok(Loss {
            mean,
            items: self.items(&rows) as f64,
        })
    }

    fn evaluate(
        &mut self,
        model: &CharLm,
        epoch: usize,
        run: &RunDir,
        device: &Device,
    ) -> Result<Metrics, AppError> {
        let valid_loss = evaluate(model, &self.valid, &self.config, device)?;
        let seed = self.config.train.seed + epoch as u64;
        let text = generate(model, &self.vocab, "\n", 300, 0.8, seed, device)?;
        let path = run.samples().join(format!("epoch-{epoch:03}.txt"));
        std::fs::write(&path, &text).context(path.display())?;
        eprintln!("--- sample ---\n{text}\n--------------");
        Ok(Metrics {
            valid_loss,
            valid_bpc: recur_eval::bits_per_char(valid_loss),
        })
    }
}

fn main() {
    let command = DEFAULTS.apply(<Cli as clap::CommandFactory>::command());
    let matches = command.get_matches();
    exit_on_error(
        (|| match <Cli as clap::FromArgMatches>::from_arg_matches(&matches)? {
            Cli::Train(config) => {
                train(config, matches.subcommand_matches("train").expect("train"))
            }
            Cli::Sample(args) => sample(args),
        })(),
    );
}

fn train(given: Config, matches: &clap::ArgMatches) -> Result<(), AppError> {
    let resume = given.train.resume.clone();
    let RunConfig { config, resumed } = RunConfig::resolve(given, matches, resume.as_deref())?;
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

/// Mean cross-entropy (nats per character) over `tokens`, carrying the state
/// across windows as in training.
fn evaluate(
    model: &CharLm,
    tokens: &[usize],
    config: &Config,
    device: &Device,
) -> Result<f64, AppError> {
    let rows = config
        .train
        .batch
        .min(tokens.len().saturating_sub(1) / config.window)
        .max(1);
    let (mut carried, mut total, mut count) = (None, 0.0, 0usize);
    for window in BpttWindows::new(tokens, rows, config.window)? {
        let (loss, last) = model.loss(&window, carried, device);
        let n = window.batch * window.time;
        total += f64::from(loss.into_scalar::<f32>()) * n as f64;
        count += n;
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
) -> Result<String, AppError> {
    if !(temperature > 0.0) {
        return Err(format!("--temperature must be positive, got {temperature}").into());
    }
    let prime_ids = vocab.encode(prime).context("--prime")?;
    if prime_ids.is_empty() {
        return Err("--prime must not be empty".into());
    }
    let ids = |ids: &[usize]| {
        let values: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        Tensor::<2, Int>::from_data(TensorData::new(values, [1, ids.len()]), device)
    };
    let mut rng = SplitMix64::new(seed);
    let (mut logits, mut state) = model.forward(ids(&prime_ids), None);
    let mut out = prime_ids;
    for _ in 0..length {
        let [_, time, v] = logits.dims();
        let last = logits.slice([0..1, time - 1..time]).reshape([1, v]);
        let probabilities = softmax(last.div_scalar(temperature), 1)
            .into_data()
            .try_to_vec::<f32>()?;
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
        acc += f64::from(p);
        if u < acc {
            return i;
        }
    }
    probabilities.len() - 1
}

fn sample(args: SampleArgs) -> Result<(), AppError> {
    let run = RunDir::open(&args.run)?;
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
