//! Property tests of every reader: a valid file, cut at a random length,
//! with random bytes changed, or both, either parses or is a one-line error
//! naming the file; no reader panics. Seeded, so a failure repeats.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use recur_data::{
    CharVocab, SplitMix64, WordVocab, read_flickr_captions, read_karpathy_split, read_npy,
    read_parallel, read_text, tokenize,
};

use crate::common::{scratch, shown};
use crate::npy::{f32s, f64s, header, npy};

/// Corrupted copies tried per valid file.
const CASES: usize = 300;

/// Runs `read` on `CASES` corruptions of `valid` written to `name` in
/// `dir`: none may panic, every error is one line starting with the path.
/// Returns how many parsed and how many were refused.
fn never_panics<T, E: Display>(
    dir: &Path,
    name: &str,
    seed: u64,
    valid: &[u8],
    read: impl Fn(PathBuf) -> Result<T, E>,
) -> (usize, usize) {
    let path = dir.join(name);
    std::fs::write(&path, valid).unwrap();
    if let Err(error) = read(path.clone()) {
        panic!("{name}: the valid file is refused: {error}");
    }
    let mut rng = SplitMix64::new(seed);
    let (mut parsed, mut refused) = (0, 0);
    for case in 0..CASES {
        let (bytes, what) = rng.corrupt(valid);
        std::fs::write(&path, &bytes).unwrap();
        match catch_unwind(AssertUnwindSafe(|| read(path.clone()))) {
            Ok(Ok(_)) => parsed += 1,
            Ok(Err(error)) => {
                let text = error.to_string();
                assert!(
                    !text.contains('\n') && text.starts_with(&format!("{}:", shown(&path))),
                    "{name}, case {case} ({what}): not one line naming the file: {text}"
                );
                refused += 1;
            }
            Err(_) => panic!("{name}, case {case} ({what}): the reader panicked"),
        }
    }
    (parsed, refused)
}

#[test]
fn text_readers_never_panic() {
    let dir = scratch("fuzz-text");
    let text = "Héllo, wörld!\nTo be, or not to be — that is the question.\n日本語\n";
    let (_, refused) = never_panics(&dir, "text.txt", 1, text.as_bytes(), read_text);
    assert!(refused > 0, "some corruptions break the UTF-8");

    let pairs = "Go.\tGeh.\r\nHi.\tHallo.\nI'm fine.\tMir geht's gut.\nÜber.\tOver.\n";
    let (_, refused) = never_panics(&dir, "pairs.tsv", 2, pairs.as_bytes(), read_parallel);
    assert!(refused > 0, "some corruptions break the columns");

    let tokens = "1000_a.jpg#0\tA child in pink .\n1000_a.jpg#1\tA girl going up .\n\
                  1001_b.jpg#0\tA black dog and a spotted dog .\n1001_b.jpg#12\tTwo dogs .\n";
    let (_, refused) = never_panics(
        &dir,
        "image_captions.token",
        3,
        tokens.as_bytes(),
        read_flickr_captions,
    );
    assert!(refused > 0, "some corruptions break the lines");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn karpathy_split_never_panics() {
    let dir = scratch("fuzz-karpathy");
    let split = r#"{"dataset": "flickr8k", "images": [
        {"filename": "a.jpg", "split": "train", "imgid": 0, "sentences": [
            {"raw": "A dog.", "tokens": ["a", "dog"], "sentid": 0},
            {"raw": "Ein Hund.", "tokens": ["ein", "hund"], "sentid": 1}]},
        {"filename": "b.jpg", "split": "restval", "sentences": []},
        {"filename": "c.jpg", "split": "val", "sentences": [{"raw": "", "tokens": []}]},
        {"filename": "d.jpg", "split": "test", "sentences": []}]}"#;
    let (_, refused) = never_panics(
        &dir,
        "dataset.json",
        4,
        split.as_bytes(),
        read_karpathy_split,
    );
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn vocabulary_files_never_panic() {
    let dir = scratch("fuzz-vocab");
    let path = dir.join("valid.json");
    CharVocab::from_text("hello wörld\n").save(&path).unwrap();
    let chars = std::fs::read(&path).unwrap();
    let (_, refused) = never_panics(&dir, "chars.json", 5, &chars, CharVocab::load);
    assert!(refused > 0);

    let sentences: Vec<Vec<String>> = ["the cat sat", "the dog sat", "a cat ran"]
        .iter()
        .map(|s| tokenize(s))
        .collect();
    WordVocab::build(&sentences, 1).save(&path).unwrap();
    let words = std::fs::read(&path).unwrap();
    let (_, refused) = never_panics(&dir, "words.json", 6, &words, WordVocab::load);
    assert!(refused > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn npy_never_panics() {
    let dir = scratch("fuzz-npy");
    let values = [1.0f32, -2.5, 3.0, 0.0, 0.5, 7.0];
    let wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    let half: Vec<u8> = [0x3c00u16, 0xc100, 0x4200, 0x0000, 0x3800, 0x4700]
        .iter()
        .flat_map(|b| b.to_be_bytes())
        .collect();
    let files = [
        (
            "f4.npy",
            npy(1, &header("<f4", false, "(2, 3)"), &f32s(&values)),
        ),
        (
            "f8.npy",
            npy(2, &header("<f8", true, "(3, 2)"), &f64s(&wide)),
        ),
        ("f2.npy", npy(3, &header(">f2", false, "(6, 1)"), &half)),
    ];
    for (seed, (name, valid)) in (7..).zip(files) {
        let (parsed, refused) = never_panics(&dir, name, seed, &valid, read_npy);
        assert!(
            parsed > 0 && refused > 0,
            "{name}: {parsed} parsed, {refused} refused"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
