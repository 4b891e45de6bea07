//! ntm: the chapter's Neural Turing Machine on the paper's algorithmic tasks,
//! with the LSTM baseline it is compared against.
//!
//! ```text
//! cargo xtask train ntm --task copy|repeat-copy|recall [--backend flex] [--model ntm|lstm]
//! cargo xtask train ntm --resume runs/ntm/<timestamp>
//! cargo xtask eval ntm --run runs/ntm/<timestamp> --length 40
//! ```

use std::path::PathBuf;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use clap::{Args, Parser, Subcommand, ValueEnum};
use recur_data::SplitMix64;
use recur_ntm::loss::{binary_cross_entropy, bit_errors};
use recur_ntm::{
    ControllerKind, LstmBaseline, LstmBaselineConfig, MemoryInit, Ntm, NtmConfig, NtmError, Task,
    TaskConfig,
};
use recur_train::plot::{Heatmap, Series, heatmap, line_chart};
use recur_train::{
    Backend, Checkpointer, MetricsLog, Progress, RunDir, TrainingState, check_finite, read_metrics,
};
use serde::{Deserialize, Serialize};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const METRICS: [&str; 4] = ["sequences", "loss", "bit_errors", "seconds"];

#[derive(Parser)]
#[command(
    name = "ntm",
    about = "Neural Turing Machine on copy, repeat copy and recall"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a task, or resume a run.
    Train(TrainArgs),
    /// Bit errors per sequence of a run's latest checkpoint at one size, and
    /// pictures of one test sequence.
    Eval(EvalArgs),
}

/// The network trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
enum ModelKind {
    /// The Neural Turing Machine.
    Ntm,
    /// The baseline: a stacked LSTM.
    Lstm,
}

/// Everything that defines a training run; written to the run's config.json.
#[derive(Args, Serialize, Deserialize, Clone, Debug)]
struct Config {
    /// Task: copy, repeat-copy or recall.
    #[arg(long, default_value = "copy", value_parser = parse::<Task>)]
    task: Task,
    /// Bits per vector (default: the paper's, 8 or 6 for recall).
    #[arg(long)]
    bits: Option<usize>,
    /// Smallest training size: sequence length, or items for recall
    /// (default: the paper's).
    #[arg(long)]
    min_size: Option<usize>,
    /// Largest training size (default: the paper's, 20, 10 or 6).
    #[arg(long)]
    max_size: Option<usize>,
    /// Repeat copy: most repeats in training (default 10).
    #[arg(long)]
    max_repeats: Option<usize>,
    /// Recall: vectors per item (default 3).
    #[arg(long)]
    item_length: Option<usize>,
    /// Network: ntm, or lstm for the baseline.
    #[arg(long, value_enum, default_value_t = ModelKind::Ntm)]
    model: ModelKind,
    /// NTM controller: lstm or feedforward.
    #[arg(long, default_value = "lstm", value_parser = parse::<ControllerKind>)]
    controller: ControllerKind,
    /// NTM controller units.
    #[arg(long, default_value_t = 100)]
    controller_size: usize,
    /// NTM memory rows N.
    #[arg(long, default_value_t = 128)]
    memory_rows: usize,
    /// NTM memory width M.
    #[arg(long, default_value_t = 20)]
    memory_width: usize,
    /// NTM read heads.
    #[arg(long, default_value_t = 1)]
    read_heads: usize,
    /// NTM write heads.
    #[arg(long, default_value_t = 1)]
    write_heads: usize,
    /// NTM shift range r (shifts -r..=r).
    #[arg(long, default_value_t = 1)]
    shift_range: usize,
    /// NTM memory initialisation: constant or learned.
    #[arg(long, default_value = "constant", value_parser = parse::<MemoryInit>)]
    memory_init: MemoryInit,
    /// Baseline LSTM units per layer.
    #[arg(long, default_value_t = 256)]
    lstm_size: usize,
    /// Baseline LSTM layers.
    #[arg(long, default_value_t = 3)]
    lstm_layers: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Training sequences in all.
    #[arg(long, default_value_t = 50_000)]
    sequences: u64,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Largest L2 norm of each parameter's gradient, each clipped on its own.
    #[arg(long, default_value_t = 10.0)]
    clip: f32,
    /// Sequences between checkpoints.
    #[arg(long, default_value_t = 2_000)]
    checkpoint_every: u64,
    /// Sequences per row of metrics.csv (mean loss and bit errors).
    #[arg(long, default_value_t = 400)]
    report_every: u64,
    /// Stop after this many minutes (0: no limit), checkpointing first;
    /// `--resume` continues.
    #[arg(long, default_value_t = 0.0)]
    minutes: f64,
    /// Seed for initialisation and the task's random bits.
    #[arg(long, default_value_t = 1)]
    seed: u64,
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
    /// Folder under which `runs/ntm/<timestamp>/` is created.
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

#[derive(Args)]
struct EvalArgs {
    /// The run folder to evaluate.
    #[arg(long)]
    run: PathBuf,
    /// Size of the test sequences: length (copy, repeat copy) or items
    /// (recall).
    #[arg(long)]
    length: usize,
    /// Repeat copy: repeats (default: the most seen in training).
    #[arg(long)]
    repeats: Option<usize>,
    /// Test sequences.
    #[arg(long, default_value_t = 64)]
    sequences: usize,
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Seed for the test sequences.
    #[arg(long, default_value_t = 1000)]
    seed: u64,
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

impl Config {
    /// The task: the paper's distribution with this run's overrides.
    fn task(&self) -> Result<TaskConfig, String> {
        let mut task = TaskConfig::paper(self.task);
        task.bits = self.bits.unwrap_or(task.bits);
        task.min_size = self.min_size.unwrap_or(task.min_size);
        task.max_size = self.max_size.unwrap_or(task.max_size);
        task.max_repeats = self.max_repeats.unwrap_or(task.max_repeats);
        task.item_length = self.item_length.unwrap_or(task.item_length);
        task.validate().map_err(|e| e.to_string())?;
        Ok(task)
    }

