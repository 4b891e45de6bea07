//! The training loop: one for every app.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
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
/// checkpoint; `--minutes` or `--steps` ends the run early (continued by
/// `--resume`).
pub fn train<T: Task, C: Serialize>(
    task: &mut T,
    flags: &TrainFlags,
    config: &C,
    resumed: Option<RunDir>,
) -> Result<Trained<T::Model>, AppError> {
    flags.validate()?;
    let mut session = Session::start(task, flags, config, resumed)?;
    // Rank 0 decides whether to go on; the others follow its word, so that
    // no rank waits for a step the others never take.
    let spent = session.leader
        && session.spent(flags, session.state.seconds, session.state.step)
        && session.state.epoch < flags.epochs;
    if spent {
        eprintln!(
            "the run's budget (--minutes {}, --steps {}) is spent: --resume with a larger one continues",
            flags.minutes, flags.steps
        );
    }
    let mut go_on = session.workers.agree(!spent);
    while go_on && session.state.epoch < flags.epochs {
        let epoch = session.train_epoch(task, flags)?;
        session.state.seconds = session.clock.elapsed();
        if session.leader {
            session.end_epoch(task, flags, &epoch)?;
        }
        let spent =
            session.leader && session.spent(flags, session.clock.elapsed(), session.state.step);
        go_on = session.workers.agree(!epoch.budget_spent && !spent);
    }
    if let (true, Some(run)) = (session.leader, &session.run) {
        eprintln!("run folder: {}", run.path().display());
    }
    Ok(Trained {
        model: session.model.valid(),
        run: session.run.filter(|_| session.leader),
        state: session.state,
    })
}

/// One process's part of a training run, between its start and its end.
struct Session<M> {
    workers: Workers,
    /// Whether this is rank 0, the worker that validates and writes.
    leader: bool,
    /// The training device (with autodiff) and its plain twin (validation).
    device: Device,
    plain: Device,
    /// The run folder: on rank 0, and on every rank of a resumed run.
    run: Option<RunDir>,
    checkpointer: Option<Checkpointer>,
    /// `best/`, on rank 0 when the task names a best metric.
    best: Option<Checkpointer>,
    optimizer: ModuleOptimizer,
    model: M,
    state: TrainingState,
    clock: Clock,
    /// `RECUR_CHECK_WORKERS=1`: check after every step that all workers
    /// hold the same weights.
    check_workers: bool,
}

/// What one epoch's training steps did.
struct Epoch {
    number: usize,
    lr: f64,
    loss_sum: f64,
    steps: usize,
    items: u64,
    seconds: f64,
    /// Rank 0 spent the run's budget during the epoch, which ended early.
    budget_spent: bool,
}

/// The wall clock of the whole run, over every invocation.
struct Clock {
    started: Instant,
    seconds_before: f64,
    /// `--minutes` in seconds; 0: no limit.
    budget: f64,
}

impl Clock {
    /// Seconds of the run so far.
    fn elapsed(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    fn out_of_time(&self, seconds: f64) -> bool {
        self.budget > 0.0 && seconds >= self.budget
    }
}

impl<M: Module> Session<M> {
    /// Whether the run's budget, `--minutes` or `--steps`, is spent at
    /// `seconds` into the run with `steps` optimizer steps done.
    fn spent(&self, flags: &TrainFlags, seconds: f64, steps: u64) -> bool {
        self.clock.out_of_time(seconds) || (flags.steps > 0 && steps >= flags.steps)
    }

