//! caption: the chapter's image captioner. An image encoder turns a picture
//! into one vector, the LSTM reads it as its first input and then writes the
//! caption word by word.
//!
//! ```text
//! cargo xtask train caption [--backend wgpu] [--attention] [--encoder cnn|pretrained|features]
//! cargo xtask train caption --features DIR [--split dataset.json]
//! cargo xtask train caption --resume runs/caption/<timestamp>
//! cargo run -p caption -- caption --run runs/caption/<timestamp> [--beam 3]
//! cargo run -p caption -- features --images DIR --out DIR   # pretrained CNN features
//! ```

mod features;
mod report;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use recur_caption::shapes::{ShapesConfig, generate};
use recur_caption::{
    CaptionData, CaptionDecoderConfig, CaptionModel, CnnEncoderConfig, Encoder,
    FeatureEncoderConfig, ImageEncoder, PretrainedEncoderConfig, read_features,
};
use recur_data::{Batcher, Split, WordVocab, log_frequency_bias, pad, tokenize};
use recur_seq2seq::search::{Hypothesis, SearchConfig};
use recur_train::plot::{Series, line_chart};
use recur_train::{
    Backend, Checkpointer, MetricsLog, Progress, RunDir, TrainingState, check_finite, read_metrics,
};
use recur_vision::{EfficientNetLite0, IMAGE_SIZE};
use serde::{Deserialize, Serialize};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const METRICS: [&str; 6] = ["epoch", "step", "train_loss", "valid_loss", "lr", "seconds"];
/// Images decoded together at evaluation.
const EVAL_BATCH: usize = 64;

#[derive(Parser)]
#[command(
    name = "caption",
    about = "Image captioning: show and tell, with optional soft attention"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on the generated shapes (default) or on precomputed features,
    /// or resume a run; ends with test BLEU, samples and an HTML page.
    Train(TrainArgs),
    /// Caption the images of a run's data split with its latest checkpoint.
    Caption(CaptionArgs),
    /// Turn a folder of images into `features.npy` + `image_captions.token`
    /// with the pretrained EfficientNet-Lite0, for `train --features`.
    Features(features::FeaturesArgs),
}

/// Which image encoder the model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EncoderKind {
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

