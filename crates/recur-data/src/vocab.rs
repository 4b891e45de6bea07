//! Character and word vocabularies: ids, counts, encode/decode, JSON files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::DataError;
use crate::read::{io_error, read_text, write_atomically};

/// Splits a caption or sentence into lowercase words.
///
/// A word is a maximal run of alphanumeric characters; whitespace and
/// punctuation only separate words and are dropped, so
/// `"A dog's ball, red."` gives `["a", "dog", "s", "ball", "red"]`.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A character vocabulary: one id per distinct character of a text, in
/// sorted character order (so the same text always gives the same ids).
#[derive(Debug, Clone, PartialEq)]
pub struct CharVocab {
    chars: Vec<char>,
    counts: Vec<u64>,
    index: HashMap<char, usize>,
}

/// The JSON form of [`CharVocab`].
#[derive(Serialize, Deserialize)]
struct CharVocabFile {
    chars: Vec<char>,
    counts: Vec<u64>,
}

impl CharVocab {
    /// Builds the vocabulary of `text`, counting each character.
    pub fn from_text(text: &str) -> Self {
        let mut counts = BTreeMap::<char, u64>::new();
        for c in text.chars() {
            *counts.entry(c).or_default() += 1;
        }
        let (chars, counts) = counts.into_iter().unzip();
        Self::from_parts(chars, counts)
    }

    fn from_parts(chars: Vec<char>, counts: Vec<u64>) -> Self {
        let index = chars.iter().enumerate().map(|(id, &c)| (c, id)).collect();
        Self {
            chars,
            counts,
            index,
        }
    }

    /// Number of characters (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the vocabulary has no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The id of `c`, if it is in the vocabulary.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// The character with id `id`, if there is one.
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// The characters, indexed by id.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// How often each character occurred in the text, indexed by id.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The ids of `text`'s characters; a character not in the vocabulary is
    /// an error (a character vocabulary has no unknown id).
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, DataError> {
        text.chars()
            .enumerate()
            .map(|(position, ch)| self.id(ch).ok_or(DataError::UnknownChar { ch, position }))
            .collect()
    }

    /// The text of `ids`; an id outside the vocabulary decodes to U+FFFD.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&id| self.char(id).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }

    /// Writes the vocabulary as JSON (`{"chars": [...], "counts": [...]}`),
    /// through a temporary file renamed into place.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let file = CharVocabFile {
            chars: self.chars.clone(),
            counts: self.counts.clone(),
        };
        save_json(path.as_ref(), &file)
    }

    /// Reads a vocabulary written by [`CharVocab::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let file: CharVocabFile = load_json(path)?;
        check_counts(path, file.chars.len(), file.counts.len())?;
        let vocab = Self::from_parts(file.chars, file.counts);
        if vocab.index.len() != vocab.chars.len() {
            return Err(vocab_error(path, "a character appears twice"));
        }
        Ok(vocab)
    }
}

/// A word vocabulary with four special tokens at fixed ids, then the words
/// seen at least `min_count` times, by descending count and then
/// alphabetically.
///
/// Counts of the specials: `<pad>` 0, `<start>` and `<end>` the number of
/// sentences (each encoded sentence has one of each), `<unk>` the number of
/// word occurrences dropped by `min_count`. So [`WordVocab::counts`] is how
/// often each id occurs in the encoded corpus, the input to
/// [`log_frequency_bias`](crate::log_frequency_bias).
#[derive(Debug, Clone, PartialEq)]
pub struct WordVocab {
    words: Vec<String>,
    counts: Vec<u64>,
    index: HashMap<String, usize>,
}

/// The JSON form of [`WordVocab`].
#[derive(Serialize, Deserialize)]
struct WordVocabFile {
    words: Vec<String>,
    counts: Vec<u64>,
}

