//! ntm end to end: train, resume with more epochs, evaluate at a longer
//! length with pictures, the LSTM baseline, a non-finite loss stopping
//! training, the same run again from the same seed, and bad input, on every
//! backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::process::Output;

use recur_train::testing::{App, one_error_line, stderr};
use recur_train::{Backend, read_metrics};

const APP: App = App::new("ntm", env!("CARGO_BIN_EXE_ntm"));

/// A tiny copy task: batches of 4 sequences of lengths 1-3.
const TINY: [&str; 14] = [
    "--task",
    "copy",
    "--bits",
    "3",
    "--max-size",
    "3",
    "--controller-size",
    "8",
    "--memory-rows",
    "8",
    "--memory-width",
    "4",
    "--batch",
    "4",
];

/// `ntm train` of TINY into `root` on `backend`, with epochs of 2 batches
/// and `extra` arguments.
fn train_tiny(backend: Backend, root: &Path, extra: &[&str]) -> Output {
    let mut extra = extra.to_vec();
    extra.extend(["--epoch-sequences", "8"]);
    train_tiny_with(backend, root, &extra)
}

/// `ntm train` of TINY into `root` on `backend`, with `extra` arguments.
fn train_tiny_with(backend: Backend, root: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--backend",
        backend.name(),
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(TINY);
    args.extend(extra);
    APP.run(&args)
}

/// The epochs in a run's metrics.csv.
fn epochs(run: &Path) -> Vec<f64> {
    read_metrics(run.join("metrics.csv"))
        .unwrap()
        .column("epoch")
        .unwrap()
}