/// Everything that defines a training run; written to the run's config.json.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
struct Config {
    /// Folder with `features.npy` (float32, one row per image) and
    /// `image_captions.token`; default: the generated shapes.
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
    #[serde(default = "default_weights")]
    weights: PathBuf,
    /// `--encoder pretrained`: the side pictures are resized to before the
    /// network (it was trained at 224; the attention grid has a cell per 32
    /// pixels, and the cost grows with the square of the side).
    #[arg(long, default_value_t = IMAGE_SIZE)]
    #[serde(default = "default_network_size")]
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
    embed: usize,
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
    /// Captions per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Passes over the training captions.
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Learning-rate decay per epoch (multiplied in after each epoch).
    #[arg(long, default_value_t = 0.8)]
    lr_decay: f64,
    /// Largest L2 norm of each parameter's gradient, each clipped on its own.
    #[arg(long, default_value_t = 5.0)]
    clip: f32,
    /// Beam width of the final evaluation (beside greedy).
    #[arg(long, default_value_t = 3)]
    beam: usize,
    /// Longest caption generated, in words.
    #[arg(long, default_value_t = 20)]
    max_len: usize,
    /// Test images shown in index.html.
    #[arg(long, default_value_t = 24)]
    show: usize,
    /// Seed for initialisation and batch order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    config: Config,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
    backend: Backend,
    /// Continue the run in this folder from its latest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Folder under which `runs/caption/<timestamp>/` is created.
    #[arg(long, default_value = ".")]
    root: PathBuf,
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
    #[arg(long, value_enum, default_value_t = Backend::Ndarray)]
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
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Caption(args) => caption(args),
        Command::Features(args) => features::run(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Config {
    /// The encoder, its default resolved from the data.
    fn encoder_kind(&self) -> EncoderKind {
        self.encoder.unwrap_or(if self.features.is_some() {
            EncoderKind::Features
        } else {
            EncoderKind::Cnn
        })
    }

    /// Whether the decoder attends, its default resolved from the encoder.
    fn attends(&self) -> bool {
        self.attention
            .unwrap_or(self.encoder_kind() != EncoderKind::Features)
    }

    /// The data set: precomputed features, or the generated shapes.
    fn data(&self) -> Result<CaptionData, String> {
        match &self.features {
            Some(dir) => read_features(
                &dir.join("features.npy"),
                &dir.join("image_captions.token"),
                self.split.as_deref(),
            )
            .map_err(err),
            None => Ok(generate(
                &ShapesConfig::new()
                    .with_train(self.shapes_train)
                    .with_valid(self.shapes_eval)
                    .with_test(self.shapes_eval)
                    .with_seed(self.shapes_seed),
            )),
        }
    }

    /// A freshly initialised model for `data` and `vocab`; the flags that do
    /// not fit the data are errors.
    fn model(
        &self,
        data: &CaptionData,
        vocab: &WordVocab,
        device: &Device,
    ) -> Result<CaptionModel, String> {
        let encoder = match self.encoder_kind() {
            EncoderKind::Features => Encoder::Features(
                FeatureEncoderConfig::new(data.input_size, self.embed).init(device),
            ),
            EncoderKind::Cnn => Encoder::Cnn(
                CnnEncoderConfig::new(self.picture_side(data)?, self.embed)
                    .with_channels(self.channels)
                    .init(device),
            ),
            EncoderKind::Pretrained => {
                let side = self.picture_side(data)?;
                let net = EfficientNetLite0::load(&self.weights, device).map_err(|e| {
                    format!("--weights {e} (run `cargo xtask data fetch efficientnet-lite0`)")
                })?;
                Encoder::Pretrained(
                    PretrainedEncoderConfig::new(side, self.embed)
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
            .with_embed(self.embed)
            .with_hidden(self.hidden)
            .with_attention(grid)
            .with_attention_hidden(self.attention_hidden)
            .init(device)
            .with_output_bias(&log_frequency_bias(vocab.counts()))
            .map_err(err)?;
        CaptionModel::new(encoder, decoder).map_err(|e| format!("--attention: {e}"))
    }

    /// The side of the data's square pictures, for the encoders that need
    /// pictures.
    fn picture_side(&self, data: &CaptionData) -> Result<usize, String> {
        data.image_size.ok_or_else(|| {
            let kind = self.encoder_kind().to_possible_value();
            format!(
                "--encoder {} needs pictures, but --features gives feature vectors (use --encoder features)",
                kind.as_ref().map_or("", |v| v.get_name())
            )
        })
    }
}

fn default_weights() -> PathBuf {
    features::DEFAULT_WEIGHTS.into()
}

fn default_network_size() -> usize {
    IMAGE_SIZE
}

/// Every caption of the images in `split` as `(image index, ids)`.
fn captions_of(
    data: &CaptionData,
    vocab: &WordVocab,
    split: Split,
) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut images = Vec::new();
    let mut ids = Vec::new();
    for i in data.split(split) {
        for caption in &data.images[i].captions {
            images.push(i);
            ids.push(vocab.encode_sentence(&tokenize(caption)));
        }
    }
    (images, ids)
}

fn train(args: TrainArgs) -> Result<(), String> {
    // The run being resumed (its saved config wins), or a new one; the data
    // and the model are built before a new run folder is made, so bad input
    // or flags that do not fit the data leave nothing behind.
    let (resumed, config) = match &args.resume {
        Some(path) => {
            let run = RunDir::open(path).map_err(err)?;
            let config: Config = run.read_config().map_err(err)?;
            (Some(run), config)
        }
        None => {
            let mut config = args.config.clone();
            config.encoder = Some(config.encoder_kind());
            config.attention = Some(config.attends());
            (None, config)
        }
    };
    let data = config.data()?;
    let vocab = WordVocab::build(
        data.split(Split::Train)
            .iter()
            .flat_map(|&i| data.images[i].captions.iter().map(|c| tokenize(c))),
        config.min_count,
    );
    let device = args.backend.autodiff_device();
    // The initial weights (and dropout) draw from the backend's generator.
    device.seed(config.seed);
    let mut model = config.model(&data, &vocab, &device)?;
    let run = match resumed {
        Some(run) => run,
        None => {
            let run = RunDir::create(&args.root, "caption").map_err(err)?;
            run.write_config(&config).map_err(err)?;
            run
        }
    };
    vocab.save(run.path().join("vocab.json")).map_err(err)?;
    let (train_images, train_ids) = captions_of(&data, &vocab, Split::Train);
    let (valid_images, valid_ids) = captions_of(&data, &vocab, Split::Val);
    eprintln!(
        "run {}: {} images ({} train, {} val, {} test), {} training captions, vocabulary {} (min count {}), encoder {:?}{}, {} on {}",
        run.path().display(),
        data.images.len(),
        data.split(Split::Train).len(),
        data.split(Split::Val).len(),
        data.split(Split::Test).len(),
        train_ids.len(),
        vocab.len(),
        config.min_count,
        config.encoder_kind(),
        if config.attends() { " + attention" } else { "" },
        model.num_params(),
        args.backend,
    );
    if train_ids.is_empty() {
        return Err("no training captions".into());
    }

    let mut optimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(config.clip)))
        .init();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(err)?;
    let mut state = TrainingState::new(0, 0);
    if let Some(checkpoint) = checkpointer.latest().map_err(err)? {
        let (loaded, loaded_optimizer, loaded_state) = checkpointer
            .load(&checkpoint, model, Some(optimizer))
            .map_err(err)?;
        (model, state) = (loaded, loaded_state);
        optimizer = loaded_optimizer.ok_or("checkpoint without optimizer state")?;
        eprintln!(
            "resumed from {} (epoch {})",
            checkpoint.path.display(),
            state.epoch
        );
    }
    let mut metrics = MetricsLog::open(run.metrics(), &METRICS).map_err(err)?;
    let batcher = Batcher::new(config.batch, config.seed).map_err(err)?;
    let plain = args.backend.device();
    let search = SearchConfig::new(WordVocab::START, WordVocab::END, config.max_len + 1);

    for epoch in state.epoch + 1..=config.epochs {
        let lr = config.lr * config.lr_decay.powi(epoch as i32 - 1);
        let batches: Vec<_> = batcher
            .batches(&train_ids, epoch as u64, WordVocab::PAD)
            .collect();
        let mut progress =
            Progress::new(batches.len() as u64, "captions/s").with_epoch(epoch, config.epochs);
        let started = Instant::now();
        let (mut loss_sum, mut count) = (0.0, 0usize);
        for batch in batches {
            let rows: Vec<usize> = batch.indices.iter().map(|&k| train_images[k]).collect();
            let loss = model.loss(data.inputs_tensor(&rows, &device), &batch);
            let value = check_finite(
                "train loss",
                loss.clone().into_scalar::<f32>() as f64,
                epoch,
                state.step,
            )
            .map_err(err)?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            (loss_sum, count, state.step) = (loss_sum + value, count + 1, state.step + 1);
            progress.update(1, batch.batch as u64, Some(value));
        }
        progress.finish();
        let train_loss = loss_sum / count.max(1) as f64;

        let inference = model.valid();
        let valid_loss = mean_loss(&inference, &data, &valid_images, &valid_ids, &plain);
        let valid = data.split(Split::Val);
        let shown = &valid[..valid.len().min(4)];
        let samples = if shown.is_empty() {
            Vec::new()
        } else {
            inference.caption(data.inputs_tensor(shown, &plain), &search)
        };
        let mut text = String::new();
        for (&i, hypothesis) in shown.iter().zip(&samples) {
            text.push_str(&format!(
                "{}\n  generated: {}\n  reference: {}\n",
                data.images[i].name,
                vocab.decode_sentence(&hypothesis.tokens),
                data.images[i].captions.first().map_or("", String::as_str)
            ));
        }
        std::fs::write(run.samples().join(format!("epoch-{epoch:03}.txt")), &text)
            .map_err(|e| format!("{}: {e}", run.samples().display()))?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "epoch {epoch}: train loss {train_loss:.4}, valid loss {}, lr {lr:.2e}, {seconds:.0} s\n{text}",
            valid_loss.map_or("-".into(), |v| format!("{v:.4}"))
        );
        metrics
            .append(&[
                epoch as f64,
                state.step as f64,
                train_loss,
                valid_loss.unwrap_or(f64::NAN),
                lr,
                seconds,
            ])
            .map_err(err)?;
        plot(&run)?;
        state.epoch = epoch;
        if let Some(v) = valid_loss {
            state.best_valid = Some(state.best_valid.map_or(v, |b: f64| b.min(v)));
        }
        checkpointer
            .save(&model, Some(&optimizer), &state)
            .map_err(err)?;
    }

    report::evaluate(&run, &config, &data, &vocab, &model.valid(), &plain)?;
    println!("run folder: {}", run.path().display());
    Ok(())
}

/// Mean masked cross-entropy over the captions `ids` of `images`, `None`
/// without any.
fn mean_loss(
    model: &CaptionModel,
    data: &CaptionData,
    images: &[usize],
    ids: &[Vec<usize>],
    device: &Device,
) -> Option<f64> {
    let (mut total, mut weight) = (0.0, 0.0);
    for (rows, captions) in images.chunks(EVAL_BATCH).zip(ids.chunks(EVAL_BATCH)) {
        let batch = pad(captions, WordVocab::PAD);
        let tokens: usize = batch.lengths.iter().map(|l| l - 1).sum();
        let loss = model.loss(data.inputs_tensor(rows, device), &batch);
        total += loss.into_scalar::<f32>() as f64 * tokens as f64;
        weight += tokens as f64;
    }
    (weight > 0.0).then(|| total / weight)
}

/// Captions of the images at `indices`, decoded in batches.
fn caption_images(
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

/// The loss curves of a run as plots/loss.png.
fn plot(run: &RunDir) -> Result<(), String> {
    let metrics = read_metrics(run.metrics()).map_err(err)?;
    let series: Vec<Series> = ["train_loss", "valid_loss"]
        .into_iter()
        .filter_map(|name| {
            let points: Vec<(f64, f64)> = metrics
                .points("epoch", name)?
                .into_iter()
                .filter(|(_, y)| y.is_finite())
                .collect();
            (!points.is_empty()).then(|| Series::new(name, points))
        })
        .collect();
    line_chart(
        &series,
        "caption loss (nats per word)",
        run.plots().join("loss.png"),
    )
    .map_err(err)
}

/// A run's config, vocabulary and model from its latest checkpoint.
fn load_run(
    path: &Path,
    device: &Device,
) -> Result<(RunDir, Config, CaptionData, WordVocab, CaptionModel), String> {
    let run = RunDir::open(path).map_err(err)?;
    let config: Config = run.read_config().map_err(err)?;
    let vocab = WordVocab::load(run.path().join("vocab.json")).map_err(err)?;
    let data = config.data()?;
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(err)?;
    let checkpoint = checkpointer
        .latest()
        .map_err(err)?
        .ok_or_else(|| format!("{}: no checkpoint yet", run.checkpoints().display()))?;
    let (model, _, _) = checkpointer
        .load(&checkpoint, config.model(&data, &vocab, device)?, None)
        .map_err(err)?;
    Ok((run, config, data, vocab, model))
}

fn caption(args: CaptionArgs) -> Result<(), String> {
    let device = args.backend.device();
    let (_, config, data, vocab, model) = load_run(&args.run, &device)?;
    let mut indices = data.split(args.split);
    if args.count > 0 {
        indices.truncate(args.count);
    }
    let mut search = SearchConfig::new(WordVocab::START, WordVocab::END, config.max_len + 1);
    search.beam_size = args.beam.max(1);
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
