//! `cargo xtask bench`: benchmarks beside their PyTorch reference, written
//! into docs/BENCHMARKS.md.

use std::process::Command;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::util::{cargo, output, root};

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    suite: Suite,
    /// Python interpreter with torch installed (`pip install torch`).
    #[arg(long, env = "RECUR_PYTHON", default_value = "python3")]
    python: String,
    /// Timed iterations per measurement (after two warm-up ones).
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Print the table but leave docs/BENCHMARKS.md alone.
    #[arg(long)]
    no_write: bool,
    /// Build the Rust side with the release profile instead of the dev
    /// profile (whose dependencies, burn included, are already optimised at
    /// opt-level 3 and shared with the tests, so no second build of burn).
    #[arg(long)]
    release: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Suite {
    /// Forward + backward of LSTM and GRU at batch 32, time 64, input 256,
    /// hidden 512: Recur vs burn::nn vs PyTorch.
    Cells,
}

/// One line of a benchmark's JSON output.
#[derive(Deserialize)]
struct Measurement {
    implementation: String,
    backend: String,
    cell: String,
    median_s: f64,
    min_s: f64,
}

const SIZES: [(&str, usize); 4] = [("batch", 32), ("time", 64), ("input", 256), ("hidden", 512)];

pub fn run(args: BenchArgs) -> Result<(), String> {
    match args.suite {
        Suite::Cells => cells(&args),
    }
}

fn cells(args: &BenchArgs) -> Result<(), String> {
    crate::system::ensure(&[crate::system::OPENBLAS])?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sizes: Vec<String> = SIZES
        .iter()
        .flat_map(|(name, value)| [format!("--{name}"), value.to_string()])
        .chain(["--iters".into(), args.iters.to_string()])
        .collect();

    let mut measurements = Vec::new();
    for backend in ["flex", "ndarray"] {
        let profile = if args.release { "release" } else { "dev" };
        let stdout = output(
            cargo()
                .args([
                    "bench",
                    "--quiet",
                    "--profile",
                    profile,
                    "--package",
                    "recur-cells",
                    "--bench",
                    "cells",
                    "--",
                ])
                .args(["--backend", backend])
                .args(&sizes),
        )?;
        measurements.extend(parse(&stdout)?);
    }
    let script = root().join("xtask/bench/cells.py");
    let stdout = output(
        Command::new(&args.python)
            .arg(&script)
            .args(["--threads", &threads.to_string()])
            .args(&sizes),
    )
    .map_err(|e| format!("{e}\n(the PyTorch reference needs `pip install torch`; choose the interpreter with --python)"))?;
    measurements.extend(parse(&stdout)?);

    let profile = if args.release {
        "release profile"
    } else {
        "dev profile (dependencies at opt-level 3)"
    };
    let table = render(&measurements, threads, profile);
    println!("{table}");
    if !args.no_write {
        let path = root().join("docs/BENCHMARKS.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let updated = replace_section(&doc, "cells", &table);
        std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn parse(stdout: &str) -> Result<Vec<Measurement>, String> {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line).map_err(|e| format!("bad benchmark line `{line}`: {e}"))
        })
        .collect()
}

/// The markdown table, with each row's time as a ratio to PyTorch's.
fn render(measurements: &[Measurement], threads: usize, profile: &str) -> String {
    let sizes: Vec<String> = SIZES.iter().map(|(n, v)| format!("{n} {v}")).collect();
    let mut out = format!(
        "Forward + backward of one layer, {}, float32, {threads} threads, Rust built with the {profile}; \
         median of the timed iterations (min in brackets). Ratio: time / PyTorch's time \
         for the same cell (below 1 is faster than PyTorch).\n\n\
         | implementation | backend | cell | seconds | ratio to PyTorch |\n|---|---|---|---|---|\n",
        sizes.join(", ")
    );
    for cell in ["lstm", "gru"] {
        let reference = measurements
            .iter()
            .find(|m| m.cell == cell && m.implementation.starts_with("PyTorch"))
            .map(|m| m.median_s);
        for m in measurements.iter().filter(|m| m.cell == cell) {
            let ratio = reference.map_or("-".into(), |r| format!("{:.2}", m.median_s / r));
            out.push_str(&format!(
                "| {} | {} | {} | {:.3} ({:.3}) | {} |\n",
                m.implementation, m.backend, m.cell, m.median_s, m.min_s, ratio
            ));
        }
    }
    out
}

/// Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
/// (appending the pair if absent), leaving the rest of the document alone.
fn replace_section(doc: &str, name: &str, body: &str) -> String {
    let (open, close) = (
        format!("<!-- bench:{name} -->"),
        format!("<!-- /bench:{name} -->"),
    );
    match (doc.find(&open), doc.find(&close)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{open}\n{body}{}", &doc[..start], &doc[end..])
        }
        _ => format!("{doc}\n{open}\n{body}{close}\n"),
    }
}
