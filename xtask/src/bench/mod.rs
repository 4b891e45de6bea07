//! `cargo xtask bench`: benchmarks beside their PyTorch reference, written
//! into docs/BENCHMARKS.md.

mod apps;
mod cells;

use clap::{Args, ValueEnum};

use crate::util::root;

#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark to run.
    suite: Suite,
    /// Python interpreter with torch installed (`pip install torch`).
    #[arg(long, env = "RECUR_PYTHON", default_value = "python3")]
    python: String,
    /// cells: timed iterations per measurement (after two warm-up ones).
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
    /// Forward + backward of LSTM, GRU and vanilla RNN at batch 32, time 64,
    /// input 256, hidden 512: Recur vs burn::nn vs PyTorch, and each
    /// against the time of its matrix products alone.
    Cells,
    /// Each app's training steps (and beam search where it has one) beside
    /// its PyTorch reference script: samples/s and peak memory.
    Apps,
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    match args.suite {
        Suite::Cells => cells::run(&args),
        Suite::Apps => apps::run(&args),
    }
}

impl BenchArgs {
    /// The profile's name for cargo and for the tables.
    fn profile(&self) -> (&'static str, &'static str) {
        if self.release {
            ("release", "release profile")
        } else {
            ("dev", "dev profile (dependencies at opt-level 3)")
        }
    }

    /// Writes `table` between `name`'s markers in docs/BENCHMARKS.md, unless
    /// `--no-write`.
    fn write(&self, name: &str, table: &str) -> Result<(), String> {
        println!("{table}");
        if self.no_write {
            return Ok(());
        }
        let path = root().join("docs/BENCHMARKS.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let updated = replace_section(&doc, name, table);
        std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
        Ok(())
    }
}

/// The threads both sides use: every core of this machine.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

/// `values` as `a, b, c` with two decimals.
fn list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
    items.join(", ")
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

    #[test]
    fn median_and_sections() {
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
        let doc = "a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\nb\n";
        assert_eq!(
            replace_section(doc, "x", "new\n"),
            "a\n<!-- bench:x -->\nnew\n<!-- /bench:x -->\nb\n"
        );
    }
}
