//! The training loop on a tiny task: metric rows, the best checkpoint, the
//! NaN guard, the `--minutes` and `--steps` budgets, resume, and the flags'
//! checks.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use recur_train::{
    AppError, Backend, Best, Loss, RunDir, Shard, Task, TrainFlags, read_metrics, row_values, train,
};
use serde::Serialize;

use crate::common::scratch;

/// Learns y = 2x; `poison_at` makes the loss NaN from that step on.
struct Line {
    steps: usize,
    poison_at: Option<usize>,
    seen: usize,
}

#[derive(Serialize)]
struct Metrics {
    valid_loss: f64,
    none: Option<f64>,
}

impl Task for Line {
    type Model = Linear;
    type Batch = Vec<f32>;
    type Metrics = Metrics;
    const SYSTEM: &'static str = "line";
    const UNIT: &'static str = "points";
    const BEST: Option<Best> = Some(Best {
        metric: "valid_loss",
        higher_is_better: false,
    });

    fn model(&self, device: &Device) -> Result<Linear, AppError> {
        Ok(LinearConfig::new(1, 1).with_bias(false).init(device))
    }

    fn batches(&mut self, _epoch: usize) -> Result<Vec<Vec<f32>>, AppError> {
        Ok(vec![vec![1.0, 2.0, 3.0]; self.steps])
    }

    fn items(&self, batch: &Vec<f32>) -> u64 {
        batch.len() as u64
    }

    fn loss(
        &mut self,
        model: &Linear,
        batch: &Vec<f32>,
        shard: Shard,
        device: &Device,
    ) -> Result<Loss, AppError> {
        let xs = &batch[shard.range(batch.len())];
        let x = Tensor::<2>::from_data(TensorData::new(xs.to_vec(), [xs.len(), 1]), device);
        let mut mean = (model.forward(x.clone()) - x * 2.0).square().mean();
        if self.poison_at.is_some_and(|step| self.seen >= step) {
            mean = mean * f32::NAN;
        }
        self.seen += 1;
        Ok(Loss {
            mean,
            items: xs.len() as f64,
        })
    }

    fn evaluate(
        &mut self,
        model: &Linear,
        _epoch: usize,
        _run: &RunDir,
        _device: &Device,
    ) -> Result<Metrics, AppError> {
        let w: f32 = model.weight.val().into_scalar();
        Ok(Metrics {
            valid_loss: f64::from((w - 2.0).powi(2)),
            none: None,
        })
    }
}

fn flags(root: &std::path::Path, epochs: usize) -> TrainFlags {
    TrainFlags {
        backend: Backend::Ndarray,
        epochs,
        lr: 0.05,
        root: root.to_path_buf(),
        ..TrainFlags::default()
    }
}

fn line(poison_at: Option<usize>) -> Line {
    Line {
        steps: 5,
        poison_at,
        seen: 0,
    }
}

#[test]
fn rows_keep_the_order_of_the_fields() {
    #[derive(Serialize)]
    struct Row {
        zeta: f64,
        alpha: Option<f32>,
        count: usize,
        flag: bool,
    }
    let path = std::path::Path::new("metrics.csv");
    let row = Row {
        zeta: 1.5,
        alpha: None,
        count: 3,
        flag: true,
    };
    let values = row_values(&row, path).unwrap();
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "count", "flag"]);
    assert!(values[1].1.is_nan());
    assert_eq!((values[0].1, values[2].1, values[3].1), (1.5, 3.0, 1.0));

    #[derive(Serialize)]
    struct Bad {
        name: &'static str,
    }
    let error = row_values(&Bad { name: "x" }, path)
        .unwrap_err()
        .to_string();
    assert!(error.contains("metric `name`"), "{error}");
}

