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
    /// Rounds of Recur and PyTorch one after the other: this VM's speed
    /// drifts between minutes, so the ratio reported is the median of the
    /// rounds' ratios. burn::nn, several times slower, is timed in the first
    /// round only.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
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

    let cargo_profile = if args.release { "release" } else { "dev" };
    let round_count = args.rounds.max(1);
    let mut rounds = Vec::new();
    for round in 0..round_count {
        let mut measurements = Vec::new();
        for backend in ["flex", "ndarray"] {
            let mut command = cargo();
            command
                .args([
                    "bench",
                    "--quiet",
                    "--profile",
                    cargo_profile,
                    "--package",
                    "recur-cells",
                    "--bench",
                    "cells",
                    "--",
                ])
                .args(["--backend", backend])
                .args(&sizes);
            if round > 0 {
                command.arg("--recur-only");
            }
            measurements.extend(parse(&output(&mut command)?)?);
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
        eprintln!("round {}/{round_count} done", round + 1);
        rounds.push(measurements);
    }

    let profile = if args.release {
        "release profile"
    } else {
        "dev profile (dependencies at opt-level 3)"
    };
    let table = render(&rounds, threads, profile);
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

/// The markdown table: for each implementation and cell, the median of its
/// rounds' times and of its ratios to PyTorch's time in the same round.
fn render(rounds: &[Vec<Measurement>], threads: usize, profile: &str) -> String {
    let sizes: Vec<String> = SIZES.iter().map(|(n, v)| format!("{n} {v}")).collect();
    let mut out = format!(
        "Forward + backward of one layer, {}, float32, {threads} threads, Rust built with the {profile}; \
         {} rounds, each timing Recur then PyTorch (burn::nn in the first round only). \
         Seconds: the median over rounds of each round's median iteration. \
         Ratio: time / PyTorch's time in the same round, median over rounds, \
         then each round's (below 1 is faster than PyTorch).\n\n\
         | implementation | backend | cell | seconds | ratio to PyTorch | ratio per round |\n|---|---|---|---|---|---|\n",
        sizes.join(", "),
        rounds.len(),
    );
    for cell in ["lstm", "gru"] {
        let mut rows: Vec<(&str, &str)> = Vec::new();
        for m in rounds.iter().flatten().filter(|m| m.cell == cell) {
            if !rows.contains(&(&m.implementation, &m.backend)) {
                rows.push((&m.implementation, &m.backend));
            }
        }
        for (implementation, backend) in rows {
            let (mut seconds, mut ratios) = (Vec::new(), Vec::new());
            for round in rounds {
                let find = |pred: &dyn Fn(&Measurement) -> bool| {
                    round
                        .iter()
                        .find(|m| m.cell == cell && pred(m))
                        .map(|m| m.median_s)
                };
                let Some(time) =
                    find(&|m| m.implementation == implementation && m.backend == backend)
                else {
                    continue;
                };
                seconds.push(time);
                if let Some(reference) = find(&|m| m.implementation.starts_with("PyTorch")) {
                    ratios.push(time / reference);
                }
            }
            let per_round: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            out.push_str(&format!(
                "| {implementation} | {backend} | {cell} | {:.3} | {} | {} |\n",
                median(&seconds),
                if ratios.is_empty() {
                    "-".into()
                } else {
                    format!("{:.2}", median(&ratios))
                },
                per_round.join(", "),
            ));
        }
    }
    out
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn measurement(implementation: &str, cell: &str, median_s: f64) -> Measurement {
        Measurement {
            implementation: implementation.into(),
            backend: "cpu".into(),
            cell: cell.into(),
            median_s,
        }
    }

    #[test]
    fn ratios_are_taken_within_a_round_then_the_median_over_rounds() {
        // PyTorch's own speed drifts 2x between rounds; Recur's ratio does not.
        let rounds: Vec<Vec<Measurement>> = [(1.0, 0.9), (2.0, 1.6), (1.5, 1.5)]
            .iter()
            .map(|&(torch, recur)| {
                vec![
                    measurement("Recur", "lstm", recur),
                    measurement("PyTorch 2", "lstm", torch),
                ]
            })
            .collect();
        let table = render(&rounds, 2, "dev profile");
        assert!(
            table.contains("| Recur | cpu | lstm | 1.500 | 0.90 | 0.90, 0.80, 1.00 |"),
            "{table}"
        );
        assert!(
            table.contains("| PyTorch 2 | cpu | lstm | 1.500 | 1.00 | 1.00, 1.00, 1.00 |"),
            "{table}"
        );
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
