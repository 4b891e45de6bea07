//! ntm end to end: train, resume, evaluate at a longer length with pictures,
//! the LSTM baseline, a non-finite loss stopping training, the same run again
//! from the same seed, and bad input, on every backend in
//! `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::PathBuf;
use std::process::{Command, Output};

use recur_train::{Backend, read_metrics};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ntm-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ntm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntm"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn only_run(dir: &std::path::Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs/ntm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder");
    runs.into_iter().next().unwrap()
}

/// A tiny copy task: batches of 4 sequences of lengths 1-3.
const TINY: [&str; 16] = [
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
    "--report-every",
    "8",
];

#[test]
fn train_resume_and_eval_longer_sequences() {
    for backend in Backend::for_tests() {
        let dir = scratch(backend.name());
        let root = dir.to_str().unwrap();
        let mut args = vec!["train", "--backend", backend.name(), "--root", root];
        args.extend(TINY);
        args.extend(["--sequences", "16", "--checkpoint-every", "8"]);
        let output = ntm(&args);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("copy size 3:"), "{backend}: {stdout}");
        let run = only_run(&dir);
        for file in [
            "config.json",
            "metrics.csv",
            "plots/loss.png",
            "plots/bit-errors.png",
            "plots/size-003-write-0.png",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            3,
            "{backend}: 8 and 16 sequences\n{metrics}"
        );

        // The run was meant to be longer: resuming continues from sequence 16.
        let config_path = run.join("config.json");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(
            &config_path,
            config.replace("\"sequences\": 16", "\"sequences\": 24"),
        )
        .unwrap();
        let output = ntm(&[
            "train",
            "--backend",
            backend.name(),
            "--resume",
            run.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("resumed from"),
            "{backend}: {}",
            stderr(&output)
        );
        let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            4,
            "{backend}: one more row\n{metrics}"
        );
        assert!(
            metrics.lines().nth(3).unwrap().starts_with("24,"),
            "{backend}: {metrics}"
        );

        // Longer sequences than trained on, with the paper's pictures.
        let output = ntm(&[
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
fn the_lstm_baseline_trains_and_evaluates() {
    for backend in Backend::for_tests() {
        let dir = scratch(&format!("lstm-{backend}"));
        let mut args = vec![
            "train",
            "--backend",
            backend.name(),
            "--root",
            dir.to_str().unwrap(),
        ];
        args.extend(TINY);
        args.extend([
            "--sequences",
            "16",
            "--model",
            "lstm",
            "--lstm-size",
            "8",
            "--lstm-layers",
            "1",
        ]);
        let output = ntm(&args);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let run = only_run(&dir);
        let output = ntm(&[
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
    let dir = scratch("nan");
    let mut args = vec![
        "train",
        "--backend",
        "ndarray",
        "--root",
        dir.to_str().unwrap(),
    ];
    args.extend(TINY);
    // An absurd learning rate overflows the weights within a few steps.
    args.extend([
        "--lr",
        "1e38",
        "--checkpoint-every",
        "4",
        "--sequences",
        "400",
    ]);
    let output = ntm(&args);
    assert!(!output.status.success(), "training must stop");
    let message = stderr(&output);
    let last = message.lines().last().unwrap();
    assert!(
        last.starts_with("error: non-finite train loss") && last.contains("training stopped; "),
        "{message}"
    );
    // Every checkpoint left behind was saved before the loss broke.
    let run = only_run(&dir);
    let checkpoints: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .collect();
    if let Some(path) = last.split("the last good checkpoint is ").nth(1) {
        assert!(PathBuf::from(path).join("model.bpk").is_file(), "{last}");
    } else {
        assert!(last.ends_with("no checkpoint was saved yet"), "{last}");
        assert!(checkpoints.is_empty());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_one_clear_line() {
    let output = ntm(&["train", "--task", "sorting"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown task `sorting`"),
        "{}",
        stderr(&output)
    );

    let dir = scratch("bad");
    let root = dir.to_str().unwrap();
    let output = ntm(&[
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
        "error: invalid configuration: sizes must satisfy 2 <= min_size <= max_size, got 1..6\n"
    );
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a failed start"
    );

    let output = ntm(&["eval", "--run", root, "--length", "40"]);
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
        let dir = scratch(&format!("seed-{backend}"));
        let losses = |name: &str| {
            let root = dir.join(name);
            let mut args = vec![
                "train",
                "--backend",
                backend.name(),
                "--root",
                root.to_str().unwrap(),
                "--seed",
                "7",
                "--sequences",
                "16",
            ];
            args.extend(TINY);
            let output = ntm(&args);
            assert!(output.status.success(), "{backend}: {}", stderr(&output));
            let metrics = read_metrics(only_run(&root).join("metrics.csv")).unwrap();
            ["loss", "bit_errors"].map(|column| metrics.column(column).unwrap())
        };
        assert_eq!(losses("a"), losses("b"), "{backend}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
