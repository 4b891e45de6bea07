//! `data fetch de-en`: German-English sentence pairs from the Ding
//! dictionary, for the translate app.

use std::path::Path;

use super::package::{apt_unpack, cache, write_atomically};

/// Sentences per side of the fixed valid and test splits of the full set.
const HELD_OUT: usize = 1000;
/// The short subset keeps pairs with at most this many words on each side.
const SHORT_WORDS: usize = 6;
/// Seed of the fixed shuffle behind the split.
const SPLIT_SEED: u64 = 20_260_127;

/// `cargo xtask data fetch de-en`: downloads Debian's `trans-de-en` with
/// `apt-get download`, unpacks it with `dpkg-deb` and writes
/// `datasets/cache/de-en/{train,valid,test}.tsv` (German TAB English) plus the
/// same splits restricted to short pairs under `datasets/cache/de-en/short/`
/// (the embedded `datasets/de-en-short/` is a copy of those).
pub fn fetch() -> Result<(), String> {
    let unpacked = apt_unpack("trans-de-en", &cache().join("download/trans-de-en"))?;
    let dictionary = unpacked.join("usr/share/trans/de-en");
    let text = std::fs::read_to_string(&dictionary)
        .map_err(|e| format!("{}: {e}", dictionary.display()))?;

    let mut pairs = sentence_pairs(&text);
    shuffle(&mut pairs, SPLIT_SEED);
    if pairs.len() < 3 * HELD_OUT {
        return Err(format!(
            "{}: only {} sentence pairs, expected about 17,000",
            dictionary.display(),
            pairs.len()
        ));
    }
    let (test, rest) = pairs.split_at(HELD_OUT);
    let (valid, train) = rest.split_at(HELD_OUT);
    let out = cache().join("de-en");
    for (name, split) in [("train", train), ("valid", valid), ("test", test)] {
        write_split(&out.join(format!("{name}.tsv")), split.iter())?;
        let short = split
            .iter()
            .filter(|(de, en)| words(de) <= SHORT_WORDS && words(en) <= SHORT_WORDS);
        write_split(&out.join(format!("short/{name}.tsv")), short)?;
    }
    eprintln!(
        "wrote {} ({} train, {} valid, {} test pairs; short/ holds those of at most {SHORT_WORDS} words a side)",
        out.display(),
        train.len(),
        valid.len(),
        test.len()
    );
    Ok(())
}

fn write_split<'a>(
    path: &Path,
    pairs: impl Iterator<Item = &'a (String, String)>,
) -> Result<(), String> {
    let text: String = pairs.map(|(de, en)| format!("{de}\t{en}\n")).collect();
    write_atomically(path, text.as_bytes())
}

/// Words as the translate app counts them (runs of letters and digits).
fn words(sentence: &str) -> usize {
    sentence
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .count()
}

/// The sentence pairs of the Ding dictionary, in file order, without
/// duplicates.
///
/// Each entry is `DE | DE2 :: EN | EN2`: the `|`-separated parts of the two
/// sides are aligned. A part may list alternatives separated by `;` (the
/// first is kept) and carry annotations in braces, brackets or angle
/// brackets (`{m}`, `[coll.]`, `<...>`), which are removed. A pair is kept
/// when both parts are sentences: they start with a capital letter, end in
/// `.`, `!` or `?`, and hold no `(`, `/`, `~` or ellipsis, which mark
/// optional words and abbreviations in dictionary phrases.
pub fn sentence_pairs(dictionary: &str) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut pairs = Vec::new();
    for line in dictionary.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((german, english)) = line.split_once(" :: ") else {
            continue;
        };
        let (german, english): (Vec<&str>, Vec<&str>) = (
            german.split(" | ").collect(),
            english.split(" | ").collect(),
        );
        if german.len() != english.len() {
            continue;
        }
        for (de, en) in german.iter().zip(english) {
            let (Some(de), Some(en)) = (clean_sentence(de), clean_sentence(en)) else {
                continue;
            };
            if seen.insert((de.clone(), en.clone())) {
                pairs.push((de, en));
            }
        }
    }
    pairs
}

/// One part of an entry as a clean sentence, or `None` if it is not one.
fn clean_sentence(part: &str) -> Option<String> {
    let first = part.split(';').next().unwrap_or_default();
    let mut text = String::with_capacity(first.len());
    let mut closing: Option<char> = None;
    for c in first.chars() {
        match (closing, c) {
            (Some(close), c) if c == close => closing = None,
            (Some(_), _) => {}
            (None, '{') => closing = Some('}'),
            (None, '[') => closing = Some(']'),
            (None, '<') => closing = Some('>'),
            (None, '’') => text.push('\''),
            (None, c) => text.push(c),
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let starts_upper = text.chars().next().is_some_and(char::is_uppercase);
    let ends_sentence = text.ends_with(['.', '!', '?']);
    let phrase_marks = text.contains(['(', '/', '~', '…', '\t']) || text.contains("..");
    (starts_upper && ends_sentence && !phrase_marks).then_some(text)
}

/// Fisher-Yates with SplitMix64, so the split is the same everywhere.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = ((u128::from(next()) * (i as u128 + 1)) >> 64) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_entries_become_aligned_sentence_pairs() {
        let dictionary = "# comment :: line\n\
            Endpunkt {m} | Endpunkte {pl} :: end point | endpoints\n\
            Wie geht's? [ugs.] | Mir geht’s gut. :: How are you? [coll.] | I’m fine.; I am well.\n\
            Er kam (nicht). | Sie kam. :: He (didn't) come. | She came.\n\
            Eins. | Zwei. :: One.\n\
            Wie geht's? :: How are you?\n";
        assert_eq!(
            sentence_pairs(dictionary),
            [
                ("Wie geht's?".to_string(), "How are you?".to_string()),
                ("Mir geht's gut.".to_string(), "I'm fine.".to_string()),
                ("Sie kam.".to_string(), "She came.".to_string()),
            ]
        );
    }

    #[test]
    fn the_split_shuffle_is_a_fixed_permutation() {
        let mut items: Vec<u32> = (0..10).collect();
        shuffle(&mut items, SPLIT_SEED);
        let mut sorted = items.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        let mut again: Vec<u32> = (0..10).collect();
        shuffle(&mut again, SPLIT_SEED);
        assert_eq!(items, again);
    }
}
