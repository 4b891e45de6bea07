//! `cargo xtask bench apps`: each app's default model trained for a fixed
//! number of steps, beside its PyTorch reference script doing the same,
//! in alternating rounds: samples per second and peak resident memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{BenchArgs, list, median, threads};
use crate::util::{cargo, exec, output, root};

/// One app and its reference.
struct App {
    /// Package, binary and system name.
    name: &'static str,
    /// What a sample is: metrics.csv has `<unit>_per_second`, and so does
    /// the script's JSON.
    unit: &'static str,
    /// Training steps timed, within the app's first epoch on its default
    /// data (the rate is that epoch's row of metrics.csv).
    steps: u64,
    /// The PyTorch script, from the workspace root.
    script: &'static str,
    /// The script's flags beyond `--steps` and `--threads`: the app's
    /// default data, test size and beam where the script does not default
    /// to them.
    script_args: &'static [&'static str],
    /// The app's timed beam search after training: its rate's key in the
    /// run's results.json and in the script's JSON.
    beam: Option<(&'static str, &'static str)>,
}

const APPS: [App; 4] = [
    App {
        name: "charlm",
        unit: "chars",
        steps: 75,
        script: "apps/charlm/reference/charlm.py",
        script_args: &["--text", "datasets/hamlet/hamlet.txt", "--minutes", "1000"],
        beam: None,
    },
    App {
        name: "translate",
        unit: "sentences",
        steps: 150,
        script: "apps/translate/reference/seq2seq.py",
        script_args: &[],
        beam: Some(("sentences, beam 5", "test_beam_sentences_per_second")),
    },
    App {
        name: "caption",
        unit: "captions",
        steps: 60,
        script: "apps/caption/reference/caption.py",
        script_args: &["--beam-images", "200", "--beam", "3"],
        beam: Some(("images, beam 3", "test_beam_images_per_second")),
    },
    App {
        name: "ntm",
        unit: "sequences",
        steps: 60,
        script: "apps/ntm/reference/ntm.py",
        script_args: &[],
        beam: None,
    },
];

/// One program's run: its samples per second in training and in beam
/// search, and its peak resident memory.
#[derive(Clone, Copy)]
struct Measured {
    rate: f64,
    beam_rate: f64,
    peak_mib: f64,
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    crate::system::ensure(&crate::system::FOR_APPS)?;
    let (profile, profile_name) = args.profile();
    // One package at a time, as `cargo xtask train` builds them, so that
    // burn is built with the same features (and only once).
    for app in &APPS {
        exec(cargo().args([
            "build",
            "--quiet",
            "--profile",
            profile,
            "--package",
            app.name,
        ]))?;
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), Into::into);
    let binaries = target.join(if args.release { "release" } else { "debug" });
    let round_count = args.rounds.max(1);
    // rounds[r][a]: (Recur, PyTorch) of app a in round r.
    let mut rounds = Vec::new();
    for round in 0..round_count {
        let mut measured = Vec::new();
        for app in &APPS {
            let recur = recur(args, app, &binaries.join(app.name))?;
            let torch = pytorch(args, app)?;
            measured.push((recur, torch));
        }
        eprintln!("round {}/{round_count} done", round + 1);
        rounds.push(measured);
    }
    args.write("apps", &render(&rounds, threads(), profile_name))
}

/// Runs `program` under xtask/bench/measure.py; its standard output and the
/// peak resident memory in MiB.
fn measured(args: &BenchArgs, program: &mut Command) -> Result<(String, f64), String> {
    let mut command = Command::new(&args.python);
    command
        .arg(root().join("xtask/bench/measure.py"))
        .arg("--")
        .arg(program.get_program())
        .args(program.get_args())
        .current_dir(root());
    let stdout = output(&mut command)?;
    let peak = json_lines(&stdout)
        .find_map(|line| number(&line, "peak_rss_mib"))
        .ok_or("measure.py printed no peak_rss_mib")?;
    Ok((stdout, peak))
}

fn json_lines(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str(line).ok())
}

/// The app's default training for `app.steps` steps in a fresh folder; the
/// rate is its first (only) metrics row's.
fn recur(args: &BenchArgs, app: &App, binary: &Path) -> Result<Measured, String> {
    let scratch = std::env::temp_dir().join(format!("recur-bench-{}", app.name));
    std::fs::remove_dir_all(&scratch).ok();
    let mut program = Command::new(binary);
    program
        .args(["train", "--steps", &app.steps.to_string(), "--root"])
        .arg(&scratch);
    let (_, peak_mib) = measured(args, &mut program)?;
    let metrics = only_run(&scratch.join("runs").join(app.name))?.join("metrics.csv");
    let text =
        std::fs::read_to_string(&metrics).map_err(|e| format!("{}: {e}", metrics.display()))?;
    let rate =
        first_epoch_rate(&text, app.unit).map_err(|e| format!("{}: {e}", metrics.display()))?;
    let beam_rate = match app.beam {
        Some((_, key)) => {
            let path = metrics.with_file_name("results.json");
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|results| number(&results, key))
                .ok_or(format!("{}: no number {key}", path.display()))?
        }
        None => f64::NAN,
    };
    std::fs::remove_dir_all(&scratch).ok();
    Ok(Measured {
        rate,
        beam_rate,
        peak_mib,
    })
}

