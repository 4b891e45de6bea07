//! Character and word vocabularies and their files.

use recur_data::{CharVocab, WordVocab, tokenize};

use crate::common::{message, scratch, write};

#[test]
fn tokenize_lowercases_and_splits_on_punctuation() {
    assert_eq!(
        tokenize("  A dog's ball,\tred.\nTWO"),
        ["a", "dog", "s", "ball", "red", "two"]
    );
    assert!(tokenize(" ,. ").is_empty());
}

#[test]
fn char_vocab_is_sorted_counts_and_round_trips() {
    let vocab = CharVocab::from_text("hello world");
    assert_eq!(vocab.chars(), [' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    assert_eq!(vocab.counts(), [1, 1, 1, 1, 3, 2, 1, 1]);
    let ids = vocab.encode("world hello").unwrap();
    assert_eq!(ids[0], 7);
    assert_eq!(vocab.decode(&ids), "world hello");
    assert_eq!(vocab.decode(&[99]), "\u{FFFD}");
    assert_eq!(
        message(vocab.encode("hex")),
        "character 'x' at position 2 is not in the vocabulary"
    );
}

fn corpus() -> Vec<Vec<String>> {
    ["the cat sat", "the dog sat", "the cat ran", "a bird"]
        .iter()
        .map(|s| tokenize(s))
        .collect()
}

#[test]
fn word_vocab_specials_threshold_and_order() {
    let vocab = WordVocab::build(corpus(), 2);
    // the: 3, cat: 2, sat: 2 (ties alphabetical); dog, ran, a, bird dropped.
    assert_eq!(
        vocab.words(),
        ["<pad>", "<start>", "<end>", "<unk>", "the", "cat", "sat"]
    );
    assert_eq!(vocab.counts(), [0, 4, 4, 4, 3, 2, 2]);
    assert_eq!(WordVocab::PAD, 0);
    assert_eq!(WordVocab::START, 1);
    assert_eq!(WordVocab::END, 2);
    assert_eq!(WordVocab::UNK, 3);

    let everything = WordVocab::build(corpus(), 1);
    assert_eq!(everything.len(), 4 + 7);
    assert_eq!(everything.counts()[WordVocab::UNK], 0);
    assert_eq!(
        everything.words()[4..],
        ["the", "cat", "sat", "a", "bird", "dog", "ran"]
    );
}

#[test]
fn word_vocab_encode_decode() {
    let vocab = WordVocab::build(corpus(), 2);
    let ids = vocab.encode_sentence(&["the", "cat", "flew"]);
    assert_eq!(ids, [1, 4, 5, 3, 2]);
    assert_eq!(vocab.encode(&["sat", "zebra"]), [6, 3]);
    assert_eq!(
        vocab.decode(&ids),
        ["<start>", "the", "cat", "<unk>", "<end>"]
    );
    assert_eq!(vocab.decode(&[100]), ["<unk>"]);
    assert_eq!(vocab.decode_sentence(&[1, 4, 6, 2, 5, 0]), "the sat");
    let words = ["the", "cat", "sat"];
    assert_eq!(
        vocab.decode_sentence(&vocab.encode_sentence(&words)),
        "the cat sat"
    );
}

#[test]
fn vocab_files_round_trip() {
    let dir = scratch("vocab-files");
    let words = WordVocab::build(corpus(), 1);
    words.save(dir.join("words.json")).unwrap();
    assert_eq!(WordVocab::load(dir.join("words.json")).unwrap(), words);
    assert!(!dir.join("words.json.tmp").exists());

    let chars = CharVocab::from_text("ab\ncä");
    chars.save(dir.join("chars.json")).unwrap();
    assert_eq!(CharVocab::load(dir.join("chars.json")).unwrap(), chars);
}

#[test]
fn bad_vocab_files_name_the_file() {
    let dir = scratch("vocab-bad");
    let path = write(&dir, "bad.json", "{\"words\": [\"<pad>\",\n 3]}");
    assert_eq!(
        message(WordVocab::load(&path)),
        format!(
            "{}: invalid type: integer `3`, expected a string at line 2 column 2",
            path.display()
        )
    );
    let path = write(
        &dir,
        "order.json",
        r#"{"words": ["<start>", "<pad>", "<end>", "<unk>"], "counts": [0, 0, 0, 0]}"#,
    );
    assert_eq!(
        message(WordVocab::load(&path)),
        format!("{}: not a vocabulary: id 0 is not `<pad>`", path.display())
    );
    let path = write(
        &dir,
        "counts.json",
        r#"{"chars": ["a", "b"], "counts": [1]}"#,
    );
    assert_eq!(
        message(CharVocab::load(&path)),
        format!(
            "{}: not a vocabulary: 2 entries but 1 counts",
            path.display()
        )
    );
    let path = write(
        &dir,
        "twice.json",
        r#"{"chars": ["a", "a"], "counts": [1, 1]}"#,
    );
    assert_eq!(
        message(CharVocab::load(&path)),
        format!(
            "{}: not a vocabulary: a character appears twice",
            path.display()
        )
    );
    let missing = dir.join("missing.json");
    assert!(message(CharVocab::load(&missing)).starts_with(&format!("{}: ", missing.display())));
}