impl WordVocab {
    /// Id of `<pad>`, the padding token.
    pub const PAD: usize = 0;
    /// Id of `<start>`, fed to a decoder before the first word.
    pub const START: usize = 1;
    /// Id of `<end>`, emitted after the last word.
    pub const END: usize = 2;
    /// Id of `<unk>`, for every word not in the vocabulary.
    pub const UNK: usize = 3;
    /// The special tokens, in id order.
    pub const SPECIALS: [&'static str; 4] = ["<pad>", "<start>", "<end>", "<unk>"];

    /// Builds the vocabulary of tokenised `sentences`, keeping words seen at
    /// least `min_count` times. A token spelled like a special token counts
    /// towards that special.
    pub fn build<S, W>(sentences: impl IntoIterator<Item = S>, min_count: u64) -> Self
    where
        S: IntoIterator<Item = W>,
        W: AsRef<str>,
    {
        let mut seen = HashMap::<String, u64>::new();
        let mut special = [0u64; 4];
        let mut sentence_count = 0;
        for sentence in sentences {
            sentence_count += 1;
            for word in sentence {
                let word = word.as_ref();
                match Self::SPECIALS.iter().position(|&s| s == word) {
                    Some(id) => special[id] += 1,
                    None => *seen.entry(word.to_string()).or_default() += 1,
                }
            }
        }
        special[Self::START] += sentence_count;
        special[Self::END] += sentence_count;
        let mut kept: Vec<(String, u64)> = Vec::new();
        for (word, count) in seen {
            if count >= min_count {
                kept.push((word, count));
            } else {
                special[Self::UNK] += count;
            }
        }
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let words = Self::SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(kept.iter().map(|(w, _)| w.clone()))
            .collect();
        let counts = special
            .into_iter()
            .chain(kept.iter().map(|&(_, c)| c))
            .collect();
        Self::from_parts(words, counts)
    }

    fn from_parts(words: Vec<String>, counts: Vec<u64>) -> Self {
        let index = words
            .iter()
            .enumerate()
            .map(|(id, w)| (w.clone(), id))
            .collect();
        Self {
            words,
            counts,
            index,
        }
    }

    /// Number of ids, specials included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: the specials are always there.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `word`, or [`WordVocab::UNK`] if it is not in the vocabulary.
    pub fn id(&self, word: &str) -> usize {
        self.index.get(word).copied().unwrap_or(Self::UNK)
    }

    /// The word with id `id`; `<unk>` for an id outside the vocabulary.
    pub fn word(&self, id: usize) -> &str {
        self.words
            .get(id)
            .map_or(Self::SPECIALS[Self::UNK], String::as_str)
    }

    /// The words, indexed by id (specials first).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// How often each id occurs in the encoded corpus (see the type's docs).
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The ids of `words`; unknown words get [`WordVocab::UNK`].
    pub fn encode<W: AsRef<str>>(&self, words: &[W]) -> Vec<usize> {
        words.iter().map(|w| self.id(w.as_ref())).collect()
    }

    /// `<start>`, the ids of `words`, `<end>`: a decoder's target sentence.
    pub fn encode_sentence<W: AsRef<str>>(&self, words: &[W]) -> Vec<usize> {
        let mut ids = Vec::with_capacity(words.len() + 2);
        ids.push(Self::START);
        ids.extend(words.iter().map(|w| self.id(w.as_ref())));
        ids.push(Self::END);
        ids
    }

    /// The words of `ids`, one per id, specials included.
    pub fn decode(&self, ids: &[usize]) -> Vec<&str> {
        ids.iter().map(|&id| self.word(id)).collect()
    }

    /// A generated sentence as text: stops at the first `<end>`, skips
    /// `<pad>` and `<start>`, joins the words with spaces.
    pub fn decode_sentence(&self, ids: &[usize]) -> String {
        ids.iter()
            .take_while(|&&id| id != Self::END)
            .filter(|&&id| id != Self::PAD && id != Self::START)
            .map(|&id| self.word(id))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Writes the vocabulary as JSON (`{"words": [...], "counts": [...]}`,
    /// specials included), through a temporary file renamed into place.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), DataError> {
        let file = WordVocabFile {
            words: self.words.clone(),
            counts: self.counts.clone(),
        };
        save_json(path.as_ref(), &file)
    }

    /// Reads a vocabulary written by [`WordVocab::save`], checking that the
    /// specials are at their ids and no word appears twice.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let file: WordVocabFile = load_json(path)?;
        check_counts(path, file.words.len(), file.counts.len())?;
        for (id, special) in Self::SPECIALS.iter().enumerate() {
            if file.words.get(id).map(String::as_str) != Some(*special) {
                return Err(vocab_error(path, &format!("id {id} is not `{special}`")));
            }
        }
        let vocab = Self::from_parts(file.words, file.counts);
        if vocab.index.len() != vocab.words.len() {
            return Err(vocab_error(path, "a word appears twice"));
        }
        Ok(vocab)
    }
}

fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<(), DataError> {
    let json = serde_json::to_vec(value).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, &json).map_err(io_error(path))
}

fn load_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, DataError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn check_counts(path: &Path, entries: usize, counts: usize) -> Result<(), DataError> {
    if entries == counts {
        Ok(())
    } else {
        Err(vocab_error(
            path,
            &format!("{entries} entries but {counts} counts"),
        ))
    }
}

fn vocab_error(path: &Path, message: &str) -> DataError {
    DataError::Vocab {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}
