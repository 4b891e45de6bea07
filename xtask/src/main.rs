//! `cargo xtask`: every developer task of Recur as plain Rust, in the spirit
//! of rust-analyzer's xtask. xtask itself builds in seconds (no burn); the
//! commands it runs build what they need.

mod app;
mod bench;
mod ci;
mod fetch;
mod system;
mod util;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Recur's developer tasks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// What CI runs: check formatting, install the software Vulkan driver if
    /// no GPU driver is present, then build and run every test, doctest and
    /// example, and build the docs with warnings as errors.
    Ci,
    /// Benchmarks, side by side with PyTorch; writes docs/BENCHMARKS.md.
    Bench(bench::BenchArgs),
    /// Data sets too large to commit: `data fetch NAME`.
    Data(fetch::DataArgs),
    /// Train a system: `train charlm [--backend ndarray] [--cell lstm] ...`;
    /// `--workers N` trains on N MPI ranks of this machine.
    Train(app::AppArgs),
    /// A folder of images -> `features.npy` (EfficientNet-Lite0's pooled
    /// features) + `images.txt` (+ captions): `features --images DIR --out DIR`.
    Features(app::FeaturesArgs),
    /// Generate from a trained run: `sample charlm --run DIR [--prime TEXT] ...`.
    Sample(app::AppArgs),
    /// Evaluate a trained run: `eval ntm --run DIR --length 40`.
    Eval(app::AppArgs),
    /// Translate with a trained run: `translate --run DIR "sentence" [--beam K]`.
    Translate(app::PassArgs),
    /// Caption images with a trained run: `caption --run DIR [--split test] [--beam 3]`.
    Caption(app::PassArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::run(args),
        Command::Data(args) => fetch::run(args),
        Command::Train(args) => app::train(args),
        Command::Sample(args) => app::infer("sample", args),
        Command::Eval(args) => app::infer("eval", args),
        Command::Translate(args) => app::infer_named(app::System::Translate, args),
        Command::Caption(args) => app::infer_named(app::System::Caption, args),
        Command::Features(args) => app::features(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