#[test]
fn train_resume_and_eval_longer_sequences() {
    for backend in Backend::for_tests() {
        let dir = APP.scratch(backend.name());
        let output = train_tiny(backend, &dir, &["--epochs", "2"]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("copy size 3:"), "{backend}: {stdout}");
        let run = APP.only_run(&dir);
        for file in [
            "config.json",
            "metrics.csv",
            "plots/loss.png",
            "plots/bit-errors.png",
            "plots/size-003-write-0.png",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        assert!(run.join("best").is_dir(), "{backend}: no best model");
        let metrics = read_metrics(run.join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.columns,
            [
                "epoch",
                "step",
                "train_loss",
                "train_bit_errors",
                "valid_loss",
                "valid_bit_errors",
                "lr",
                "sequences_per_second",
                "seconds"
            ],
            "{backend}"
        );
        assert_eq!(metrics.column("epoch").unwrap(), [1.0, 2.0], "{backend}");
        // Two batches of 4 sequences per epoch.
        assert_eq!(metrics.column("step").unwrap(), [2.0, 4.0], "{backend}");

        // The run is extended by one epoch: resuming continues at epoch 3.
        let output = APP.resume(backend, &run, &["--epochs", "3"]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("resumed from"),
            "{backend}: {}",
            stderr(&output)
        );
        assert_eq!(epochs(&run), [1.0, 2.0, 3.0], "{backend}");

        // Longer sequences than trained on, with the paper's pictures.
        let output = APP.run(&[
            "eval",
            "--backend",
            backend.name(),
            "--run",
            run.to_str().unwrap(),
            "--length",
            "6",
            "--sequences",
            "4",
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.starts_with("copy size 6: ") && stdout.contains("bit errors per sequence"),
            "{backend}: {stdout}"
        );
        for panel in ["input", "target", "output", "read-0", "write-0"] {
            let file = run.join(format!("plots/size-006-{panel}.png"));
            assert!(file.is_file(), "{backend}: {} missing", file.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn resume_extends_epochs_and_refuses_other_changed_flags() {
    let backend = Backend::for_tests()[0];
    let dir = APP.scratch(&format!("resume-{backend}"));
    let output = train_tiny(backend, &dir, &["--epochs", "1"]);
    assert!(output.status.success(), "{backend}: {}", stderr(&output));
    let run = APP.only_run(&dir);
    assert_eq!(epochs(&run), [1.0], "{backend}");

    let output = APP.resume(backend, &run, &["--epochs", "2"]);
    assert!(output.status.success(), "{backend}: {}", stderr(&output));
    assert!(
        stderr(&output).contains("resumed from"),
        "{}",
        stderr(&output)
    );
    assert_eq!(epochs(&run), [1.0, 2.0], "{backend}: epoch 2 trained");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"epochs\": 2"), "{config}");

    let output = APP.resume(backend, &run, &["--memory-rows", "7"]);
    one_error_line(&output, &["--memory-rows", "7"]);
    assert_eq!(epochs(&run), [1.0, 2.0], "{backend}: nothing trained");
    assert_eq!(APP.runs(&dir).len(), 1, "no new run folder");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_lstm_baseline_trains_and_evaluates() {
    for backend in Backend::for_tests() {
        let dir = APP.scratch(&format!("lstm-{backend}"));
        let extra = [
            "--epochs",
            "1",
            "--model",
            "lstm",
            "--lstm-size",
            "8",
            "--lstm-layers",
            "1",
        ];
        let output = train_tiny(backend, &dir, &extra);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let run = APP.only_run(&dir);
        let output = APP.run(&[
            "eval",
            "--backend",
            backend.name(),
            "--run",
            run.to_str().unwrap(),
            "--length",
            "5",
            "--sequences",
            "2",
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        assert!(run.join("plots/size-005-output.png").is_file(), "{backend}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let dir = APP.scratch("nan");
    // An absurd learning rate overflows the weights within a few steps; an
    // epoch is one step, so epoch 1 (from the initial weights) is finite and
    // checkpointed.
    let extra = ["--lr", "1e38", "--epoch-sequences", "4", "--epochs", "100"];
    let output = train_tiny_with(Backend::Ndarray, &dir, &extra);
    let line = one_error_line(
        &output,
        &[
            "non-finite train loss (",
            "at epoch ",
            "training stopped; the last good checkpoint is ",
        ],
    );
    let path = line.split("the last good checkpoint is ").nth(1).unwrap();
    assert!(PathBuf::from(path).join("model.bpk").is_file(), "{line}");
    // Every epoch before the broken one was written.
    let run = APP.only_run(&dir);
    let epoch: f64 = line
        .split("at epoch ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(epoch >= 2.0, "{line}");
    assert_eq!(epochs(&run).last(), Some(&(epoch - 1.0)), "{line}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_one_clear_line() {
    let output = APP.run(&["train", "--task", "sorting"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown task `sorting`"),
        "{}",
        stderr(&output)
    );

    let dir = APP.scratch("bad");
    let root = dir.to_str().unwrap();
    let output = APP.run(&[
        "train",
        "--root",
        root,
        "--task",
        "recall",
        "--min-size",
        "1",
    ]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        "error: --min-size: recall needs at least 2, got 1\n"
    );
    let output = APP.run(&["train", "--root", root, "--epoch-sequences", "0"]);
    one_error_line(&output, &["--epoch-sequences"]);
    let output = APP.run(&["train", "--root", root, "--batch", "0"]);
    one_error_line(&output, &["--batch"]);
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a failed start"
    );

    let output = APP.run(&["eval", "--run", root, "--length", "40"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: not a run folder (no config.json)\n",
            dir.display()
        )
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Two runs with the same `--seed` start from the same weights and train
/// alike: their losses match exactly.
#[test]
fn the_same_seed_trains_the_same_run() {
    for backend in Backend::for_tests() {
        let dir = APP.scratch(&format!("seed-{backend}"));
        let losses = |name: &str| {
            let root = dir.join(name);
            let output = train_tiny(backend, &root, &["--seed", "7", "--epochs", "2"]);
            assert!(output.status.success(), "{backend}: {}", stderr(&output));
            let metrics = read_metrics(APP.only_run(&root).join("metrics.csv")).unwrap();
            [
                "train_loss",
                "train_bit_errors",
                "valid_loss",
                "valid_bit_errors",
            ]
            .map(|column| metrics.column(column).unwrap())
        };
        assert_eq!(losses("a"), losses("b"), "{backend}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Every size and count is checked before anything is written: one line
/// naming the flag, no panic, no run folder.
#[test]
fn bad_sizes_are_one_line_naming_the_flag() {
    let dir = APP.scratch("bad-sizes");
    APP.assert_refused(
        &["train", "--root", dir.to_str().unwrap()],
        &[
            ("--memory-rows", "0"),
            ("--memory-width", "0"),
            ("--controller-size", "0"),
            ("--read-heads", "0"),
            ("--write-heads", "0"),
            ("--lstm-size", "0"),
            ("--epoch-sequences", "0"),
            ("--shift-range", "64"),
            ("--bits", "0"),
            ("--min-size", "0"),
            ("--max-size", "0"),
            ("--max-repeats", "0"),
            ("--item-length", "0"),
            ("--batch", "0"),
        ],
        &dir,
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A run folder says which system made it: another app's run is refused in
/// one line by `--resume` and by `eval`.
#[test]
fn another_systems_run_is_refused() {
    APP.assert_refuses_another_systems_run(&[
        &["train", "--resume"],
        &["eval", "--length", "5", "--run"],
    ]);
}
