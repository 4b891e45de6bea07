//! translate end to end: train, resume after the run was cut short,
//! translate, and reject bad input, on every backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::process::Output;

use recur_train::testing::{
    App, assert_weights_close, copy_run, latest_weights, one_error_line, stderr,
};
use recur_train::{Backend, read_metrics};

const APP: App = App::new("translate", env!("CARGO_BIN_EXE_translate"));

fn translate(args: &[&str]) -> Output {
    APP.run(args)
}

fn scratch(name: &str) -> PathBuf {
    APP.scratch(name)
}

fn only_run(dir: &Path) -> PathBuf {
    APP.only_run(dir)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A tiny German-English corpus of number words ("eins und zwei." and so on).
fn corpus() -> PathBuf {
    fixtures().join("numbers")
}

const TINY: [&str; 12] = [
    "--hidden",
    "4",
    "--embedding",
    "8",
    "--batch",
    "4",
    "--epochs",
    "1",
    "--beam",
    "2",
    "--heatmaps",
    "1",
];

#[test]
fn train_resume_and_translate() {
    for backend in Backend::for_tests() {
        let dir = scratch(backend.name());
        let data = corpus();
        let (data, root) = (data.to_str().unwrap(), dir.to_str().unwrap());
        let mut args = vec![
            "train",
            "--backend",
            backend.name(),
            "--data",
            data,
            "--root",
            root,
        ];
        args.extend(TINY);
        let output = translate(&args);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("test BLEU (model of epoch 1): greedy"),
            "{backend}: {stdout}"
        );

        let run = only_run(&dir);
        for file in [
            "config.json",
            "source_vocab.json",
            "target_vocab.json",
            "metrics.csv",
            "results.json",
            "plots/loss.png",
            "samples/test-greedy.txt",
            "samples/test-beam.txt",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        // An untrained model may translate the first test sentence to
        // nothing: then there is no attention to draw.
        let beam = std::fs::read_to_string(run.join("samples/test-beam.txt")).unwrap();
        assert!(
            run.join("plots/attention-0.png").is_file() || beam.starts_with('\n'),
            "{backend}: plots/attention-0.png missing for {:?}",
            beam.lines().next()
        );
        let results = std::fs::read_to_string(run.join("results.json")).unwrap();
        for key in ["test_bleu_greedy", "test_bleu_beam", "valid_perplexity"] {
            assert!(results.contains(key), "{backend}: {results}");
        }

        // A finished run is extended: `--resume` with more epochs continues
        // from its checkpoint and tests again.
        let run_arg = run.to_str().unwrap();
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
        // The test scores the epoch with the higher validation BLEU (the
        // earlier one on a tie).
        let valid_bleu = read_metrics(run.join("metrics.csv"))
            .unwrap()
            .column("valid_bleu")
            .unwrap();
        let best = if valid_bleu[1] > valid_bleu[0] { 2 } else { 1 };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains(&format!("test BLEU (model of epoch {best})")),
            "{backend}: {stdout}\n{metrics}"
        );
        let results = std::fs::read_to_string(run.join("results.json")).unwrap();
        assert!(
            results.contains(&format!("\"best_epoch\": {best},")),
            "{backend}: {results}"
        );

        let picture = dir.join("attention.png");
        let output = translate(&[
            "translate",
            "--backend",
            backend.name(),
            "--run",
            run_arg,
            "--beam",
            "2",
            "--n-best",
            "2",
            "--heatmap",
            picture.to_str().unwrap(),
            "eins und zwei.",
            "drei und unbekannt",
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8(output.stdout.clone()).unwrap();
        assert_eq!(
            stdout.lines().count(),
            4,
            "{backend}: two best of two sentences\n{stdout}"
        );
        assert!(
            stdout.lines().all(|l| l.contains('\t')),
            "{backend}: score TAB text\n{stdout}"
        );
        // An untrained model may translate to nothing: then there is no picture.
        assert!(
            picture.is_file() || stderr(&output).contains("the translation is empty"),
            "{backend}: --heatmap"
        );

        // A sentence without words is an error that says so.
        let output = translate(&[
            "translate",
            "--backend",
            backend.name(),
            "--run",
            run_arg,
            "?!",
        ]);
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("has no words"),
            "{backend}: {}",
            stderr(&output)
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_input_is_an_error_naming_it_and_leaves_no_run() {
    let dir = scratch("bad");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("train.tsv"), "eins\tone\nkaputt\n").unwrap();
    let root = dir.to_str().unwrap();
    let output = translate(&["train", "--data", data.to_str().unwrap(), "--root", root]);
    one_error_line(&output, &["train.tsv", "2"]);
    assert!(!dir.join("runs").exists(), "no run folder for bad data");

    let output = translate(&["train", "--teacher-forcing", "1.5", "--root", root]);
    one_error_line(&output, &["--teacher-forcing"]);

    let output = translate(&[
        "translate",
        "--run",
        dir.join("nowhere").to_str().unwrap(),
        "hallo",
    ]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("nowhere"), "{}", stderr(&output));
    std::fs::remove_dir_all(&dir).ok();
}

/// The validation loss PyTorch's reference computed for its initial
/// weights, from the safetensors header's metadata.
fn torch_valid_loss(path: &Path) -> f64 {
    let bytes = std::fs::read(path).unwrap();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
    header["__metadata__"]["valid_loss"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// From PyTorch's initial weights translate computes PyTorch's validation
/// loss: the weights land where the reference has them, and the two
/// programs give each word the same id. The fixture is written by
/// `python apps/translate/reference/seq2seq.py --data
/// apps/translate/tests/fixtures/numbers --hidden 4 --embedding 8 --epochs 0
/// --threads 1 --save-init apps/translate/tests/fixtures/torch-init.safetensors`.
/// A learning rate of 0 keeps the weights through the one epoch.
#[test]
fn from_pytorch_weights_gives_pytorchs_validation_loss() {
    let init = fixtures().join("torch-init.safetensors");
    let expected = torch_valid_loss(&init);
    for backend in Backend::for_tests() {
        let dir = scratch(&format!("init-{backend}"));
        let (data, root) = (corpus(), dir.to_str().unwrap().to_string());
        let mut args = vec![
            "train",
            "--backend",
            backend.name(),
            "--data",
            data.to_str().unwrap(),
            "--root",
            &root,
            "--init",
            init.to_str().unwrap(),
            "--lr",
            "0",
        ];
        args.extend(TINY);
        let output = translate(&args);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let metrics = read_metrics(only_run(&dir).join("metrics.csv")).unwrap();
        let valid_loss = metrics.column("valid_loss").unwrap()[0];
        assert!(
            (valid_loss - expected).abs() < 1e-5,
            "{backend}: valid loss {valid_loss}, PyTorch's {expected}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn bad_initial_weights_are_one_clear_line_and_leave_no_run() {
    let dir = scratch("bad-init");
    let (init, data) = (fixtures().join("torch-init.safetensors"), corpus());
    // The file is named by the error where the file is at fault.
    let nowhere = dir.join("nowhere.safetensors");
    for (file, extra, says) in [
        // The fixture has 4 hidden units per direction.
        (
            &init,
            ["--hidden", "8"],
            "safetensors: tensor `bridge.weight` is F32 [8, 8]",
        ),
        (&init, ["--attention", "dot"], "its attention is additive"),
        (&nowhere, ["--hidden", "4"], "nowhere.safetensors"),
    ] {
        let mut args = vec![
            "train",
            "--data",
            data.to_str().unwrap(),
            "--root",
            dir.to_str().unwrap(),
            "--embedding",
            "8",
            "--init",
            file.to_str().unwrap(),
        ];
        args.extend(extra);
        let output = translate(&args);
        assert!(!output.status.success(), "{extra:?}");
        let stderr = stderr(&output);
        assert!(
            stderr.starts_with("error: --init: ")
                && stderr.contains(says)
                && stderr.lines().count() == 1,
            "{extra:?}: {stderr}"
        );
        assert!(!dir.join("runs").exists(), "{extra:?}: no run folder");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `--resume` extends a finished run by more epochs, and refuses any other
/// flag that differs from the run's saved configuration, leaving the run as
/// it was.
#[test]
fn resume_extends_epochs_and_refuses_other_changed_flags() {
    let dir = scratch("resume-flags");
    let data = corpus();
    let mut args = vec![
        "train",
        "--backend",
        "ndarray",
        "--data",
        data.to_str().unwrap(),
        "--root",
        dir.to_str().unwrap(),
    ];
    args.extend(TINY);
    let output = translate(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let run = only_run(&dir);
    let resume = |flags: &[&str]| APP.resume(Backend::Ndarray, &run, flags);

    let output = resume(&["--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = read_metrics(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.column("epoch").unwrap(), [1.0, 2.0]);

    // What a refused resume must leave alone.
    let snapshot = || {
        let mut files: Vec<String> = ["config.json", "metrics.csv", "results.json"]
            .iter()
            .map(|file| std::fs::read_to_string(run.join(file)).unwrap())
            .collect();
        let mut checkpoints: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        checkpoints.sort();
        files.extend(checkpoints);
        files
    };
    let before = snapshot();
    for (flags, named) in [
        (&["--hidden", "99"][..], "--hidden"),
        (&["--teacher-forcing", "0.5"][..], "--teacher-forcing"),
        (&["--lr", "0.1"][..], "--lr"),
        (&["--epochs", "3", "--batch", "8"][..], "--batch"),
    ] {
        let line = one_error_line(&resume(flags), &[named, "--resume"]);
        assert!(line.contains(run.to_str().unwrap()), "{line}");
        assert_eq!(before, snapshot(), "{flags:?} left the run as it was");
    }
    // The run's own value is no change: it only tests again.
    let output = resume(&["--hidden", "4", "--epochs", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let metrics = read_metrics(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.column("epoch").unwrap(), [1.0, 2.0]);
    std::fs::remove_dir_all(&dir).ok();
}

/// `translate train` of a tiny model for data-parallel tests: batches of 11
/// of the 12 pairs give 2 workers shares of 5 and 6 pairs, then of none and
/// one; teacher forcing of 0.5 makes the decoder draw its inputs. Dropout
/// is off: each rank draws its own.
fn workers_args(root: &Path, workers: usize, epochs: usize) -> Vec<String> {
    let data = corpus();
    let mut args: Vec<String> = [
        "train",
        "--backend",
        "ndarray",
        "--data",
        data.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--hidden",
        "4",
        "--embedding",
        "8",
        "--batch",
        "11",
        "--dropout",
        "0",
        "--teacher-forcing",
        "0.5",
        "--beam",
        "2",
        "--heatmaps",
        "0",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--epochs".into(), epochs.to_string()]);
    args.extend(["--workers".into(), workers.to_string()]);
    args
}

/// Runs `args` in `workers` processes (through `mpirun` for more than one);
/// asserts success.
fn run_workers(workers: usize, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = if workers == 1 {
        translate(&args)
    } else {
        APP.mpirun(workers, &args).output().unwrap()
    };
    assert!(output.status.success(), "{workers}: {}", stderr(&output));
    output
}

/// Two MPI ranks, each on its share of every batch's sentence pairs, train
/// as one process does on the whole batches: the ranks hold bit-identical
/// weights after every step (the run checks, `RECUR_CHECK_WORKERS=1`), and
/// the result is one process's to 1e-5, with uneven and empty shares and
/// with the decoder drawing its inputs (a share draws as the whole batch).
#[test]
fn two_workers_train_as_one_process() {
    let dir = scratch("workers");
    let (one, two) = (dir.join("one"), dir.join("two"));
    run_workers(1, &workers_args(&one, 1, 2));
    run_workers(2, &workers_args(&two, 2, 2));
    let (one, two) = (only_run(&one), only_run(&two));
    assert_weights_close(&latest_weights(&one), &latest_weights(&two), 1e-5);
    let losses = |run: &Path| {
        let metrics = read_metrics(run.join("metrics.csv")).unwrap();
        ["train_loss", "valid_loss"].map(|c| metrics.column(c).unwrap())
    };
    for (a, b) in losses(&one)
        .iter()
        .flatten()
        .zip(losses(&two).iter().flatten())
    {
        assert!((a - b).abs() <= 1e-5 * a.abs(), "one process {a}, two {b}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A run of two workers, cut after its first epoch, resumes with one worker
/// or with two and ends as the uninterrupted run does.
#[test]
fn a_two_worker_run_resumes_with_any_number_of_workers() {
    let dir = scratch("workers-resume");
    run_workers(2, &workers_args(&dir.join("whole"), 2, 2));
    run_workers(2, &workers_args(&dir.join("cut"), 2, 1));
    let cut = only_run(&dir.join("cut"));
    let whole = latest_weights(&only_run(&dir.join("whole")));
    for workers in [1, 2] {
        let copy = dir.join(format!("resumed-{workers}"));
        copy_run(&cut, &copy);
        let resume = [
            "train",
            "--resume",
            copy.to_str().unwrap(),
            "--epochs",
            "2",
            "--workers",
            &workers.to_string(),
        ]
        .map(String::from);
        let output = run_workers(workers, &resume);
        assert!(
            stderr(&output).contains("resumed from"),
            "{}",
            stderr(&output)
        );
        assert_weights_close(&whole, &latest_weights(&copy), 1e-5);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every size, count and rate is checked before anything is read or written:
/// one line naming the flag, no panic, no run folder.
#[test]
fn bad_sizes_and_rates_are_one_line_naming_the_flag() {
    let (dir, data) = (scratch("bad-sizes"), corpus());
    APP.assert_refused(
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--root",
            dir.to_str().unwrap(),
        ],
        &[
            ("--hidden", "0"),
            ("--embedding", "0"),
            ("--layers", "0"),
            ("--beam", "0"),
            ("--dropout", "1.5"),
            ("--teacher-forcing", "2"),
            ("--min-count", "0"),
            ("--min-count", "1000000"),
            ("--length-penalty", "-1"),
        ],
        &dir,
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A run folder says which system made it: another app's run is refused in
/// one line by `--resume` and by `translate`.
#[test]
fn another_systems_run_is_refused() {
    APP.assert_refuses_another_systems_run(&[
        &["train", "--resume"],
        &["translate", "Hallo", "--run"],
    ]);
}
