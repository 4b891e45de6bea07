//! `cargo xtask bench cells`: one recurrent layer's forward + backward,
//! Recur beside burn::nn and PyTorch, and beside its matrix products alone.

use std::process::Command;

use serde::Deserialize;

use super::{BenchArgs, list, median, threads};
use crate::util::{cargo, output, root};

/// One line of a benchmark's JSON output.
#[derive(Deserialize)]
struct Measurement {
    implementation: String,
    backend: String,
    cell: String,
    median_s: f64,
}

/// What the Rust benchmark calls its timing of the layer's matrix products
/// alone.
const MATMULS: &str = "sgemm at its peak";

const SIZES: [(&str, usize); 4] = [("batch", 32), ("time", 64), ("input", 256), ("hidden", 512)];

/// The cells, with their gate count (the recurrent weights are `[hidden,
/// gates * hidden]`).
const CELLS: [(&str, usize); 3] = [("lstm", 4), ("gru", 3), ("rnn", 1)];

pub fn run(args: &BenchArgs) -> Result<(), String> {
    crate::system::ensure(&[crate::system::OPENBLAS])?;
    let sizes: Vec<String> = SIZES
        .iter()
        .flat_map(|(name, value)| [format!("--{name}"), value.to_string()])
        .chain(["--iters".into(), args.iters.to_string()])
        .collect();
    let round_count = args.rounds.max(1);
    let mut rounds = Vec::new();
    for round in 0..round_count {
        let mut measurements = Vec::new();
        for backend in ["flex", "ndarray"] {
            let mut command = cargo();
            command
                .args(["bench", "--quiet", "--profile", args.profile().0])
                .args(["--package", "recur-cells", "--bench", "cells", "--"])
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
                .args(["--threads", &threads().to_string()])
                .args(&sizes),
        )
        .map_err(|e| format!("{e}\n(the PyTorch reference needs `pip install torch`; choose the interpreter with --python)"))?;
        measurements.extend(parse(&stdout)?);
        eprintln!("round {}/{round_count} done", round + 1);
        rounds.push(measurements);
    }
    args.write("cells", &render(&rounds, threads(), args.profile().1))
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

/// Floating-point operations of one forward + backward: three products
/// with the input weights (forward, the input's gradient, the weights'
/// gradient) and three with the recurrent ones, each `2 * rows * in * out`.
fn flops(gates: usize) -> f64 {
    let size = |name: &str| SIZES.iter().find(|(n, _)| *n == name).map_or(0, |s| s.1) as f64;
    let rows = size("batch") * size("time");
    let out = gates as f64 * size("hidden");
    2.0 * 3.0 * rows * (size("input") + size("hidden")) * out
}

/// The markdown table: for each implementation and cell, the median of its
/// rounds' times and of its ratios to PyTorch's time in the same round; its
/// GFLOP/s, and the share of the matrix products' peak that is (the fastest
/// backend's products alone, in the same round: what no layer on this
/// machine's BLAS can beat).
fn render(rounds: &[Vec<Measurement>], threads: usize, profile: &str) -> String {
    let sizes: Vec<String> = SIZES.iter().map(|(n, v)| format!("{n} {v}")).collect();
    let mut out = format!(
        "Forward + backward of one layer, {}, float32, {threads} threads, Rust built with the {profile}; \
         {} rounds, each timing Recur then PyTorch (burn::nn in the first round only). \
         Seconds: the median over rounds of each round's median iteration. \
         GFLOP/s: the layer's matrix products' operations ({}) over its time. \
         Of peak: the time of the same matrix products alone on the faster backend over the layer's time, \
         median over rounds. \
         Ratio: time / PyTorch's time in the same round, median over rounds, \
         then each round's (below 1 is faster than PyTorch).\n\n\
         | implementation | backend | cell | seconds | GFLOP/s | of peak | ratio to PyTorch | ratio per round |\n\
         |---|---|---|---|---|---|---|---|\n",
        sizes.join(", "),
        rounds.len(),
        "6 x batch x time x (input + hidden) x gates x hidden",
    );
    for (cell, gates) in CELLS {
        let mut rows: Vec<(&str, &str)> = Vec::new();
        for m in rounds.iter().flatten().filter(|m| m.cell == cell) {
            if !rows.contains(&(&m.implementation, &m.backend)) {
                rows.push((&m.implementation, &m.backend));
            }
        }
        for (implementation, backend) in rows {
            let (mut seconds, mut ratios, mut of_peak) = (Vec::new(), Vec::new(), Vec::new());
            for round in rounds {
                let find = |pred: &dyn Fn(&Measurement) -> bool| {
                    let times = round.iter().filter(|m| m.cell == cell && pred(m));
                    times.map(|m| m.median_s).min_by(f64::total_cmp)
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
                if let Some(peak) = find(&|m| m.implementation == MATMULS) {
                    of_peak.push(peak / time);
                }
            }
            let time = median(&seconds);
            let optional = |values: &[f64], format: fn(f64) -> String| {
                if values.is_empty() {
                    "-".to_string()
                } else {
                    format(median(values))
                }
            };
            out.push_str(&format!(
                "| {implementation} | {backend} | {cell} | {time:.3} | {:.0} | {} | {} | {} |\n",
                flops(gates) / time / 1e9,
                optional(&of_peak, |v| format!("{:.0}%", 100.0 * v)),
                optional(&ratios, |v| format!("{v:.2}")),
                list(&ratios),
            ));
        }
    }
    out
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
                    measurement(MATMULS, "lstm", 0.75 * recur),
                ]
            })
            .collect();
        let table = render(&rounds, 2, "dev profile");
        let gflops = flops(4) / 1.5 / 1e9;
        assert!(
            table.contains(&format!(
                "| Recur | cpu | lstm | 1.500 | {gflops:.0} | 75% | 0.90 | 0.90, 0.80, 1.00 |"
            )),
            "{table}"
        );
        assert!(
            table.contains("| PyTorch 2 | cpu | lstm | 1.500 |"),
            "{table}"
        );
    }
}