    /// Joins the workers, builds the model, makes the run folder (rank 0, a
    /// new run) or loads the latest checkpoint (a resumed run), and gives
    /// every worker rank 0's weights.
    fn start<T: Task<Model = M>, C: Serialize>(
        task: &mut T,
        flags: &TrainFlags,
        config: &C,
        resumed: Option<RunDir>,
    ) -> Result<Session<M>, AppError> {
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
            let workers = match flags.workers {
                1 => String::new(),
                n => format!(", {n} workers"),
            };
            let about = task.describe(&model);
            eprintln!(
                "run {}: {about} on {}{workers}",
                run.path().display(),
                flags.backend
            );
        }
        let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
        let checkpointer = match &run {
            Some(run) => Some(Checkpointer::new(run.checkpoints(), 2)?),
            None => None,
        };
        let latest = match &checkpointer {
            Some(checkpointer) => checkpointer.latest()?.map(|c| (checkpointer, c)),
            None => None,
        };
        let (model, state) = match latest {
            Some((checkpointer, checkpoint)) => {
                let (model, loaded, state) =
                    checkpointer.load(&checkpoint, model, Some(optimizer))?;
                optimizer = loaded.ok_or("checkpoint without optimizer state")?;
                if leader {
                    let (epoch, step) = (state.epoch, state.step);
                    let path = checkpoint.path.display();
                    eprintln!("resumed from {path} (epoch {epoch}, step {step})");
                }
                (model, state)
            }
            None => (model, TrainingState::new(0, 0)),
        };
        let model = workers.share_weights(model);
        let rank = workers.shard().rank;
        if rank > 0 {
            // Each worker's own draws (dropout) for its shard; rank 0 keeps
            // the seed's, so that one worker trains as before.
            device.seed(flags.seed.wrapping_add(rank as u64));
        }
        let best = match (&run, T::BEST) {
            (Some(run), Some(_)) if leader => Some(Checkpointer::new(run.best(), 1)?),
            _ => None,
        };
        Ok(Session {
            clock: Clock {
                started: Instant::now(),
                seconds_before: state.seconds,
                budget: flags.minutes * 60.0,
            },
            check_workers: std::env::var("RECUR_CHECK_WORKERS").is_ok_and(|v| v == "1"),
            plain: flags.backend.device(),
            workers,
            leader,
            device,
            run,
            checkpointer,
            best,
            optimizer,
            model,
            state,
        })
    }

    /// The next epoch's training steps, with a progress bar on rank 0.
    fn train_epoch<T: Task<Model = M>>(
        &mut self,
        task: &mut T,
        flags: &TrainFlags,
    ) -> Result<Epoch, AppError> {
        let number = self.state.epoch + 1;
        let batches = task.batches(number)?;
        let mut progress = self.leader.then(|| {
            Progress::new(batches.len() as u64, &format!("{}/s", T::UNIT))
                .with_epoch(number, flags.epochs)
        });
        let started = Instant::now();
        let mut epoch = Epoch {
            number,
            lr: flags.lr_at(number),
            loss_sum: 0.0,
            steps: 0,
            items: 0,
            seconds: 0.0,
            budget_spent: false,
        };
        for batch in &batches {
            let (loss, budget_spent) = self.step(task, flags, batch, &epoch)?;
            epoch.loss_sum += loss;
            epoch.steps += 1;
            epoch.items += task.items(batch);
            if let Some(progress) = &mut progress {
                progress.update(1, task.items(batch), Some(loss));
            }
            if budget_spent {
                epoch.budget_spent = true;
                break;
            }
        }
        if let Some(progress) = &mut progress {
            progress.finish();
        }
        epoch.seconds = started.elapsed().as_secs_f64();
        self.state.epoch = number;
        Ok(epoch)
    }