    fn validate(&self) -> Result<(), String> {
        if self.batch == 0 {
            return Err("--batch must be at least 1".into());
        }
        if self.checkpoint_every == 0 || self.report_every == 0 {
            return Err("--checkpoint-every and --report-every must be at least 1".into());
        }
        if !(self.lr > 0.0) || !(self.clip > 0.0) {
            return Err(format!(
                "--lr and --clip must be positive, got {} and {}",
                self.lr, self.clip
            ));
        }
        Ok(())
    }
}

/// The NTM or the LSTM baseline, behind one forward.
#[derive(Module, Debug)]
enum Net {
    Ntm(Ntm),
    Lstm(LstmBaseline),
}

impl Net {
    fn new(config: &Config, task: &TaskConfig, device: &Device) -> Result<Net, String> {
        let (input, output) = (task.input_size(), task.output_size());
        let net = match config.model {
            ModelKind::Ntm => NtmConfig::new(input, output)
                .with_controller(config.controller)
                .with_controller_size(config.controller_size)
                .with_memory_rows(config.memory_rows)
                .with_memory_width(config.memory_width)
                .with_read_heads(config.read_heads)
                .with_write_heads(config.write_heads)
                .with_shift_range(config.shift_range)
                .with_memory_init(config.memory_init)
                .init(device)
                .map(Net::Ntm),
            ModelKind::Lstm => LstmBaselineConfig::new(input, output)
                .with_hidden_size(config.lstm_size)
                .with_layers(config.lstm_layers)
                .init(device)
                .map(Net::Lstm),
        };
        net.map_err(|e| e.to_string())
    }

