//! ntm: the chapter's Neural Turing Machine on the paper's algorithmic tasks,
//! with the LSTM baseline it is compared against.
//!
//! ```text
//! cargo xtask train ntm --task copy|repeat-copy|recall [--backend flex] [--model ntm|lstm]
//! cargo xtask train ntm --resume runs/ntm/<timestamp> [--epochs 100]
//! cargo xtask eval ntm --run runs/ntm/<timestamp> --length 40
//! ```

mod config;
mod net;
mod report;

use burn::module::Module;
use burn::tensor::Device;
use clap::Parser;
use recur_data::SplitMix64;
use recur_ntm::loss::{binary_cross_entropy, bit_errors};
use recur_ntm::{Batch, TaskConfig};
use recur_train::{AppError, Best, Defaults, Loss, RunConfig, RunDir, Shard, load_best};
use serde::Serialize;

use crate::config::{Config, EvalArgs};
use crate::net::Net;
use crate::report::{eval, measure, pictures, plot_bit_errors};

/// Keeps freed memory for reuse: glibc's malloc hands large tensor buffers
/// back to the kernel and faults them in again on every step (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The system's name: its runs are `runs/ntm/<timestamp>/`.
const SYSTEM: &str = "ntm";

/// Batch 4: four times the updates per sequence of batch 16, at about half
/// the sequences per second; copy fell below 0.1 bit errors per sequence
/// within 7,000-17,000 sequences, where batch 16 had not after 30,000 (3
/// seeds each, docs/RESULTS.md).
const DEFAULTS: Defaults = Defaults {
    epochs: 50,
    batch: 4,
    lr: 1e-3,
    lr_decay: 1.0,
    clip: 10.0,
};
/// Held-out sequences of the largest training size, validated every epoch.
const VALID_SEQUENCES: usize = 64;

#[derive(Parser)]
#[command(
    name = "ntm",
    about = "Neural Turing Machine on copy, repeat copy and recall"
)]
enum Cli {
    /// Train on a task, or resume a run.
    Train(Config),
    /// Bit errors per sequence of a run's best model at one size, and
    /// pictures of one test sequence.
    Eval(EvalArgs),
}

/// The random bits of training batch `step`: a function of the seed and the
/// step alone, so a resumed run sees the batches it would have seen.
fn batch_rng(seed: u64, step: u64) -> SplitMix64 {
    SplitMix64::new(seed ^ (step + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Training on freshly generated sequences of the task.
struct Training {
    config: Config,
    task: TaskConfig,
    /// Wrong bits and sequences of this epoch's batches so far (this
    /// worker's rows).
    errors: (usize, usize),
}

/// One row of metrics.csv beside the loop's own columns.
#[derive(Serialize)]
struct Metrics {
    /// Wrong bits per training sequence over the epoch (with `--workers
    /// N`, over rank 0's 1/N of each batch: an estimate from a sample of
    /// the epoch's sequences; the loss is the whole batch's).
    train_bit_errors: f64,
    /// Nats per bit on held-out sequences of the largest training size.
    valid_loss: f64,
    /// Wrong bits per held-out sequence.
    valid_bit_errors: f64,
}

impl recur_train::Task for Training {
    type Model = Net;
    type Batch = Batch;
    type Metrics = Metrics;
    const SYSTEM: &'static str = crate::SYSTEM;
    const UNIT: &'static str = "sequences";
    // The loss, not the bit errors: once those reach 0 every later epoch
    // ties, and the model kept would be the first with none, the least
    // trained (its copies of 120 steps were worse).
    const BEST: Option<Best> = Some(Best {
        metric: "valid_loss",
        higher_is_better: false,
    });

    fn model(&self, device: &Device) -> Result<Net, AppError> {
        Ok(Net::new(&self.config, &self.task, device)?)
    }

    fn describe(&self, model: &Net) -> String {
        let task = &self.task;
        format!(
            "{} sizes {}..={}, {} batches of {} per epoch, {:?} with {} parameters",
            task.task,
            task.min_size,
            task.max_size,
            self.config.steps_per_epoch(),
            self.config.train.batch,
            self.config.model,
            model.num_params()
        )
    }

    fn batches(&mut self, epoch: usize) -> Result<Vec<Batch>, AppError> {
        self.errors = (0, 0);
        let (seed, batch) = (self.config.train.seed, self.config.train.batch);
        let steps = self.config.steps_per_epoch();
        let first = (epoch as u64 - 1) * steps;
        let sample = |step| self.task.sample(batch, &mut batch_rng(seed, step));
        Ok((first..first + steps).map(sample).collect())
    }

    fn items(&self, data: &Batch) -> u64 {
        data.batch as u64
    }

    fn loss(
        &mut self,
        model: &Net,
        data: &Batch,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError> {
        let rows = shard.range(data.batch);
        let input = data.input_tensor(device).narrow(0, rows.start, rows.len());
        let targets = data.target_tensor(device).narrow(0, rows.start, rows.len());
        let logits = data.answer(model.forward(input)?);
        let errors = bit_errors(logits.clone(), targets.clone());
        self.errors.0 += errors.iter().sum::<usize>();
        self.errors.1 += errors.len();
        // A mean over equally many bits per sequence: weighted by sequences.
        let mean = binary_cross_entropy(logits, targets);
        Ok(Loss {
            mean,
            items: rows.len() as f64,
        })
    }

    fn evaluate(
        &mut self,
        model: &Net,
        epoch: usize,
        run: &RunDir,
        device: &Device,
    ) -> Result<Metrics, AppError> {
        let (errors, sequences) = std::mem::take(&mut self.errors);
        let (task, seed) = (&self.task, self.config.train.seed + 1);
        let valid = measure(
            model,
            task,
            task.max_size,
            task.max_repeats,
            VALID_SEQUENCES,
            seed,
            device,
        )?;
        let train_bit_errors = errors as f64 / sequences.max(1) as f64;
        let now = [
            ("train_bit_errors", train_bit_errors),
            ("valid_bit_errors", valid.bit_errors),
        ];
        plot_bit_errors(run, epoch, now)?;
        Ok(Metrics {
            train_bit_errors,
            valid_loss: valid.loss,
            valid_bit_errors: valid.bit_errors,
        })
    }
}

fn main() {
    recur_train::run_cli(&DEFAULTS, |cli: Cli, matches| match cli {
        Cli::Train(config) => train(config, matches),
        Cli::Eval(args) => eval(args),
    });
}

fn train(given: Config, matches: &clap::ArgMatches) -> Result<(), AppError> {
    let RunConfig { config, resumed } = RunConfig::resolve(SYSTEM, given, matches)?;
    let task = config.task()?;
    let mut training = Training {
        config: config.clone(),
        task: task.clone(),
        errors: (0, 0),
    };
    let trained = recur_train::train(&mut training, &config.train, &config, resumed)?;
    let Some(run) = trained.run else {
        return Ok(());
    };
    // The best model, on held-out sequences of the largest training size.
    let device = config.train.backend.device();
    let (model, state) = load_best(&run, Net::new(&config, &task, &device)?)?;
    let (size, repeats, seed) = (task.max_size, task.max_repeats, config.train.seed + 1);
    let result = measure(&model, &task, size, repeats, VALID_SEQUENCES, seed, &device)?;
    pictures(&model, &task, size, repeats, seed, &run, &device)?;
    println!(
        "{} size {size}: {:.3} bit errors per sequence, loss {:.5} nats per bit (best model: epoch {}, {} sequences)",
        task.task,
        result.bit_errors,
        result.loss,
        state.epoch,
        state.step * config.train.batch as u64
    );
    Ok(())
}
