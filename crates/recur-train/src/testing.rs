//! Helpers for the end-to-end tests of an app's command line: one copy for
//! every app (`tests/cli.rs` of apps/charlm, translate, caption and ntm).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An app binary under test, e.g. `App::new("charlm",
/// env!("CARGO_BIN_EXE_charlm"))`.
#[derive(Debug, Clone, Copy)]
pub struct App {
    /// The system's name, as in `runs/<name>/`.
    pub name: &'static str,
    /// The binary.
    pub exe: &'static str,
}

impl App {
    /// The app `name` built as `exe`.
    pub const fn new(name: &'static str, exe: &'static str) -> App {
        App { name, exe }
    }

    /// Runs the app with `args` and waits for it.
    ///
    /// # Panics
    ///
    /// If the binary cannot be started.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", self.exe))
    }

    /// Runs `<args> <flag>=<value>` for each of `settings` and asserts that
    /// each is refused in one `error:` line naming the flag, with no panic
    /// and no run folder under `root`.
    ///
    /// # Panics
    ///
    /// If one is not.
    pub fn assert_refused(&self, args: &[&str], settings: &[(&str, &str)], root: &Path) {
        for (flag, value) in settings {
            let setting = format!("{flag}={value}");
            let mut all = args.to_vec();
            all.push(&setting);
            one_error_line(&self.run(&all), &[flag]);
            assert!(!root.join("runs").exists(), "{setting}: no run folder");
        }
    }

    /// Runs each of `commands` with a run folder of another system (a
    /// `config.json` that says `other`) as its last argument, and asserts
    /// that each is refused in one `error:` line saying whose run it is.
    ///
    /// # Panics
    ///
    /// If one is not.
    pub fn assert_refuses_another_systems_run(&self, commands: &[&[&str]]) {
        let dir = self.scratch("other-system");
        std::fs::write(dir.join("config.json"), r#"{"system": "other"}"#)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let run = dir.to_string_lossy();
        let refusal = format!("a run of other, not of {}", self.name);
        for command in commands {
            let mut args = command.to_vec();
            args.push(&run);
            one_error_line(&self.run(&args), &[&refusal]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `train --backend <backend> --resume <run> <extra>`: resumes a run.
    pub fn resume(&self, backend: crate::Backend, run: &Path, extra: &[&str]) -> Output {
        let run = run.to_string_lossy();
        let mut args = vec!["train", "--backend", backend.name(), "--resume", &run];
        args.extend(extra);
        self.run(&args)
    }

    /// The command that runs the app with `args`, to add to.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.exe);
        command
            .args(args)
            // The Vulkan loader complains on every start without it.
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        command
    }

    /// An empty folder for one test, under the system's temporary folder.
    ///
    /// # Panics
    ///
    /// If it cannot be made.
    pub fn scratch(&self, test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("{}-test-{}-{test}", self.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        dir
    }

    /// The run folders a command made under `root`, oldest first.
    pub fn runs(&self, root: &Path) -> Vec<PathBuf> {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(root.join("runs").join(self.name))
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        runs.sort();
        runs
    }

    /// The one run folder a command made under `root`.
    ///
    /// # Panics
    ///
    /// If there is not exactly one.
    pub fn only_run(&self, root: &Path) -> PathBuf {
        let mut runs = self.runs(root);
        assert_eq!(runs.len(), 1, "one run folder under {}", root.display());
        runs.remove(0)
    }
}

/// Copies the run folder `from` to `to` (a run cut short, to resume it more
/// than one way).
///
/// # Panics
///
/// If `cp -r` fails.
pub fn copy_run(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .args([from, to])
        .status()
        .unwrap_or_else(|e| panic!("cp: {e}"));
    assert!(
        status.success(),
        "cp -r {} {}",
        from.display(),
        to.display()
    );
}

/// A command's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that `output` is a failure whose stderr is one `error: ` line
/// containing every one of `words`, and returns that line.
///
/// # Panics
///
/// If it is not.
pub fn one_error_line(output: &Output, words: &[&str]) -> String {
    let text = stderr(output);
    assert!(!output.status.success(), "expected a failure: {text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {text}");
    assert!(!text.contains("panicked"), "a panic: {text}");
    for word in words {
        assert!(errors[0].contains(word), "`{word}` not in: {text}");
    }
    errors[0].to_string()
}

impl App {
    /// The command that runs `ranks` MPI ranks of the app with `args` on
    /// this machine through `mpirun` (as root too, more ranks than cores
    /// allowed, one CPU thread each), checking after every step that all
    /// ranks hold the same weights (`RECUR_CHECK_WORKERS=1`).
    pub fn mpirun(&self, ranks: usize, args: &[&str]) -> Command {
        let mut command = Command::new("mpirun");
        command
            .args([
                "-n",
                &ranks.to_string(),
                "--oversubscribe",
                "--bind-to",
                "none",
            ])
            .args(["--mca", "mpi_yield_when_idle", "1"])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .env("RAYON_NUM_THREADS", "1")
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("RECUR_CHECK_WORKERS", "1")
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .arg(self.exe)
            .args(args);
        command
    }
}

/// The model tensors of a run's latest checkpoint, by name, as `f32`s.
///
/// # Panics
///
/// If the run has no readable checkpoint.
pub fn latest_weights(run: &Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    let checkpointer = crate::Checkpointer::new(run.join("checkpoints"), usize::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    let latest = checkpointer
        .latest()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{}: no checkpoint", run.display()));
    let reader = burn::store::burn_pack::Reader::from_file(latest.model_file())
        .unwrap_or_else(|e| panic!("{}: {e}", latest.model_file().display()));
    reader
        .tensor_names()
        .into_iter()
        .map(|name| {
            let bytes = reader
                .tensor_data(name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name.to_string(), values)
        })
        .collect()
}

/// Asserts that two sets of weights have the same tensors and that each
/// tensor's largest difference is at most `relative` times its largest
/// magnitude.
///
/// # Panics
///
/// If they differ by more.
pub fn assert_weights_close(
    a: &std::collections::BTreeMap<String, Vec<f32>>,
    b: &std::collections::BTreeMap<String, Vec<f32>>,
    relative: f32,
) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same tensors"
    );
    for (name, x) in a {
        let y = &b[name];
        assert_eq!(x.len(), y.len(), "{name}: sizes");
        let scale = x
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(f32::MIN_POSITIVE);
        let worst = x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
        assert!(
            worst <= relative * scale,
            "{name}: differs by {worst} (largest value {scale})"
        );
    }
}
