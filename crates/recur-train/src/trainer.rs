//! The training loop: one for every app.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::metrics::{row_values, write_row};
use crate::plot::{Series, line_chart};
use crate::workers::Workers;
use crate::{
    AppError, Checkpointer, Progress, RunDir, Shard, TrainError, TrainFlags, TrainingState,
    clip_grad_norm, read_metrics,
};

/// What an app brings to the training loop: its model, its batches, its
/// loss and its evaluation. [`train`] does the rest.
pub trait Task {
    /// The model trained.
    type Model: Module;
    /// One batch, the same on every worker; each trains on its [`Shard`].
    type Batch;
    /// What one evaluation reports: a struct of numbers (`f64`, `f32`,
    /// integers, `Option`s of them), one `metrics.csv` column per field, in
    /// the order of the fields.
    type Metrics: Serialize;

    /// The system's name: runs go to `runs/<SYSTEM>/<timestamp>/`.
    const SYSTEM: &'static str;
    /// What the items of [`Task::items`] are, for the rate: `chars`,
    /// `sentences`, ...
    const UNIT: &'static str;
    /// The metric whose best value is kept in `best/`, if any.
    const BEST: Option<Best> = None;

    /// A freshly initialised model on `device` (seeded by `--seed`).
    fn model(&self, device: &Device) -> Result<Self::Model, AppError>;

    /// One line about the data and the model, printed after the run's
    /// folder (`run <folder>: <this>`).
    fn describe(&self, _model: &Self::Model) -> String {
        String::new()
    }

    /// Writes what a new run needs beside its checkpoints (vocabularies,
    /// ...) into its folder.
    fn save(&self, _run: &RunDir) -> Result<(), AppError> {
        Ok(())
    }

    /// The batches of `epoch` (from 1), in training order; the same on
    /// every worker and for a resumed run.
    fn batches(&mut self, epoch: usize) -> Result<Vec<Self::Batch>, AppError>;

    /// The number of items (sentences, characters, ...) in `batch`, for the
    /// progress rate.
    fn items(&self, batch: &Self::Batch) -> u64;

    /// The loss of `shard` of `batch` on `device` (with autodiff).
    fn loss(
        &mut self,
        model: &Self::Model,
        batch: &Self::Batch,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError>;

    /// Validation after `epoch`, with the model's autodiff-free copy on
    /// `device`; may also write samples and pictures into `run`.
    fn evaluate(
        &mut self,
        model: &Self::Model,
        epoch: usize,
        run: &RunDir,
        device: &Device,
    ) -> Result<Self::Metrics, AppError>;
}

/// A shard's loss: the mean over its items, and how many items that is.
/// Workers' gradients are weighted by their items, so the step is the one
/// of the whole batch's mean loss.
#[derive(Debug, Clone)]
pub struct Loss {
    /// The mean loss over the shard's items (a one-element tensor).
    pub mean: Tensor<1>,
    /// The items averaged (tokens, sequences, ...).
    pub items: f64,
}

/// The metric a run keeps its best checkpoint for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Best {
    /// The [`Task::Metrics`] field.
    pub metric: &'static str,
    /// Whether higher is better (BLEU) or lower (a loss).
    pub higher_is_better: bool,
}

/// What [`train`] leaves behind.
#[derive(Debug)]
pub struct Trained<M> {
    /// The last model, autodiff-free.
    pub model: M,
    /// The run folder; `None` on workers other than rank 0, which write
    /// nothing and should end.
    pub run: Option<RunDir>,
    /// Where training stopped.
    pub state: TrainingState,
}

