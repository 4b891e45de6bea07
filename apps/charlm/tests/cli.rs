//! charlm end to end: train, resume after the run was cut short, sample,
//! train the same run again from the same seed, and reject bad input, on
//! every backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use recur_train::testing::{
    App, assert_weights_close, copy_run, latest_weights, one_error_line, stderr,
};
use recur_train::{Backend, read_metrics};

const APP: App = App::new("charlm", env!("CARGO_BIN_EXE_charlm"));

fn charlm(args: &[&str]) -> Output {
    APP.run(args)
}

fn scratch(name: &str) -> PathBuf {
    APP.scratch(name)
}

fn only_run(dir: &Path) -> PathBuf {
    APP.only_run(dir)
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

const TINY: [&str; 10] = [
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
];

/// `charlm train` of the TINY model on `corpus()` into `root`, with `extra`
/// arguments.
fn train_tiny(backend: Backend, root: &Path, extra: &[&str]) -> Output {
    let args = tiny_args(backend, root, extra);
    charlm(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The arguments of `train_tiny`: one epoch unless `extra` says otherwise.
fn tiny_args(backend: Backend, root: &Path, extra: &[&str]) -> Vec<String> {
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
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "1"]);
    }
    args.into_iter().map(String::from).collect()
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

        // A finished run is extended: `--resume` with more epochs
        // continues from its checkpoint.
        let output = APP.resume(backend, &run, &["--epochs", "2"]);
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
        args.extend(["--epochs", "1"]);
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

#[test]
fn resume_refuses_a_changed_flag_other_than_the_budget() {
    let dir = scratch("resume-flags");
    let output = train_tiny(Backend::Ndarray, &dir, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let run = only_run(&dir);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let resume = |flags: &[&str]| APP.resume(Backend::Ndarray, &run, flags);
    for (flags, named) in [
        (&["--hidden", "32"][..], "--hidden"),
        (&["--lr", "0.1"][..], "--lr"),
        (&["--epochs", "0"][..], "--epochs"),
    ] {
        one_error_line(&resume(flags), &[named]);
    }
    // The same value as the run's is no change.
    let output = resume(&["--hidden", "16"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let after = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics, after, "a finished run trains nothing more");
    std::fs::remove_dir_all(&dir).ok();
}

/// Two MPI ranks, each on half of every batch, train as one process does on
/// the whole batches: the ranks hold bit-identical weights after every step
/// (the run checks, `RECUR_CHECK_WORKERS=1`), and the result is one
/// process's to 1e-5.
#[test]
fn two_workers_train_as_one_process() {
    let dir = scratch("workers");
    let one = train_tiny(Backend::Ndarray, &dir.join("one"), &[]);
    assert!(one.status.success(), "{}", stderr(&one));
    two_workers(&dir.join("two"), &[]);
    let (one, two) = (only_run(&dir.join("one")), only_run(&dir.join("two")));
    assert_weights_close(&latest_weights(&one), &latest_weights(&two), 1e-5);
    let losses = |run: &Path| {
        let metrics = read_metrics(run.join("metrics.csv")).unwrap();
        ["train_loss", "valid_loss"].map(|c| metrics.column(c).unwrap()[0])
    };
    for (a, b) in losses(&one).into_iter().zip(losses(&two)) {
        assert!((a - b).abs() <= 1e-5 * a.abs(), "one process {a}, two {b}");
    }
    assert!(two.join("checkpoints").is_dir());
    std::fs::remove_dir_all(&dir).ok();
}

/// `--workers 2` through `mpirun -n 2`; asserts success.
fn two_workers(root: &Path, extra: &[&str]) -> Output {
    let mut extra = extra.to_vec();
    extra.extend(["--workers", "2"]);
    let args = tiny_args(Backend::Ndarray, root, &extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = APP.mpirun(2, &args).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    output
}

/// A run of two workers, cut after its first epoch, resumes with one worker
/// or with two and ends as the uninterrupted run does.
#[test]
fn a_two_worker_run_resumes_with_any_number_of_workers() {
    let dir = scratch("workers-resume");
    two_workers(&dir.join("whole"), &["--epochs", "2"]);
    two_workers(&dir.join("cut"), &[]);
    let cut = only_run(&dir.join("cut"));
    let whole = latest_weights(&only_run(&dir.join("whole")));
    for workers in ["1", "2"] {
        let copy = dir.join(format!("resumed-{workers}"));
        copy_run(&cut, &copy);
        let resume = ["train", "--resume", copy.to_str().unwrap(), "--epochs", "2"];
        let output = if workers == "1" {
            charlm(&resume)
        } else {
            let mut args = resume.to_vec();
            args.extend(["--workers", "2"]);
            APP.mpirun(2, &args).output().unwrap()
        };
        assert!(output.status.success(), "{workers}: {}", stderr(&output));
        assert_weights_close(&whole, &latest_weights(&copy), 1e-5);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A rank killed in the middle of training ends the whole job within
/// seconds, with an error, instead of leaving the other rank waiting.
#[test]
fn a_dead_worker_ends_the_job_within_seconds() {
    let dir = scratch("workers-kill");
    let args = tiny_args(
        Backend::Ndarray,
        &dir,
        &["--epochs", "1000", "--workers", "2"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // stderr to a file: a pipe nobody reads could fill and stall the job.
    let log = dir.join("stderr.txt");
    let mut job = APP
        .mpirun(2, &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Training has begun once the first epoch's checkpoint is there.
    let started = Instant::now();
    while APP.runs(&dir).first().is_none_or(|run| {
        !run.join("checkpoints")
            .read_dir()
            .unwrap()
            .any(|e| e.is_ok())
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ranks = std::process::Command::new("pgrep")
        .args(["-P", &job.id().to_string()])
        .output()
        .unwrap();
    let ranks = String::from_utf8(ranks.stdout).unwrap();
    let victim = ranks
        .lines()
        .last()
        .expect("the ranks are mpirun's children");
    let killed = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-9", victim])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = job.try_wait().unwrap() {
            break status;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the job still runs 10 s after a rank died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    // The job's last words name the rank that died and how.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("exited on signal 9 (Killed)"),
        "no word of the dead rank: {log}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Every size, count and rate is checked before anything is read or written:
/// one line naming the flag, no panic, no run folder.
#[test]
fn bad_sizes_and_rates_are_one_line_naming_the_flag() {
    let dir = scratch("bad-sizes");
    APP.assert_refused(
        &[
            "train",
            "--text",
            corpus().to_str().unwrap(),
            "--root",
            dir.to_str().unwrap(),
        ],
        &[
            ("--hidden", "0"),
            ("--layers", "0"),
            ("--embedding", "0"),
            ("--window", "0"),
            ("--dropout", "1"),
            ("--valid-fraction", "0"),
            ("--batch", "0"),
            ("--lr", "NaN"),
            ("--lr", "-1"),
            ("--clip", "-5"),
            ("--epochs", "0"),
        ],
        &dir,
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A run folder says which system made it: another app's run is refused in
/// one line by `--resume` and by `sample`.
#[test]
fn another_systems_run_is_refused() {
    APP.assert_refuses_another_systems_run(&[&["train", "--resume"], &["sample", "--run"]]);
}

/// A CPU run that succeeds prints no `error:` line, even where the Vulkan
/// loader would complain (no `XDG_RUNTIME_DIR`): it never starts the GPU
/// stack, not when it resumes and not when it samples.
#[test]
fn a_cpu_run_never_starts_the_gpu_stack() {
    let dir = scratch("no-gpu");
    let quiet = |args: &[String]| {
        let output = APP
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(!stderr(&output).contains("error"), "{}", stderr(&output));
    };
    quiet(&tiny_args(Backend::Ndarray, &dir, &[]));
    let run = only_run(&dir).to_str().unwrap().to_string();
    let resume = [
        "train",
        "--backend",
        "ndarray",
        "--resume",
        &run,
        "--epochs",
        "2",
    ];
    quiet(&resume.map(String::from));
    let sample = [
        "sample",
        "--backend",
        "ndarray",
        "--run",
        &run,
        "--length",
        "5",
    ];
    quiet(&sample.map(String::from));
    std::fs::remove_dir_all(&dir).ok();
}
