//! translate's data: the sentence pairs of a data folder, tokenised, and
//! as token ids of the run's vocabularies.

use std::path::Path;

use recur_data::{WordVocab, read_parallel, tokenize};
use recur_seq2seq::PairBatch;
use recur_train::{AppError, RunDir};

use crate::Config;

/// What a run trains, validates and tests on.
pub struct Data {
    /// The source and target vocabularies.
    pub vocabs: (WordVocab, WordVocab),
    pub train: Split,
    pub valid: Split,
    pub test: Split,
}

impl Data {
    /// `config`'s data folder, encoded with the vocabularies of the run
    /// being resumed (`resumed`), or with new ones built from its training
    /// pairs (a new run writes them with `Task::save`).
    pub fn load(config: &Config, resumed: Option<&RunDir>) -> Result<Data, AppError> {
        let corpus = Corpus::read(&config.data)?;
        let (source, target) = match resumed {
            Some(run) => load_vocabs(run)?,
            None => (
                WordVocab::build(corpus.train.iter().map(|(s, _)| s), config.min_count),
                WordVocab::build(corpus.train.iter().map(|(_, t)| t), config.min_count),
            ),
        };
        for vocab in [&source, &target] {
            let specials = WordVocab::SPECIALS.len();
            recur_train::check::vocabulary(config.min_count, vocab.len(), specials)?;
        }
        let [train, valid, test] = [&corpus.train, &corpus.valid, &corpus.test]
            .map(|pairs| Split::new(pairs, &source, &target));
        Ok(Data {
            vocabs: (source, target),
            train,
            valid,
            test,
        })
    }
}

/// Tokenised (source, target) sentence pairs.
pub type WordPairs = Vec<(Vec<String>, Vec<String>)>;

/// A data folder's three splits, tokenised.
pub struct Corpus {
    pub train: WordPairs,
    pub valid: WordPairs,
    pub test: WordPairs,
}

impl Corpus {
    /// Reads `train.tsv`, `valid.tsv` and `test.tsv`, dropping pairs with no
    /// word on a side (e.g. a line of punctuation).
    pub fn read(dir: &Path) -> Result<Corpus, AppError> {
        let split = |name: &str| -> Result<WordPairs, AppError> {
            let path = dir.join(format!("{name}.tsv"));
            let pairs: WordPairs = read_parallel(&path)?
                .iter()
                .map(|(source, target)| (tokenize(source), tokenize(target)))
                .filter(|(source, target)| !source.is_empty() && !target.is_empty())
                .collect();
            if pairs.is_empty() {
                return Err(format!("{}: no sentence pairs", path.display()).into());
            }
            Ok(pairs)
        };
        Ok(Corpus {
            train: split("train")?,
            valid: split("valid")?,
            test: split("test")?,
        })
    }
}

/// One split as token ids: (source, target) pairs, the target sentences and
/// the source words.
pub struct Split {
    pub pairs: Vec<(Vec<usize>, Vec<usize>)>,
    pub references: Vec<String>,
    pub sources: Vec<Vec<String>>,
}

impl Split {
    /// `pairs` encoded with the two vocabularies.
    pub fn new(pairs: &WordPairs, source: &WordVocab, target: &WordVocab) -> Split {
        Split {
            pairs: pairs
                .iter()
                .map(|(s, t)| (source.encode(s), target.encode(t)))
                .collect(),
            references: pairs.iter().map(|(_, t)| t.join(" ")).collect(),
            sources: pairs.iter().map(|(s, _)| s.clone()).collect(),
        }
    }
}

/// A run's source and target vocabularies.
pub fn load_vocabs(run: &RunDir) -> Result<(WordVocab, WordVocab), AppError> {
    let load = |name: &str| WordVocab::load(run.path().join(name));
    Ok((load("source_vocab.json")?, load("target_vocab.json")?))
}

/// The padded batch of `pairs`.
pub fn pair_batch<'a>(pairs: impl IntoIterator<Item = &'a (Vec<usize>, Vec<usize>)>) -> PairBatch {
    let pairs: Vec<(&[usize], &[usize])> = pairs
        .into_iter()
        .map(|(s, t)| (s.as_slice(), t.as_slice()))
        .collect();
    PairBatch::new(&pairs, WordVocab::START, WordVocab::END, WordVocab::PAD)
}