#[test]
fn trains_writes_rows_and_keeps_the_best_and_resumes_for_more_epochs() {
    let root = scratch("trainer-resume");
    let trained = train(&mut line(None), &flags(&root, 2), &flags(&root, 2), None).unwrap();
    let run = trained.run.unwrap();
    assert_eq!((trained.state.epoch, trained.state.step), (2, 10));
    let metrics = read_metrics(run.metrics()).unwrap();
    assert_eq!(
        metrics.columns,
        [
            "epoch",
            "step",
            "train_loss",
            "valid_loss",
            "none",
            "lr",
            "points_per_second",
            "seconds"
        ]
    );
    assert_eq!(metrics.column("epoch").unwrap(), [1.0, 2.0]);
    assert!(
        run.best().join(format!("step-{:012}", 10)).is_dir(),
        "the better epoch 2 is best"
    );
    assert!(run.plots().join("loss.png").is_file());

    // Resume for a third epoch: it continues from step 10.
    let more = flags(&root, 3);
    let resumed = RunDir::open(run.path(), "line").unwrap();
    let trained = train(&mut line(None), &more, &more, Some(resumed)).unwrap();
    assert_eq!((trained.state.epoch, trained.state.step), (3, 15));
    let metrics = read_metrics(run.metrics()).unwrap();
    assert_eq!(metrics.column("epoch").unwrap(), [1.0, 2.0, 3.0]);
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_nan_loss_stops_and_names_the_last_good_checkpoint() {
    let root = scratch("trainer-nan");
    // Epoch 1 is good (steps 0..5); step 7 of epoch 2 is NaN.
    let error = train(&mut line(Some(7)), &flags(&root, 3), &flags(&root, 3), None)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("non-finite train loss (NaN) at epoch 2, step 7: training stopped; the last good checkpoint is ")
            && error.ends_with(&format!("step-{:012}", 5)),
        "{error}"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn the_minutes_budget_ends_the_run_and_a_resume_with_more_continues() {
    let root = scratch("trainer-minutes");
    let mut budget = flags(&root, 1000);
    budget.minutes = 1e-9;
    let trained = train(&mut line(None), &budget, &budget, None).unwrap();
    // Out of time after the first step: that epoch is validated and saved.
    assert_eq!((trained.state.epoch, trained.state.step), (1, 1));
    let run = trained.run.unwrap();
    let again = train(
        &mut line(None),
        &budget,
        &budget,
        Some(RunDir::open(run.path(), "line").unwrap()),
    )
    .unwrap();
    assert_eq!(again.state.step, 1, "the budget is spent: nothing more");
    let mut more = budget.clone();
    more.minutes = 0.0;
    more.epochs = 2;
    let more_run = RunDir::open(run.path(), "line").unwrap();
    let trained = train(&mut line(None), &more, &more, Some(more_run)).unwrap();
    assert_eq!((trained.state.epoch, trained.state.step), (2, 6));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn the_steps_budget_ends_mid_epoch_and_a_resume_with_more_continues() {
    let root = scratch("trainer-steps");
    let mut budget = flags(&root, 1000);
    budget.steps = 7;
    // Five steps an epoch: the second epoch ends after its second step and
    // is validated and saved like a whole one.
    let trained = train(&mut line(None), &budget, &budget, None).unwrap();
    assert_eq!((trained.state.epoch, trained.state.step), (2, 7));
    let run = trained.run.unwrap();
    let rows = std::fs::read_to_string(run.metrics()).unwrap();
    assert_eq!(rows.lines().count(), 3, "a header and two epochs:\n{rows}");
    let mut more = budget.clone();
    more.steps = 9;
    let more_run = RunDir::open(run.path(), "line").unwrap();
    let trained = train(&mut line(None), &more, &more, Some(more_run)).unwrap();
    assert_eq!((trained.state.epoch, trained.state.step), (3, 9));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bad_flags_are_named() {
    let root = scratch("trainer-flags");
    for (change, message) in [
        (
            (|f: &mut TrainFlags| f.batch = 0) as fn(&mut TrainFlags),
            "--batch: must be at least 1",
        ),
        (
            |f| f.lr = f64::NAN,
            "--lr: must be 0 or a positive number, got NaN",
        ),
        (
            |f| f.clip = -1.0,
            "--clip: must be 0 or a positive number, got -1",
        ),
        (
            |f| f.workers = 3,
            "--batch: 2 is fewer samples than --workers 3",
        ),
    ] {
        let mut bad = flags(&root, 1);
        bad.batch = 2;
        change(&mut bad);
        let error = train(&mut line(None), &bad, &bad, None)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(message), "{error}");
    }
    assert!(
        !root.join("runs").exists(),
        "no run folder for refused flags"
    );
    std::fs::remove_dir_all(&root).ok();
}