    /// Logits `[batch, time, output]` for inputs `[batch, time, input]`.
    fn forward(&self, input: Tensor<3>) -> Result<Tensor<3>, NtmError> {
        match self {
            Net::Ntm(ntm) => ntm.forward(input),
            Net::Lstm(lstm) => lstm.forward(input),
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

/// The random bits of training batch `step`: a function of the seed and the
/// step alone, so a resumed run sees the batches it would have seen.
fn batch_rng(seed: u64, step: u64) -> SplitMix64 {
    SplitMix64::new(seed ^ (step + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn train(args: TrainArgs) -> Result<(), String> {
    // A new run, or the one being resumed (its saved config wins). The
    // configuration is checked before a new run folder is made.
    let (run, config) = match &args.resume {
        Some(path) => {
            let run = RunDir::open(path).map_err(|e| e.to_string())?;
            let config: Config = run.read_config().map_err(|e| e.to_string())?;
            (run, config)
        }
        None => {
            args.config.task()?;
            args.config.validate()?;
            let run = RunDir::create(&args.root, "ntm").map_err(|e| e.to_string())?;
            run.write_config(&args.config).map_err(|e| e.to_string())?;
            (run, args.config)
        }
    };
    config.validate()?;
    let task = config.task()?;
    let device = args.backend.autodiff_device();
    // The initial weights draw from the backend's generator.
    device.seed(config.seed);
    let mut model = Net::new(&config, &task, &device)?;
    eprintln!(
        "run {}: {} sizes {}..={}, {:?} with {} parameters, on {}",
        run.path().display(),
        task.task,
        task.min_size,
        task.max_size,
        config.model,
        model.num_params(),
        args.backend
    );
    let mut optimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(config.clip)))
        .init();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(|e| e.to_string())?;
    let mut state = TrainingState::new(0, 0);
    if let Some(checkpoint) = checkpointer.latest().map_err(|e| e.to_string())? {
        let (loaded, loaded_optimizer, loaded_state) = checkpointer
            .load(&checkpoint, model, Some(optimizer))
            .map_err(|e| e.to_string())?;
        (model, state) = (loaded, loaded_state);
        optimizer = loaded_optimizer.ok_or("checkpoint without optimizer state")?;
        eprintln!(
            "resumed from {} ({} sequences)",
            checkpoint.path.display(),
            state.step * config.batch as u64
        );
    }
    let mut metrics = MetricsLog::open(run.metrics(), &METRICS).map_err(|e| e.to_string())?;
    let batch = config.batch as u64;
    let total_steps = config.sequences.div_ceil(batch);
    // Steps are batches; checkpoints and reports fall on whole batches.
    let checkpoint_steps = config.checkpoint_every.div_ceil(batch);
    let report_steps = config.report_every.div_ceil(batch);
    // Training seconds of earlier sessions of this run.
    let mut seconds_before = state.extra["seconds"].as_f64().unwrap_or(0.0);
    let first_step = state.step;
    let mut progress = Progress::new(total_steps - first_step.min(total_steps), "seq/s");
    let started = Instant::now();
    let (mut loss_sum, mut error_sum, mut reported) = (0.0, 0.0, 0u64);

    while state.step < total_steps {
        let step = state.step;
        let data = task.sample(config.batch, &mut batch_rng(config.seed, step));
        let logits = data.answer(
            model
                .forward(data.input_tensor(&device))
                .map_err(|e| e.to_string())?,
        );
        let targets = data.target_tensor(&device);
        let loss = binary_cross_entropy(logits.clone(), targets.clone());
        let value = loss.clone().into_scalar::<f32>() as f64;
        check_finite("train loss", value, 0, step).map_err(|e| stopped(e, &checkpointer))?;
        // These parameters just gave a finite loss: a checkpoint of them is good.
        let elapsed = seconds_before + started.elapsed().as_secs_f64();
        let out_of_time =
            config.minutes > 0.0 && started.elapsed().as_secs_f64() > config.minutes * 60.0;
        if step > first_step && (step % checkpoint_steps == 0 || out_of_time) {
            state.extra = serde_json::json!({ "seconds": elapsed });
            checkpointer
                .save(&model, Some(&optimizer), &state)
                .map_err(|e| e.to_string())?;
        }
        if out_of_time {
            eprintln!(
                "\nstopped after {} minutes; --resume continues",
                config.minutes
            );
            break;
        }
        let errors = bit_errors(logits, targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(config.lr, model, grads);
        state.step += 1;
        loss_sum += value;
        error_sum += errors.iter().sum::<usize>() as f64 / errors.len() as f64;
        reported += 1;
        progress.update(1, batch, Some(value));
        if state.step % report_steps == 0 || state.step == total_steps {
            let elapsed = seconds_before + started.elapsed().as_secs_f64();
            metrics
                .append(&[
                    (state.step * batch) as f64,
                    loss_sum / reported as f64,
                    error_sum / reported as f64,
                    elapsed,
                ])
                .map_err(|e| e.to_string())?;
            (loss_sum, error_sum, reported) = (0.0, 0.0, 0);
            plot(&run)?;
        }
    }
    progress.finish();
    if state.step < total_steps {
        println!("run folder: {}", run.path().display());
        return Ok(());
    }

    // The final parameters are checked on held-out sequences of the largest
    // training size before they are checkpointed.
    let (inference, plain) = (model.valid(), args.backend.device());
    let size = task.max_size;
    let result = evaluate(
        &inference,
        &task,
        size,
        task.max_repeats,
        64,
        config.seed + 1,
        &plain,
    )?;
    check_finite("validation loss", result.loss, 0, state.step)
        .map_err(|e| stopped(e, &checkpointer))?;
    seconds_before += started.elapsed().as_secs_f64();
    state.extra = serde_json::json!({ "seconds": seconds_before });
    checkpointer
        .save(&model, Some(&optimizer), &state)
        .map_err(|e| e.to_string())?;
    pictures(
        &inference,
        &task,
        size,
        task.max_repeats,
        config.seed + 1,
        &run,
        &plain,
    )?;
    println!(
        "{} size {size}: {:.3} bit errors per sequence, loss {:.5} nats per bit ({} sequences in {:.0} s)",
        task.task,
        result.bit_errors,
        result.loss,
        state.step * batch,
        seconds_before
    );
    println!("run folder: {}", run.path().display());
    Ok(())
}

/// The message for a non-finite loss: training stops, and says which
/// checkpoint is the last good one.
fn stopped(error: recur_train::TrainError, checkpointer: &Checkpointer) -> String {
    let last = match checkpointer.latest() {
        Ok(Some(checkpoint)) => {
            format!("the last good checkpoint is {}", checkpoint.path.display())
        }
        _ => "no checkpoint was saved yet".to_string(),
    };
    format!("{error}: training stopped; {last}")
}

/// Mean loss and bit errors over test sequences of one size.
struct Evaluation {
    loss: f64,
    bit_errors: f64,
}

fn evaluate(
    model: &Net,
    task: &TaskConfig,
    size: usize,
    repeats: usize,
    sequences: usize,
    seed: u64,
    device: &Device,
) -> Result<Evaluation, String> {
    let mut rng = SplitMix64::new(seed);
    let (mut loss, mut errors, mut done) = (0.0, 0usize, 0usize);
    while done < sequences {
        let batch = (sequences - done).min(16);
        let data = task
            .generate(batch, size, repeats, &mut rng)
            .map_err(|e| e.to_string())?;
        let logits = data.answer(
            model
                .forward(data.input_tensor(device))
                .map_err(|e| e.to_string())?,
        );
        let targets = data.target_tensor(device);
        let mean = binary_cross_entropy(logits.clone(), targets.clone()).into_scalar::<f32>();
        loss += mean as f64 * batch as f64;
        errors += bit_errors(logits, targets).iter().sum::<usize>();
        done += batch;
    }
    Ok(Evaluation {
        loss: loss / sequences as f64,
        bit_errors: errors as f64 / sequences as f64,
    })
}

/// The paper's figures for one test sequence: input, target, output and, for
/// the NTM, the read and write weightings over time, one PNG each under
/// `plots/size-<size>-*.png`. Time runs left to right.
fn pictures(
    model: &Net,
    task: &TaskConfig,
    size: usize,
    repeats: usize,
    seed: u64,
    run: &RunDir,
    device: &Device,
) -> Result<(), String> {
    let data = task
        .generate(1, size, repeats, &mut SplitMix64::new(seed))
        .map_err(|e| e.to_string())?;
    let (logits, weightings) = match model {
        Net::Ntm(ntm) => {
            let trace = ntm
                .trace(data.input_tensor(device))
                .map_err(|e| e.to_string())?;
            let weightings = vec![
                ("read", trace.read_weightings),
                ("write", trace.write_weightings),
            ];
            (trace.logits, weightings)
        }
        Net::Lstm(_) => (
            model
                .forward(data.input_tensor(device))
                .map_err(|e| e.to_string())?,
            Vec::new(),
        ),
    };
    let output = burn::tensor::activation::sigmoid(data.answer(logits));
    let host = |t: Tensor<3>| -> Result<Vec<f32>, String> {
        t.into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    };
    let (time, answer) = (data.time, data.output_steps);
    let draw = |name: &str, title: &str, rows: usize, cols: usize, values: Vec<f32>| {
        // Stored [time, feature]; drawn feature x time, like the paper.
        let transposed: Vec<f32> = (0..cols * rows)
            .map(|i| values[(i % rows) * cols + i / rows])
            .collect();
        heatmap(
            &Heatmap {
                title,
                values: &transposed,
                rows: cols,
                cols: rows,
                row_labels: &[],
                col_labels: &[],
                range: Some((0.0, 1.0)),
            },
            run.plots().join(format!("size-{size:03}-{name}.png")),
        )
        .map_err(|e| e.to_string())
    };
    let input = data.input.clone();
    draw(
        "input",
        &format!("{} input, size {size}", task.task),
        time,
        data.input_size,
        input,
    )?;
    let target = data.target.clone();
    draw("target", "target", answer, data.output_size, target)?;
    draw(
        "output",
        "output (probabilities)",
        answer,
        data.output_size,
        host(output)?,
    )?;
    for (name, w) in weightings {
        let [_, steps, heads, rows] = w.dims();
        for head in 0..heads {
            let values = host(w.clone().narrow(2, head, 1).reshape([1, steps, rows]))?;
            let title = format!("{name} weightings, head {head} (location x time)");
            draw(&format!("{name}-{head}"), &title, steps, rows, values)?;
        }
    }
    Ok(())
}

/// The training curves as plots/loss.png and plots/bit-errors.png.
fn plot(run: &RunDir) -> Result<(), String> {
    let metrics = read_metrics(run.metrics()).map_err(|e| e.to_string())?;
    for (column, title) in [
        ("loss", "training loss (nats per bit)"),
        ("bit_errors", "training bit errors per sequence"),
    ] {
        let points = metrics.points("sequences", column).unwrap_or_default();
        line_chart(
            &[Series::new(column, points)],
            title,
            run.plots()
                .join(format!("{}.png", column.replace('_', "-"))),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<(), String> {
    let run = RunDir::open(&args.run).map_err(|e| e.to_string())?;
    let config: Config = run.read_config().map_err(|e| e.to_string())?;
    let task = config.task()?;
    if args.sequences == 0 {
        return Err("--sequences must be at least 1".into());
    }
    let repeats = args.repeats.unwrap_or(task.max_repeats);
    let device = args.backend.device();
    let checkpointer = Checkpointer::new(run.checkpoints(), 2).map_err(|e| e.to_string())?;
    let checkpoint = checkpointer
        .latest()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: no checkpoint yet", run.checkpoints().display()))?;
    let (model, _, state) = checkpointer
        .load(&checkpoint, Net::new(&config, &task, &device)?, None)
        .map_err(|e| e.to_string())?;
    let result = evaluate(
        &model,
        &task,
        args.length,
        repeats,
        args.sequences,
        args.seed,
        &device,
    )?;
    pictures(
        &model,
        &task,
        args.length,
        repeats,
        args.seed,
        &run,
        &device,
    )?;
    let repeats = if task.task == Task::RepeatCopy {
        format!(", {repeats} repeats")
    } else {
        String::new()
    };
    println!(
        "{} size {}{repeats}: {:.3} bit errors per sequence, loss {:.5} nats per bit ({} test sequences; trained on {} sequences of sizes {}..={})",
        task.task,
        args.length,
        result.bit_errors,
        result.loss,
        args.sequences,
        state.step * config.batch as u64,
        task.min_size,
        task.max_size
    );
    Ok(())
}