/// The one run folder under `runs`.
fn only_run(runs: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(runs).map_err(|e| format!("{}: {e}", runs.display()))?;
    let folders: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    match folders.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "{}: expected one run, found {}",
            runs.display(),
            folders.len()
        )),
    }
}

/// `<unit>_per_second` of metrics.csv's row of epoch 1, which must be its
/// only row (the steps fit in the first epoch).
fn first_epoch_rate(csv: &str, unit: &str) -> Result<f64, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty")?.split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let [row] = rows.as_slice() else {
        return Err(format!(
            "{} epochs: the benchmark's steps must fit in one",
            rows.len()
        ));
    };
    let column = format!("{unit}_per_second");
    let index = header
        .iter()
        .position(|name| *name == column)
        .ok_or(format!("no column {column}"))?;
    row.get(index)
        .and_then(|value| value.parse().ok())
        .ok_or(format!("no number in column {column}"))
}

/// The PyTorch script for `app.steps` steps on the same threads.
fn pytorch(args: &BenchArgs, app: &App) -> Result<Measured, String> {
    let mut program = Command::new(&args.python);
    program
        .arg(root().join(app.script))
        .args(["--steps", &app.steps.to_string()])
        .args(["--threads", &threads().to_string()])
        .args(app.script_args);
    let (stdout, peak_mib) = measured(args, &mut program).map_err(|e| {
        format!("{e}\n(the PyTorch reference needs `pip install torch`; choose the interpreter with --python)")
    })?;
    let printed = |key: &str| {
        json_lines(&stdout)
            .find_map(|line| number(&line, key))
            .ok_or(format!("{} printed no {key}", app.script))
    };
    let rate = printed(&format!("{}_per_second", app.unit))?;
    let beam_rate = match app.beam {
        Some((_, key)) => printed(key)?,
        None => f64::NAN,
    };
    Ok(Measured {
        rate,
        beam_rate,
        peak_mib,
    })
}

fn number(json: &Value, key: &str) -> Option<f64> {
    json.get(key).and_then(Value::as_f64)
}

/// The markdown table: per app, the medians over rounds of each program's
/// rate and peak memory, and of the within-round ratios.
fn render(rounds: &[Vec<(Measured, Measured)>], threads: usize, profile: &str) -> String {
    let mut out = format!(
        "Each app's default model and data (`<app> train --steps N`), beside its PyTorch script \
         doing the same steps (`--steps N --threads {threads}`), {threads} threads, Rust built with \
         the {profile}; {} rounds, each running Recur then PyTorch for every app. Rate: samples \
         trained on per second over the training steps (metrics.csv's first row; the script's \
         JSON), median over rounds. Speed: Recur's rate / PyTorch's in the same round, median \
         over rounds, then each round's (above 1 is faster than PyTorch). Memory: peak resident \
         set of the whole process (getrusage, xtask/bench/measure.py), median over rounds.\n\n\
         | app | steps | Recur, samples/s | PyTorch, samples/s | speed | speed per round | Recur, peak MiB | PyTorch, peak MiB | memory ratio |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        rounds.len(),
    );
    let mut beam_rows = String::new();
    for (a, app) in APPS.iter().enumerate() {
        let pairs: Vec<(Measured, Measured)> = rounds.iter().map(|round| round[a]).collect();
        let pick =
            |f: fn(&(Measured, Measured)) -> f64| -> Vec<f64> { pairs.iter().map(f).collect() };
        let speed = pick(|(r, t)| r.rate / t.rate);
        let (recur_peak, torch_peak) = (
            median(&pick(|p| p.0.peak_mib)),
            median(&pick(|p| p.1.peak_mib)),
        );
        out.push_str(&format!(
            "| {} ({}) | {} | {:.1} | {:.1} | {:.2} | {} | {recur_peak:.0} | {torch_peak:.0} | {:.2} |\n",
            app.name,
            app.unit,
            app.steps,
            median(&pick(|p| p.0.rate)),
            median(&pick(|p| p.1.rate)),
            median(&speed),
            list(&speed),
            recur_peak / torch_peak,
        ));
        if let Some((what, _)) = app.beam {
            let speed = pick(|(r, t)| r.beam_rate / t.beam_rate);
            beam_rows.push_str(&format!(
                "| {} ({what}) | {:.1} | {:.1} | {:.2} | {} |\n",
                app.name,
                median(&pick(|p| p.0.beam_rate)),
                median(&pick(|p| p.1.beam_rate)),
                median(&speed),
                list(&speed),
            ));
        }
    }
    out.push_str(
        "\nBeam search after training, over the app's test split (translate: the script decodes one \
         sentence at a time, the app a batch), BLEU included; rates and speed as above.\n\n\
         | app | Recur, samples/s | PyTorch, samples/s | speed | speed per round |\n\
         |---|---|---|---|---|\n",
    );
    out.push_str(&beam_rows);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_read_from_the_first_epochs_row() {
        let csv = "epoch,step,train_loss,chars_per_second,seconds\n1,40,2.5,1234.5,9\n";
        assert_eq!(first_epoch_rate(csv, "chars"), Ok(1234.5));
        let two = format!("{csv}2,80,2.1,1300,18\n");
        assert!(
            first_epoch_rate(&two, "chars")
                .unwrap_err()
                .contains("fit in one")
        );
        assert!(
            first_epoch_rate(csv, "sequences")
                .unwrap_err()
                .contains("no column")
        );
    }
}
