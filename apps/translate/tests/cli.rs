//! translate end to end: train, resume after the run was cut short,
//! translate, and reject bad input, on every backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use recur_train::{Backend, read_metrics};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("translate-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn translate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_translate"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

fn only_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs/translate"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder");
    runs[0].clone()
}

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
            "plots/attention-0.png",
            "samples/test-greedy.txt",
            "samples/test-beam.txt",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        let results = std::fs::read_to_string(run.join("results.json")).unwrap();
        for key in ["test_bleu_greedy", "test_bleu_beam", "valid_perplexity"] {
            assert!(results.contains(key), "{backend}: {results}");
        }

        // Pretend the run was meant to last two epochs and was killed after
        // the first: resuming continues from the checkpoint.
        let config_path = run.join("config.json");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(
            &config_path,
            config.replace("\"epochs\": 1", "\"epochs\": 2"),
        )
        .unwrap();
        let run_arg = run.to_str().unwrap();
        let output = translate(&["train", "--backend", backend.name(), "--resume", run_arg]);
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
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("train.tsv") && message.contains('2'),
        "{message}"
    );
    assert!(!dir.join("runs").exists(), "no run folder for bad data");

    let output = translate(&["train", "--teacher-forcing", "1.5", "--root", root]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--teacher-forcing"),
        "{}",
        stderr(&output)
    );

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
