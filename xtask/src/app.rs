//! `cargo xtask train <system>`, the apps' inference commands (`sample`,
//! `translate`, `caption`, `eval`) and `features` (the caption app's image
//! features): run a system's app with the dev profile,
//! whose dependencies (burn included) are optimised and shared with the
//! tests, so nothing is built twice. `train ... --workers N` starts N MPI
//! ranks of the app with `mpirun`.

use std::process::Command;

use clap::{Args, ValueEnum};

use crate::util::{cargo, exec, root};

#[derive(Args)]
pub struct AppArgs {
    /// Which system.
    system: System,
    /// Flags for the app (`cargo run -p charlm -- train --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The flags of an app command whose system is implied by the verb.
#[derive(Args)]
pub struct PassArgs {
    /// Flags for the app's command (e.g. `cargo run -p translate -- translate --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum System {
    /// The character-level language model (apps/charlm).
    Charlm,
    /// The Neural Turing Machine (apps/ntm).
    Ntm,
    /// Image captioning (apps/caption).
    Caption,
    /// Neural machine translation with attention (apps/translate).
    Translate,
}

impl System {
    fn package(self) -> &'static str {
        match self {
            System::Charlm => "charlm",
            System::Ntm => "ntm",
            System::Caption => "caption",
            System::Translate => "translate",
        }
    }

    /// How xtask runs the app's inference command.
    fn invocation(self) -> String {
        match self {
            System::Charlm | System::Ntm => format!("{} {}", self.inference(), self.package()),
            System::Translate | System::Caption => self.inference().to_string(),
        }
    }

    /// The app's command that uses a trained run (also xtask's verb for it).
    fn inference(self) -> &'static str {
        match self {
            System::Charlm => "sample",
            System::Translate => "translate",
            System::Caption => "caption",
            System::Ntm => "eval",
        }
    }
}

/// `cargo xtask train <system> ...`.
pub fn train(args: AppArgs) -> Result<(), String> {
    let workers = workers(&args.args)?;
    if workers > 1 {
        return train_on_ranks(args.system.package(), workers, &args.args);
    }
    run_app(args.system.package(), "train", &args.args)
}

/// `cargo xtask <verb> <system> ...` for an inference verb that takes the
/// system (`sample`, `eval`): refused, before anything is built, for a system
/// whose inference command is another.
pub fn infer(verb: &str, args: AppArgs) -> Result<(), String> {
    if args.system.inference() != verb {
        return Err(format!(
            "{} has no `{verb}` command; its inference command is `cargo xtask {}`",
            args.system.package(),
            args.system.invocation()
        ));
    }
    run_app(args.system.package(), verb, &args.args)
}

/// `cargo xtask translate ...` / `cargo xtask caption ...`: the inference
/// command of the system of the same name.
pub fn infer_named(system: System, args: PassArgs) -> Result<(), String> {
    run_app(system.package(), system.inference(), &args.args)
}

#[derive(Args)]
pub struct FeaturesArgs {
    /// Flags for `caption features` (`--images DIR --out DIR [--backend B]`;
    /// `cargo run -p caption -- features --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `cargo xtask features ...`: runs `caption features ...` (a folder of
/// images -> the `features.npy` layout the caption app trains on).
pub fn features(args: FeaturesArgs) -> Result<(), String> {
    run_app("caption", "features", &args.args)
}

/// Runs `cargo run -p <package> -- <subcommand> <args>` in the dev profile:
/// the one way xtask starts an app in one process.
fn run_app(package: &str, subcommand: &str, args: &[String]) -> Result<(), String> {
    crate::system::ensure(&crate::system::FOR_APPS)?;
    let mut command = cargo();
    command
        .args(["run", "--quiet", "--package", package])
        .args(gpu_features(args))
        .args(["--", subcommand])
        .args(args);
    quiet_vulkan_loader(&mut command);
    exec(&mut command)
}

/// The cargo flags that build the GPU backend (the app's `wgpu` feature),
/// when an app's flags ask for it (`--backend wgpu`): only then is wgpu
/// compiled, the larger half of a cold build.
fn gpu_features(args: &[String]) -> Vec<&'static str> {
    let wgpu = args
        .windows(2)
        .any(|pair| pair[0] == "--backend" && pair[1] == "wgpu")
        || args.iter().any(|arg| arg == "--backend=wgpu");
    if wgpu {
        vec!["--features", "wgpu"]
    } else {
        Vec::new()
    }
}

/// The value of `--workers` in an app's flags (1 when absent).
fn workers(args: &[String]) -> Result<usize, String> {
    let mut value = None;
    for (i, arg) in args.iter().enumerate() {
        if arg == "--workers" {
            value = args.get(i + 1).map(String::as_str);
        } else if let Some(v) = arg.strip_prefix("--workers=") {
            value = Some(v);
        }
    }
    value.map_or(Ok(1), |v| {
        v.parse()
            .map_err(|_| format!("--workers: `{v}` is not a number of processes"))
    })
}

/// Builds the app, then runs `workers` ranks of `<app> train <args>` with
/// OpenMPI's `mpirun` on this machine, the CPU threads shared out among them.
/// On a cluster, run the same binary under `mpirun --hostfile` yourself
/// (docs/DISTRIBUTED.md).
fn train_on_ranks(package: &str, workers: usize, args: &[String]) -> Result<(), String> {
    crate::system::ensure(&crate::system::FOR_APPS)?;
    exec(
        cargo()
            .args(["build", "--quiet", "--package", package])
            .args(gpu_features(args)),
    )?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), Into::into);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = (cores / workers).max(1).to_string();
    let mut command = Command::new("mpirun");
    command.args(["-n", &workers.to_string()]);
    // More ranks than cores is allowed (each waits its turn); ranks are not
    // pinned, so each can use the threads it is given; a rank waiting in a
    // collective yields its core instead of spinning.
    command.args([
        "--oversubscribe",
        "--bind-to",
        "none",
        "--mca",
        "mpi_yield_when_idle",
        "1",
    ]);
    if is_root() {
        command.arg("--allow-run-as-root");
    }
    for (name, value) in [
        ("RAYON_NUM_THREADS", threads.as_str()),
        ("OPENBLAS_NUM_THREADS", threads.as_str()),
        ("OPENBLAS_THREAD_TIMEOUT", "4"),
    ] {
        command.env(name, value).args(["-x", name]);
    }
    quiet_vulkan_loader(&mut command);
    command
        .arg(target.join("debug").join(package))
        .arg("train")
        .args(args)
        .current_dir(root());
    exec(&mut command)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// The Vulkan loader complains on every start without `XDG_RUNTIME_DIR`
/// (harmless, but printed as an error).
fn quiet_vulkan_loader(command: &mut Command) {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        command.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
}