/// Trains `task`'s model as `flags` say: a new run under `flags.root`, or
/// the `resumed` one from its latest checkpoint (both as
/// [`RunConfig`](crate::RunConfig) resolved them); `config` is the app's
/// whole configuration, written to the run's `config.json`.
///
/// Every epoch: the learning rate of [`TrainFlags::lr_at`], Adam (PyTorch's
/// epsilon 1e-8), the joint-norm clip of `--clip`, a progress bar, then
/// validation ([`Task::evaluate`]), one `metrics.csv` row, `plots/loss.png`,
/// the latest checkpoint and, if [`Task::BEST`] improved, `best/`. A NaN or
/// infinite loss stops training with an error that names the last good
/// checkpoint; `--minutes` ends the run early (continued by `--resume`).
pub fn train<T: Task, C: Serialize>(
    task: &mut T,
    flags: &TrainFlags,
    config: &C,
    resumed: Option<RunDir>,
) -> Result<Trained<T::Model>, AppError> {
    flags.validate()?;
    let workers = Workers::join(flags.workers)?;
    let leader = workers.is_leader();
    let device = flags.backend.autodiff_device();
    device.seed(flags.seed);
    let model = task.model(&device)?;
    crate::workers::initialize_params(&model);
    // Only now, with the data read and the model built, is a folder made.
    let run = match resumed {
        Some(run) => Some(run),
        None if leader => {
            let run = RunDir::create(&flags.root, T::SYSTEM)?;
            task.save(&run)?;
            Some(run)
        }
        None => None,
    };
    if let (true, Some(run)) = (leader, &run) {
        run.write_config(config)?;
        eprintln!(
            "run {}: {} on {}{}",
            run.path().display(),
            task.describe(&model),
            flags.backend,
            match flags.workers {
                1 => String::new(),
                n => format!(", {n} workers"),
            }
        );
    }
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let checkpointer = match &run {
        Some(run) => Some(Checkpointer::new(run.checkpoints(), 2)?),
        None => None,
    };
    let latest = match &checkpointer {
        Some(checkpointer) => checkpointer.latest()?,
        None => None,
    };
    let (model, mut state) = match (&checkpointer, latest) {
        (Some(checkpointer), Some(checkpoint)) => {
            let (model, loaded, state) = checkpointer.load(&checkpoint, model, Some(optimizer))?;
            optimizer = loaded.ok_or("checkpoint without optimizer state")?;
            if leader {
                eprintln!(
                    "resumed from {} (epoch {}, step {})",
                    checkpoint.path.display(),
                    state.epoch,
                    state.step
                );
            }
            (model, state)
        }
        _ => (model, TrainingState::new(0, 0)),
    };
    let mut model = workers.share_weights(model);
    let shard = workers.shard();
    if shard.rank > 0 {
        // Each worker's own draws (dropout) for its shard; rank 0 keeps the
        // seed's, so that one worker trains as before.
        device.seed(flags.seed.wrapping_add(shard.rank as u64));
    }
    let best = match (&run, T::BEST) {
        (Some(run), Some(_)) if leader => Some(Checkpointer::new(run.best(), 1)?),
        _ => None,
    };
    let check_workers = std::env::var("RECUR_CHECK_WORKERS").is_ok_and(|v| v == "1");
    let plain = flags.backend.device();
    let budget = flags.minutes * 60.0;
    let started = Instant::now();
    let seconds_before = state.seconds;
    let elapsed = || seconds_before + started.elapsed().as_secs_f64();
    let out_of_time = |seconds: f64| flags.minutes > 0.0 && seconds >= budget;
    // Rank 0 decides whether to go on; the others follow its word, so that
    // no rank waits for a step the others never take.
    let spent = leader && out_of_time(seconds_before) && state.epoch < flags.epochs;
    if spent {
        eprintln!(
            "the run's budget of {} minutes is spent: --resume with a larger --minutes continues",
            flags.minutes
        );
    }
    let mut go_on = workers.agree(!spent);
    while go_on && state.epoch < flags.epochs {
        let epoch = state.epoch + 1;
        let lr = flags.lr_at(epoch);
        let batches = task.batches(epoch)?;
        let mut progress = leader.then(|| {
            Progress::new(batches.len() as u64, &format!("{}/s", T::UNIT))
                .with_epoch(epoch, flags.epochs)
        });
        let epoch_started = Instant::now();
        let (mut loss_sum, mut steps, mut items) = (0.0, 0usize, 0u64);
        let mut stop = false;
        for batch in &batches {
            let loss = task.loss(&model, batch, shard, &device)?;
            let mean = f64::from(loss.mean.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.mean.backward(), &model);
            let reduced = workers.reduce(
                &model,
                grads,
                mean,
                loss.items,
                leader && out_of_time(elapsed()),
            );
            if !reduced.loss.is_finite() {
                return Err(non_finite(
                    "train loss",
                    reduced.loss,
                    epoch,
                    &state,
                    checkpointer.as_ref(),
                ));
            }
            let grads = if flags.clip > 0.0 {
                clip_grad_norm(&model, reduced.grads, flags.clip)
            } else {
                reduced.grads
            };
            model = optimizer.step(lr, model, grads);
            state.step += 1;
            if check_workers {
                workers.check_same_weights(&model, state.step)?;
            }
            (loss_sum, steps) = (loss_sum + reduced.loss, steps + 1);
            items += task.items(batch);
            if let Some(progress) = &mut progress {
                progress.update(1, task.items(batch), Some(reduced.loss));
            }
            if reduced.out_of_time {
                stop = true;
                break;
            }
        }
        if let Some(progress) = &mut progress {
            progress.finish();
        }
        let train_seconds = epoch_started.elapsed().as_secs_f64();
        state.epoch = epoch;

        // Rank 0 validates and writes; the others wait for its word.
        if let (true, Some(run), Some(checkpointer)) = (leader, &run, &checkpointer) {
            let metrics = task.evaluate(&model.valid(), epoch, run, &plain)?;
            let mut row = vec![
                ("epoch".to_string(), epoch as f64),
                ("step".to_string(), state.step as f64),
                ("train_loss".to_string(), loss_sum / steps.max(1) as f64),
            ];
            row.extend(row_values(&metrics, &run.metrics())?);
            row.push(("lr".to_string(), lr));
            row.push((
                format!("{}_per_second", T::UNIT),
                items as f64 / train_seconds.max(1e-9),
            ));
            state.seconds = elapsed();
            row.push(("seconds".to_string(), state.seconds));
            eprintln!("{}", summary(&row, T::UNIT));
            let (bytes, seconds) = workers.take_traffic();
            if flags.workers > 1 {
                eprintln!(
                    "all-reduce: {:.2} MB of gradients per step, {:.1} ms per step ({:.0}% of training time)",
                    bytes as f64 / steps.max(1) as f64 / 1e6,
                    seconds * 1e3 / steps.max(1) as f64,
                    100.0 * seconds / train_seconds.max(1e-9)
                );
            }
            write_row(&run.metrics(), &row)?;
            plot_loss(run, T::SYSTEM)?;
            if let (Some(best_checkpointer), Some(rule)) = (&best, T::BEST) {
                let value = row
                    .iter()
                    .find(|(name, _)| name == rule.metric)
                    .map(|&(_, value)| value)
                    .ok_or_else(|| {
                        format!("no metric `{}` to keep the best model by", rule.metric)
                    })?;
                // Infinite: the model diverged. NaN: nothing to compare (no
                // validation data; a NaN training loss has stopped the run).
                if value.is_infinite() {
                    return Err(non_finite(
                        rule.metric,
                        value,
                        epoch,
                        &state,
                        Some(checkpointer),
                    ));
                }
                let better = !value.is_nan()
                    && state.best_valid.is_none_or(|best| {
                        if rule.higher_is_better {
                            value > best
                        } else {
                            value < best
                        }
                    });
                if better {
                    state.best_valid = Some(value);
                    // Before the latest checkpoint: a resume after a kill in
                    // between redoes this epoch and saves it again.
                    best_checkpointer.save(&model, None, &state)?;
                }
            }
            checkpointer.save(&model, Some(&optimizer), &state)?;
        } else {
            state.seconds = elapsed();
        }
        go_on = workers.agree(!stop && !(leader && out_of_time(elapsed())));
    }
    if let (true, Some(run)) = (leader, &run) {
        eprintln!("run folder: {}", run.path().display());
    }
    Ok(Trained {
        model: model.valid(),
        run: run.filter(|_| leader),
        state,
    })
}

