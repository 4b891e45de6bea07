//! charlm end to end: train, resume after the run was cut short, sample,
//! train the same run again from the same seed, and reject bad input, on
//! every backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use recur_train::{Backend, read_metrics};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charlm-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn charlm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_charlm"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The one run folder a train command made under `dir`.
fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs/charlm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder in {}", dir.display());
    runs.into_iter().next().unwrap()
}

/// The test fixtures' folder.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A small text with some structure to learn ("Hamlet:\nto be or not to be,
/// {i}\n\n" for i in 0..60).
fn corpus() -> PathBuf {
    fixtures().join("corpus.txt")
}

const TINY: [&str; 12] = [
    "--hidden",
    "16",
    "--layers",
    "1",
    "--embedding",
    "8",
    "--batch",
    "4",
    "--window",
    "16",
    "--epochs",
    "1",
];

/// `charlm train` of the TINY model on `corpus()` into `root`, with `extra`
/// arguments.
fn train_tiny(backend: Backend, root: &Path, extra: &[&str]) -> Output {
    let text = corpus();
    let mut args = vec![
        "train",
        "--backend",
        backend.name(),
        "--text",
        text.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(extra);
    args.extend(TINY);
    charlm(&args)
}

#[test]
fn train_resume_and_sample() {
    for backend in Backend::for_tests() {
        let dir = scratch(backend.name());
        let output = train_tiny(backend, &dir, &[]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));

        let run = only_run(&dir);
        for file in [
            "config.json",
            "vocab.json",
            "metrics.csv",
            "plots/loss.png",
            "samples/epoch-001.txt",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert_eq!(
            metrics.lines().count(),
            2,
            "{backend}: header and one epoch\n{metrics}"
        );

        // Pretend the run was meant to last two epochs and was killed after
        // the first: resuming continues from the checkpoint.
        let config_path = run.join("config.json");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(
            &config_path,
            config.replace("\"epochs\": 1", "\"epochs\": 2"),
        )
        .unwrap();
        let output = charlm(&[
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
            3,
            "{backend}: epochs 1 and 2\n{metrics}"
        );
        assert!(
            metrics.lines().nth(2).unwrap().starts_with("2,"),
            "{backend}: {metrics}"
        );

        let output = charlm(&[
            "sample",
            "--backend",
            backend.name(),
            "--run",
            run.to_str().unwrap(),
            "--prime",
            "Ham",
            "--length",
            "20",
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let sample = String::from_utf8(output.stdout).unwrap();
        assert!(sample.starts_with("Ham"), "{backend}: {sample}");
        assert_eq!(
            sample.trim_end_matches('\n').chars().count(),
            23,
            "{backend}: {sample:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_input_is_one_clear_line_and_leaves_no_run() {
    let dir = scratch("bad");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, b"ab\n\xffcd\n").unwrap();
    let output = charlm(&[
        "train",
        "--backend",
        "ndarray",
        "--text",
        bad.to_str().unwrap(),
        "--root",
        dir.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!("error: {}:2: invalid UTF-8 at byte 3\n", bad.display())
    );
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a failed start"
    );

    let output = charlm(&["sample", "--run", dir.to_str().unwrap()]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: not a run folder (no config.json)\n",
            dir.display()
        )
    );

    let output = charlm(&["train", "--cell", "transformer"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unknown cell `transformer`"),
        "{}",
        stderr(&output)
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
            let output = train_tiny(backend, &root, &["--seed", "7"]);
            assert!(output.status.success(), "{backend}: {}", stderr(&output));
            let metrics = read_metrics(only_run(&root).join("metrics.csv")).unwrap();
            ["train_loss", "valid_loss"].map(|column| metrics.column(column).unwrap())
        };
        assert_eq!(losses("a"), losses("b"), "{backend}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// From PyTorch's initial weights charlm trains as PyTorch does: the same
/// mean training loss over one pass and the same validation loss as
/// `reference/charlm.py` (with the tiny model's sizes and `--passes 1
/// --seed 1 --threads 1 --save-init tests/fixtures/torch-init.safetensors`,
/// its output in `tests/fixtures/torch-run.json`). This checks the whole
/// training step against PyTorch: embedding, layer, output layer, loss,
/// gradient clipping and Adam.
#[test]
fn from_pytorch_weights_trains_as_pytorch() {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("torch-run.json")).unwrap())
            .unwrap();
    let init = fixtures().join("torch-init.safetensors");
    for backend in Backend::for_tests() {
        let dir = scratch(&format!("init-{backend}"));
        let output = train_tiny(
            backend,
            &dir,
            &["--init", init.to_str().unwrap(), "--seed", "5"],
        );
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let metrics = read_metrics(only_run(&dir).join("metrics.csv")).unwrap();
        for (column, key) in [
            ("train_loss", "train_loss"),
            ("valid_loss", "valid_loss_nats"),
        ] {
            let (ours, theirs) = (
                metrics.column(column).unwrap()[0],
                expected[key].as_f64().unwrap(),
            );
            assert!(
                (ours - theirs).abs() < 1e-4,
                "{backend}: {column} {ours}, PyTorch {theirs}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_initial_weights_are_one_clear_line_and_leave_no_run() {
    let dir = scratch("bad-init");
    let missing = dir.join("missing.safetensors");
    let (init, text) = (fixtures().join("torch-init.safetensors"), corpus());
    for (file, hidden, message) in [
        (&missing, "16", "No such file"),
        // The fixture holds a model of 16 hidden units.
        (&init, "8", "output.weight"),
    ] {
        let mut args = vec![
            "train",
            "--backend",
            "ndarray",
            "--text",
            text.to_str().unwrap(),
            "--root",
            dir.to_str().unwrap(),
            "--init",
            file.to_str().unwrap(),
        ];
        // TINY without its `--hidden 16`.
        args.extend(&TINY[2..]);
        args.extend(["--hidden", hidden]);
        let output = charlm(&args);
        assert!(!output.status.success());
        let stderr = stderr(&output);
        assert!(
            stderr.starts_with(&format!("error: --init {}: ", file.display()))
                && stderr.contains(message)
                && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(
            !dir.join("runs").exists(),
            "no run folder for a failed start"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
