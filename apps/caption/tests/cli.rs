//! caption end to end: train (with attention), resume, caption, train the
//! same run again from the same seed, and reject bad input, on every backend
//! in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use recur_train::testing::{App, one_error_line, stderr};
use recur_train::{Backend, read_metrics};

const APP: App = App::new("caption", env!("CARGO_BIN_EXE_caption"));

const TINY: [&str; 20] = [
    "--shapes-train",
    "24",
    "--shapes-eval",
    "4",
    "--embedding",
    "8",
    "--hidden",
    "16",
    "--channels",
    "4",
    "--attention-hidden",
    "8",
    "--batch",
    "16",
    "--epochs",
    "1",
    "--beam",
    "2",
    "--max-len",
    "6",
];

#[test]
fn train_resume_and_caption() {
    for backend in Backend::for_tests() {
        let dir = APP.scratch(backend.name());
        let root = dir.to_str().unwrap();
        let mut args = vec![
            "train",
            "--backend",
            backend.name(),
            "--root",
            root,
            "--attention",
        ];
        args.extend(TINY);
        let output = APP.run(&args);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            stdout.contains("test BLEU   greedy: BLEU-1"),
            "{backend}: {stdout}"
        );
        assert!(
            stdout.contains("test BLEU   beam 2: BLEU-1"),
            "{backend}: {stdout}"
        );

        let run = APP.only_run(&dir);
        for file in [
            "config.json",
            "vocab.json",
            "metrics.csv",
            "results.json",
            "index.html",
            "plots/loss.png",
            "samples/epoch-001.txt",
            "samples/test.txt",
            "images/test-000.png",
        ] {
            assert!(run.join(file).is_file(), "{backend}: {file} missing");
        }
        let html = std::fs::read_to_string(run.join("index.html")).unwrap();
        assert!(
            html.contains("images/test-003.png"),
            "{backend}: four test images"
        );
        let results = std::fs::read_to_string(run.join("results.json")).unwrap();
        assert!(results.contains("\"bleu\""), "{backend}: {results}");

        // Pretend the run was meant to last two epochs and was killed after
        // the first: resuming continues from the checkpoint.
        let config_path = run.join("config.json");
        let config = std::fs::read_to_string(&config_path).unwrap();
        std::fs::write(
            &config_path,
            config.replace("\"epochs\": 1", "\"epochs\": 2"),
        )
        .unwrap();
        let output = APP.resume(backend, &run, &[]);
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

        let output = APP.run(&[
            "caption",
            "--backend",
            backend.name(),
            "--run",
            run.to_str().unwrap(),
            "--count",
            "3",
            "--beam",
            "2",
        ]);
        assert!(output.status.success(), "{backend}: {}", stderr(&output));
        let lines = String::from_utf8(output.stdout).unwrap();
        assert_eq!(lines.lines().count(), 3, "{backend}: {lines}");
        assert!(lines.starts_with("shapes-"), "{backend}: {lines}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// `--resume DIR --epochs N` trains a finished run on to epoch N; any flag
/// other than the budget and the backend that disagrees with the saved run
/// is refused, naming it.
#[test]
fn resume_extends_epochs_and_refuses_other_changed_flags() {
    let backend = Backend::for_tests()[0];
    let dir = APP.scratch(&format!("resume-{backend}"));
    let mut args = vec![
        "train",
        "--backend",
        backend.name(),
        "--root",
        dir.to_str().unwrap(),
    ];
    args.extend(TINY);
    let output = APP.run(&args);
    assert!(output.status.success(), "{backend}: {}", stderr(&output));
    let run = APP.only_run(&dir);
    let epochs = || {
        read_metrics(run.join("metrics.csv"))
            .unwrap()
            .column("epoch")
            .unwrap()
    };
    assert_eq!(epochs(), [1.0], "{backend}");

    let resume = |extra: &[&str]| APP.resume(backend, &run, extra);
    let output = resume(&["--epochs", "2"]);
    assert!(output.status.success(), "{backend}: {}", stderr(&output));
    assert!(
        stderr(&output).contains("resumed from"),
        "{}",
        stderr(&output)
    );
    assert_eq!(epochs(), [1.0, 2.0], "{backend}: epoch 2 trained");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("\"epochs\": 2"), "{config}");

    let output = resume(&["--hidden", "99"]);
    one_error_line(&output, &["--hidden", "99"]);
    assert_eq!(epochs(), [1.0, 2.0], "{backend}: nothing trained");
    assert_eq!(APP.runs(&dir).len(), 1, "no new run folder");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_one_clear_line_and_leaves_no_run() {
    let dir = APP.scratch("bad");
    let root = dir.to_str().unwrap();
    let features = dir.join("features");
    std::fs::create_dir_all(&features).unwrap();
    let tokens = features.join("image_captions.token");
    std::fs::write(&tokens, "a.jpg#0\ta dog\nb.jpg#0 no tab\n").unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--root",
            root,
            "--features",
            features.to_str().unwrap(),
        ];
        args.extend(extra);
        APP.run(&args)
    };

    let output = train(&[]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}:2: expected `name.jpg#k<TAB>caption`\n",
            tokens.display()
        )
    );

    std::fs::write(&tokens, "a.jpg#0\ta dog\nb.jpg#0\ta cat\n").unwrap();
    let output = train(&[]);
    assert!(!output.status.success());
    let npy = features.join("features.npy");
    assert!(
        stderr(&output).starts_with(&format!("error: {}: ", npy.display())),
        "{}",
        stderr(&output)
    );

    // A float32 matrix with one row for two images.
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }".to_string();
    while (11 + header.len()) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend([1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(&npy, bytes).unwrap();
    let output = train(&[]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: 1 feature rows, but {} has captions for 2 images (one row per image, in caption-file order)\n",
            npy.display(),
            tokens.display()
        )
    );

    let output = APP.run(&[
        "train",
        "--root",
        root,
        "--encoder",
        "features",
        "--attention",
        "--shapes-train",
        "4",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).starts_with("error: --attention needs"),
        "{}",
        stderr(&output)
    );
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a failed start"
    );

    let missing = dir.join("no-weights.pth");
    let output = APP.run(&[
        "train",
        "--root",
        root,
        "--encoder",
        "pretrained",
        "--weights",
        missing.to_str().unwrap(),
        "--shapes-train",
        "4",
    ]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: --weights {}: no such file (run `cargo xtask data fetch efficientnet-lite0`)\n",
            missing.display()
        )
    );
    assert!(
        !dir.join("runs").exists(),
        "no run folder for a failed start"
    );

    let output = APP.run(&["caption", "--run", root]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "error: {}: not a run folder (no config.json)\n",
            dir.display()
        )
    );

    let output = APP.run(&["train", "--encoder", "vgg"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("invalid value 'vgg'"),
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
        let dir = APP.scratch(&format!("seed-{backend}"));
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
            ];
            args.extend(TINY);
            let output = APP.run(&args);
            assert!(output.status.success(), "{backend}: {}", stderr(&output));
            let metrics = read_metrics(APP.only_run(&root).join("metrics.csv")).unwrap();
            ["train_loss", "valid_loss"].map(|column| metrics.column(column).unwrap())
        };
        assert_eq!(losses("a"), losses("b"), "{backend}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