    /// One optimizer step on `batch`: this worker's shard's loss, the
    /// gradients of the whole batch (averaged over the workers), the NaN
    /// guard, the clip, Adam. Returns the batch's mean loss and whether
    /// rank 0 has spent the run's budget.
    fn step<T: Task<Model = M>>(
        &mut self,
        task: &mut T,
        flags: &TrainFlags,
        batch: &T::Batch,
        epoch: &Epoch,
    ) -> Result<(f64, bool), AppError> {
        let loss = task.loss(&self.model, batch, self.workers.shard(), &self.device)?;
        let mean = f64::from(loss.mean.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.mean.backward(), &self.model);
        let budget_spent =
            self.leader && self.spent(flags, self.clock.elapsed(), self.state.step + 1);
        let reduced = self
            .workers
            .reduce(&self.model, grads, mean, loss.items, budget_spent);
        if !reduced.loss.is_finite() {
            let checkpointer = self.checkpointer.as_ref();
            let at = (epoch.number, &self.state);
            return Err(non_finite("train loss", reduced.loss, at, checkpointer));
        }
        let grads = if flags.clip > 0.0 {
            clip_grad_norm(&self.model, reduced.grads, flags.clip)
        } else {
            reduced.grads
        };
        self.model = self.optimizer.step(epoch.lr, self.model.clone(), grads);
        self.state.step += 1;
        if self.check_workers {
            self.workers
                .check_same_weights(&self.model, self.state.step)?;
        }
        Ok((reduced.loss, reduced.budget_spent))
    }

    /// Rank 0 after an epoch: validation, the metrics row and its summary
    /// line, the loss plot, `best/` and the latest checkpoint.
    fn end_epoch<T: Task<Model = M>>(
        &mut self,
        task: &mut T,
        flags: &TrainFlags,
        epoch: &Epoch,
    ) -> Result<(), AppError> {
        let (Some(run), Some(checkpointer)) = (&self.run, &self.checkpointer) else {
            return Ok(());
        };
        let metrics = task.evaluate(&self.model.valid(), epoch.number, run, &self.plain)?;
        // The validation's time counts towards the budget too.
        self.state.seconds = self.clock.elapsed();
        let mut row = vec![
            ("epoch".to_string(), epoch.number as f64),
            ("step".to_string(), self.state.step as f64),
            (
                "train_loss".to_string(),
                epoch.loss_sum / epoch.steps.max(1) as f64,
            ),
        ];
        row.extend(row_values(&metrics, &run.metrics())?);
        row.push(("lr".to_string(), epoch.lr));
        let rate = epoch.items as f64 / epoch.seconds.max(1e-9);
        row.push((format!("{}_per_second", T::UNIT), rate));
        row.push(("seconds".to_string(), self.state.seconds));
        eprintln!("{}", summary(&row, T::UNIT));
        let (bytes, seconds) = self.workers.take_traffic();
        if flags.workers > 1 {
            let steps = epoch.steps.max(1) as f64;
            eprintln!(
                "all-reduce: {:.2} MB of gradients per step, {:.1} ms per step ({:.0}% of training time)",
                bytes as f64 / steps / 1e6,
                seconds * 1e3 / steps,
                100.0 * seconds / epoch.seconds.max(1e-9)
            );
        }
        write_row(&run.metrics(), &row)?;
        plot_loss(run, T::SYSTEM)?;
        if let (Some(best), Some(rule)) = (&self.best, T::BEST) {
            let value = row
                .iter()
                .find(|(name, _)| name == rule.metric)
                .map(|&(_, value)| value)
                .ok_or_else(|| format!("no metric `{}` to keep the best model by", rule.metric))?;
            // Infinite: the model diverged. NaN: nothing to compare (no
            // validation data; a NaN training loss has stopped the run).
            if value.is_infinite() {
                let at = (epoch.number, &self.state);
                return Err(non_finite(rule.metric, value, at, Some(checkpointer)));
            }
            let better = !value.is_nan()
                && self
                    .state
                    .best_valid
                    .is_none_or(|best| match rule.higher_is_better {
                        true => value > best,
                        false => value < best,
                    });
            if better {
                self.state.best_valid = Some(value);
                // Before the latest checkpoint: a resume after a kill in
                // between redoes this epoch and saves it again.
                best.save(&self.model, None, &self.state)?;
            }
        }
        checkpointer.save(&self.model, Some(&self.optimizer), &self.state)?;
        Ok(())
    }
}

/// The error that stops a run on a NaN or infinite value, naming the last
/// good checkpoint.
fn non_finite(
    name: &str,
    value: f64,
    (epoch, state): (usize, &TrainingState),
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