/// The error that stops a run on a NaN or infinite value, naming the last
/// good checkpoint.
fn non_finite(
    name: &str,
    value: f64,
    epoch: usize,
    state: &TrainingState,
    checkpointer: Option<&Checkpointer>,
) -> AppError {
    let error = TrainError::NonFinite {
        name: name.replace('_', " "),
        value,
        epoch,
        step: state.step,
    };
    let last = match checkpointer.map(Checkpointer::latest) {
        Some(Ok(Some(checkpoint))) => {
            format!("the last good checkpoint is {}", checkpoint.path.display())
        }
        _ => "no checkpoint was saved yet".to_string(),
    };
    format!("{error}: training stopped; {last}").into()
}

/// `epoch 3: train_loss 1.2345, valid_loss 1.3012, ..., 12,345 chars/s`.
fn summary(row: &[(String, f64)], unit: &str) -> String {
    let rate = format!("{unit}_per_second");
    let mut parts = Vec::new();
    for (name, value) in row {
        match name.as_str() {
            "epoch" | "step" | "seconds" => {}
            "lr" => parts.push(format!("lr {value:.2e}")),
            name if name == rate => parts.push(format!(
                "{} {unit}/s",
                crate::format_count(value.max(0.0).round() as u64)
            )),
            name => parts.push(format!("{name} {value:.4}")),
        }
    }
    format!("epoch {}: {}", row[0].1, parts.join(", "))
}

/// `plots/loss.png`: training and validation loss by epoch.
fn plot_loss(run: &RunDir, system: &str) -> Result<(), TrainError> {
    let metrics = read_metrics(run.metrics())?;
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
        &format!("{system} loss"),
        run.plots().join("loss.png"),
    )
}
