//! caption end to end: train (with attention), resume, caption, train the
//! same run again from the same seed, and reject bad input, on every backend
//! in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

use std::path::{Path, PathBuf};

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
    let data: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&npy, npy_bytes("<f4", false, (1, 2), &data)).unwrap();
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

/// A features folder under `dir` of ten images, two captions each (by the
/// default split eight train, one validation and one test image), and
/// `npy` as its `features.npy`.
fn features_folder(dir: &Path, npy: &[u8]) -> PathBuf {
    let features = dir.join("features");
    std::fs::create_dir_all(&features).unwrap();
    let colours = ["red", "blue"];
    let shapes = ["circle", "square", "star", "cross", "heart"];
    let mut tokens = String::new();
    for image in 0..10 {
        let (colour, shape) = (colours[image % 2], shapes[image % 5]);
        tokens.push_str(&format!("img{image}.jpg#0\ta {colour} {shape}\n"));
        tokens.push_str(&format!("img{image}.jpg#1\tone {colour} {shape}\n"));
    }
    std::fs::write(features.join("image_captions.token"), tokens).unwrap();
    std::fs::write(features.join("features.npy"), npy).unwrap();
    features
}

/// `.npy` bytes (format 1.0) of `shape` with dtype `descr`, C or Fortran
/// order, and raw `data`, as `numpy.save` writes them.
fn npy_bytes(descr: &str, fortran: bool, shape: (usize, usize), data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {order}, 'shape': ({}, {}), }}",
        shape.0, shape.1
    );
    while !(11 + header.len()).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// `np.save` of a float64 array (NumPy's default dtype), here in Fortran
/// order, trains like float32; a NaN feature stops before any run folder
/// exists, in one line naming the file, the row and the row's image.
#[test]
fn float64_features_train_and_a_nan_is_refused_by_row() {
    let backend = Backend::for_tests()[0];
    let dir = APP.scratch(&format!("features-{backend}"));
    // Image i's features: [i, i / 10, 1, -1] (10 x 4), column by column.
    let values: Vec<f64> = (0..4)
        .flat_map(|column| {
            (0..10).map(move |image| match column {
                0 => f64::from(image),
                1 => f64::from(image) / 10.0,
                2 => 1.0,
                _ => -1.0,
            })
        })
        .collect();
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let features = features_folder(&dir.join("f8"), &npy_bytes("<f8", true, (10, 4), &data));
    let root = dir.join("root");
    let train = |features: &Path, root: &Path| {
        APP.run(&[
            "train",
            "--backend",
            backend.name(),
            "--root",
            root.to_str().unwrap(),
            "--features",
            features.to_str().unwrap(),
            "--min-count",
            "1",
            "--embedding",
            "8",
            "--hidden",
            "16",
            "--batch",
            "8",
            "--epochs",
            "1",
            "--beam",
            "2",
            "--max-len",
            "6",
        ])
    };
    let output = train(&features, &root);
    assert!(output.status.success(), "{backend}: {}", stderr(&output));
    let run = APP.only_run(&root);
    let metrics = read_metrics(run.join("metrics.csv")).unwrap();
    let loss = metrics.column("train_loss").unwrap();
    assert!(
        loss.len() == 1 && loss[0].is_finite(),
        "{backend}: {loss:?}"
    );

    // The same matrix as float32 with a NaN in row 3, column 1.
    let mut rows: Vec<f32> = (0..10)
        .flat_map(|image| [image as f32, image as f32 / 10.0, 1.0, -1.0])
        .collect();
    rows[3 * 4 + 1] = f32::NAN;
    let data: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
    let features = features_folder(&dir.join("nan"), &npy_bytes("<f4", false, (10, 4), &data));
    let root = dir.join("nan-root");
    let output = train(&features, &root);
    let npy = features.join("features.npy");
    assert_eq!(
        one_error_line(&output, &[]),
        format!(
            "error: {}: row 3 (image `img3.jpg`), column 1 (from 0) is NaN, not a finite float32",
            npy.display()
        )
    );
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(
        APP.runs(&root).is_empty(),
        "no run folder for a failed start"
    );

    // Integers are not features: refused naming the dtype, no run.
    let data: Vec<u8> = (0..40i32).flat_map(i32::to_le_bytes).collect();
    let features = features_folder(&dir.join("i4"), &npy_bytes("<i4", false, (10, 4), &data));
    let root = dir.join("i4-root");
    one_error_line(&train(&features, &root), &["features.npy", "'<i4'"]);
    assert!(
        APP.runs(&root).is_empty(),
        "no run folder for an int32 file"
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

/// Every size and count is checked before anything is read or written: one
/// line naming the flag, no panic, no run folder; a `--min-count` that
/// leaves only the special tokens is refused too.
#[test]
fn bad_sizes_are_one_line_naming_the_flag() {
    let dir = APP.scratch("bad-sizes");
    APP.assert_refused(
        &[
            "train",
            "--shapes-train",
            "40",
            "--root",
            dir.to_str().unwrap(),
        ],
        &[
            ("--embedding", "0"),
            ("--hidden", "0"),
            ("--channels", "0"),
            ("--attention-hidden", "0"),
            ("--beam", "0"),
            ("--max-len", "0"),
            ("--shapes-eval", "0"),
            ("--min-count", "1000000"),
            ("--batch", "0"),
        ],
        &dir,
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A run folder says which system made it: another app's run is refused in
/// one line by `--resume` and by `caption`.
#[test]
fn another_systems_run_is_refused() {
    APP.assert_refuses_another_systems_run(&[&["train", "--resume"], &["caption", "--run"]]);
}
