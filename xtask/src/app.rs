//! `cargo xtask train|sample|eval <system>`: run a
//! system's app with the dev profile, whose dependencies (burn included) are
//! optimised and shared with the tests, so nothing is built twice.

use clap::{Args, ValueEnum};

use crate::util::{cargo, exec};

#[derive(Args)]
pub struct AppArgs {
    /// Which system.
    system: System,
    /// Flags for the app (`cargo run -p charlm -- train --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum System {
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
}

/// Runs `<system's app> <subcommand> <args>`.
pub fn run(subcommand: &str, args: AppArgs) -> Result<(), String> {
    run_app(args.system.package(), subcommand, &args.args)
}

/// Runs `cargo run -p <package> -- <subcommand> <args>` in the dev profile:
/// the one way xtask starts an app.
pub fn run_app(package: &str, subcommand: &str, args: &[String]) -> Result<(), String> {
    crate::system::ensure(&[crate::system::OPENBLAS])?;
    let mut command = cargo();
    command
        .args(["run", "--quiet", "--package", package, "--", subcommand])
        .args(args);
    // The Vulkan loader complains on every start without it (harmless, but
    // printed as an error).
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        command.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    exec(&mut command)
}
