//! BLEU (Papineni et al., 2002) computed exactly as sacrebleu 2.x does.

use std::collections::HashMap;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

use crate::error::EvalError;
use crate::tokenize::{is_python_space, python_split, tokenize_13a};

/// The largest n-gram order BLEU counts (sacrebleu's default).
pub const MAX_NGRAM_ORDER: usize = 4;

/// `log(0)` as sacrebleu floors it (`my_log`).
const LOG_ZERO: f64 = -9_999_999_999.0;

/// How hypotheses and references are split into tokens before counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tokenizer {
    /// sacrebleu's default `13a` (mteval-v13a), see [`tokenize_13a`].
    #[default]
    #[serde(rename = "13a")]
    Mteval13a,
    /// `none`: the text is only split on whitespace.
    #[serde(rename = "none")]
    None,
}

impl Tokenizer {
    /// sacrebleu's name for the tokenizer: `13a` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::Mteval13a => "13a",
            Tokenizer::None => "none",
        }
    }

    /// Tokenizes one line; the tokens are separated by whitespace.
    pub fn apply(self, line: &str) -> String {
        match self {
            Tokenizer::Mteval13a => tokenize_13a(line),
            Tokenizer::None => line.to_owned(),
        }
    }
}

/// How n-gram precisions of zero are treated (Chen and Cherry, 2014), as in
/// sacrebleu's `smooth_method` and `smooth_value`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Smoothing {
    /// `exp` (NIST, mteval-v13a): the k-th order with no match gets
    /// precision `1 / (2^k * total)`. sacrebleu's default.
    #[default]
    Exp,
    /// `floor`: an order with no match gets precision `value / total`
    /// (sacrebleu's default value is [`Smoothing::FLOOR_DEFAULT`]).
    Floor(f64),
    /// `add-k`: `k` is added to the matches and totals of orders 2 to 4
    /// (sacrebleu's default `k` is [`Smoothing::ADD_K_DEFAULT`]).
    AddK(f64),
    /// `none`: an order with no match makes the score 0.
    None,
}

impl Smoothing {
    /// sacrebleu's default value for `floor`.
    pub const FLOOR_DEFAULT: f64 = 0.1;
    /// sacrebleu's default `k` for `add-k`.
    pub const ADD_K_DEFAULT: f64 = 1.0;

    /// `floor` with sacrebleu's default value, 0.1.
    pub fn floor() -> Self {
        Smoothing::Floor(Self::FLOOR_DEFAULT)
    }

    /// `add-k` with sacrebleu's default `k`, 1.
    pub fn add_k() -> Self {
        Smoothing::AddK(Self::ADD_K_DEFAULT)
    }

    /// sacrebleu's name for the method: `exp`, `floor`, `add-k` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Smoothing::Exp => "exp",
            Smoothing::Floor(_) => "floor",
            Smoothing::AddK(_) => "add-k",
            Smoothing::None => "none",
        }
    }

    fn check(self) -> Result<(), EvalError> {
        match self {
            Smoothing::Floor(v) | Smoothing::AddK(v) if !(v.is_finite() && v >= 0.0) => {
                Err(EvalError::SmoothingValue(v))
            }
            _ => Ok(()),
        }
    }
}

/// A BLEU score with the statistics behind it, like sacrebleu's `BLEUScore`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bleu {
    /// The score, from 0 to 100.
    pub score: f64,
    /// The (smoothed) n-gram precisions for n = 1..4, from 0 to 100.
    pub precisions: [f64; MAX_NGRAM_ORDER],
    /// The brevity penalty, from 0 to 1.
    pub brevity_penalty: f64,
    /// Hypothesis tokens, summed over the corpus.
    pub sys_len: usize,
    /// Reference tokens: for each sentence the length of the reference
    /// closest in length to the hypothesis (the shorter on a tie), summed.
    pub ref_len: usize,
    /// Clipped n-gram matches for n = 1..4. Unlike sacrebleu, which reports
    /// them after `add-k` added `k` to orders 2 to 4, these are the raw counts.
    pub counts: [usize; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams for n = 1..4 (raw, as `counts`).
    pub totals: [usize; MAX_NGRAM_ORDER],
}

impl Bleu {
    /// `sys_len / ref_len`, or 0 when `ref_len` is 0 (as sacrebleu).
    pub fn ratio(&self) -> f64 {
        if self.ref_len == 0 {
            0.0
        } else {
            self.sys_len as f64 / self.ref_len as f64
        }
    }
}

/// The sufficient statistics of BLEU for one sentence or a whole corpus:
/// sentence statistics add up to the corpus's. Useful to accumulate over an
/// evaluation loop and score once with [`BleuConfig::score_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BleuStats {
    /// Hypothesis tokens.
    pub sys_len: usize,
    /// Closest reference lengths.
    pub ref_len: usize,
    /// Clipped n-gram matches for n = 1..4.
    pub counts: [usize; MAX_NGRAM_ORDER],
    /// Hypothesis n-grams for n = 1..4.
    pub totals: [usize; MAX_NGRAM_ORDER],
}

impl AddAssign for BleuStats {
    fn add_assign(&mut self, other: Self) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_NGRAM_ORDER {
            self.counts[n] += other.counts[n];
            self.totals[n] += other.totals[n];
        }
    }
}

impl Add for BleuStats {
    type Output = Self;
    fn add(mut self, other: Self) -> Self {
        self += other;
        self
    }
}

impl std::iter::Sum for BleuStats {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

/// BLEU's settings, sacrebleu's `BLEU(...)` arguments: tokenizer,
/// smoothing, lowercasing and effective order (maximum order 4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BleuConfig {
    /// The tokenizer (default `13a`).
    pub tokenizer: Tokenizer,
    /// The smoothing method (default `exp`).
    pub smoothing: Smoothing,
    /// Lowercase hypotheses and references first (default off).
    pub lowercase: bool,
    /// Average only the orders up to the last one the hypotheses have
    /// n-grams of (sacrebleu's `use_effective_order`): off for corpus BLEU,
    /// on for sentence BLEU.
    pub effective_order: bool,
}

impl Default for BleuConfig {
    fn default() -> Self {
        Self::corpus()
    }
}

impl BleuConfig {
    /// sacrebleu's `corpus_bleu` defaults: `13a`, `exp`, mixed case, no
    /// effective order.
    pub fn corpus() -> Self {
        Self {
            tokenizer: Tokenizer::Mteval13a,
            smoothing: Smoothing::Exp,
            lowercase: false,
            effective_order: false,
        }
    }

    /// sacrebleu's `sentence_bleu` defaults: as [`BleuConfig::corpus`] but
    /// with effective order.
    pub fn sentence() -> Self {
        Self {
            effective_order: true,
            ..Self::corpus()
        }
    }

    /// With this tokenizer.
    pub fn with_tokenizer(self, tokenizer: Tokenizer) -> Self {
        Self { tokenizer, ..self }
    }

    /// With this smoothing.
    pub fn with_smoothing(self, smoothing: Smoothing) -> Self {
        Self { smoothing, ..self }
    }

    /// Lowercasing on or off.
    pub fn with_lowercase(self, lowercase: bool) -> Self {
        Self { lowercase, ..self }
    }

    /// Effective order on or off.
    pub fn with_effective_order(self, effective_order: bool) -> Self {
        Self {
            effective_order,
            ..self
        }
    }

    /// What is counted of a sentence: lowercased if asked (Unicode
    /// lowercasing, as Python's `str.lower`), trailing whitespace removed,
    /// tokenized.
    pub fn preprocess(&self, sentence: &str) -> String {
        let lowered;
        let mut text = sentence;
        if self.lowercase {
            lowered = text.to_lowercase();
            text = &lowered;
        }
        self.tokenizer.apply(text.trim_end_matches(is_python_space))
    }

    /// Corpus BLEU, as sacrebleu's `corpus_bleu(hypotheses, references)`.
    ///
    /// `references` is a list of reference *streams*, sacrebleu's layout:
    /// `references[k][i]` is the `k`-th reference of hypothesis `i`, and
    /// every stream has one entry per hypothesis. With one reference per
    /// sentence, pass `&[refs]`. An empty string is a reference of length 0
    /// (as in sacrebleu), not a missing one.
    ///
    /// # Errors
    ///
    /// [`EvalError::EmptyCorpus`] without hypotheses,
    /// [`EvalError::NoReferences`] without streams,
    /// [`EvalError::StreamLength`] for a stream of another length, and
    /// [`EvalError::SmoothingValue`] for a negative or non-finite value.
    pub fn corpus_score(
        &self,
        hypotheses: &[&str],
        references: &[Vec<&str>],
    ) -> Result<Bleu, EvalError> {
        self.smoothing.check()?;
        if hypotheses.is_empty() {
            return Err(EvalError::EmptyCorpus);
        }
        if references.is_empty() {
            return Err(EvalError::NoReferences);
        }
        for (stream, refs) in references.iter().enumerate() {
            if refs.len() != hypotheses.len() {
                return Err(EvalError::StreamLength {
                    stream,
                    expected: hypotheses.len(),
                    found: refs.len(),
                });
            }
        }
        let mut stats = BleuStats::default();
        let mut refs = Vec::with_capacity(references.len());
        for (i, hypothesis) in hypotheses.iter().enumerate() {
            refs.clear();
            refs.extend(references.iter().map(|stream| stream[i]));
            stats += self.segment_stats(hypothesis, &refs)?;
        }
        Ok(self.score_stats(&stats))
    }

    /// Sentence BLEU of one hypothesis against its references, as
    /// sacrebleu's `BLEU(...).sentence_score(hypothesis, references)`.
    ///
    /// # Errors
    ///
    /// [`EvalError::NoReferences`] for an empty `references`, and
    /// [`EvalError::SmoothingValue`] for a negative or non-finite value.
    pub fn sentence_score(&self, hypothesis: &str, references: &[&str]) -> Result<Bleu, EvalError> {
        self.smoothing.check()?;
        Ok(self.score_stats(&self.segment_stats(hypothesis, references)?))
    }

    /// The statistics of one hypothesis against its references: n-gram
    /// matches clipped by the largest count of the n-gram in any one
    /// reference, and the closest reference length.
    ///
    /// # Errors
    ///
    /// [`EvalError::NoReferences`] for an empty `references`.
    pub fn segment_stats(
        &self,
        hypothesis: &str,
        references: &[&str],
    ) -> Result<BleuStats, EvalError> {
        if references.is_empty() {
            return Err(EvalError::NoReferences);
        }
        let ref_texts: Vec<String> = references.iter().map(|r| self.preprocess(r)).collect();
        let ref_tokens: Vec<Vec<&str>> = ref_texts
            .iter()
            .map(|t| python_split(t).collect())
            .collect();
        let ref_lens: Vec<usize> = ref_tokens.iter().map(Vec::len).collect();
        let mut ref_ngrams: HashMap<&[&str], usize> = HashMap::new();
        for tokens in &ref_tokens {
            for (ngram, count) in ngram_counts(tokens) {
                let entry = ref_ngrams.entry(ngram).or_insert(0);
                *entry = (*entry).max(count);
            }
        }
        let text = self.preprocess(hypothesis);
        let tokens: Vec<&str> = python_split(&text).collect();
        let mut stats = BleuStats {
            sys_len: tokens.len(),
            ref_len: closest_ref_len(tokens.len(), &ref_lens),
            ..BleuStats::default()
        };
        for (ngram, count) in ngram_counts(&tokens) {
            let n = ngram.len() - 1;
            stats.totals[n] += count;
            if let Some(&max) = ref_ngrams.get(ngram) {
                stats.counts[n] += count.min(max);
            }
        }
        Ok(stats)
    }

    /// BLEU from accumulated statistics, sacrebleu's `compute_bleu` with
    /// this configuration's smoothing and effective order. A smoothing value
    /// out of range gives a NaN or infinite score; the scoring methods check
    /// it first.
    pub fn score_stats(&self, stats: &BleuStats) -> Bleu {
        let BleuStats {
            sys_len,
            ref_len,
            counts,
            totals,
        } = *stats;
        let brevity_penalty = if sys_len < ref_len {
            if sys_len > 0 {
                (1.0 - ref_len as f64 / sys_len as f64).exp()
            } else {
                0.0
            }
        } else {
            1.0
        };
        let mut bleu = Bleu {
            score: 0.0,
            precisions: [0.0; MAX_NGRAM_ORDER],
            brevity_penalty,
            sys_len,
            ref_len,
            counts,
            totals,
        };
        // No match at all: 0 whatever the smoothing (sacrebleu #141).
        if counts.iter().all(|&c| c == 0) {
            return bleu;
        }
        let mut smooth_mteval = 1.0;
        let mut order = MAX_NGRAM_ORDER;
        for n in 0..MAX_NGRAM_ORDER {
            let (mut correct, mut total) = (counts[n] as f64, totals[n] as f64);
            if let Smoothing::AddK(k) = self.smoothing
                && n > 0
            {
                correct += k;
                total += k;
            }
            if total == 0.0 {
                break;
            }
            if self.effective_order {
                order = n + 1;
            }
            bleu.precisions[n] = if correct == 0.0 {
                match self.smoothing {
                    Smoothing::Exp => {
                        smooth_mteval *= 2.0;
                        100.0 / (smooth_mteval * total)
                    }
                    Smoothing::Floor(value) => 100.0 * value / total,
                    Smoothing::AddK(_) | Smoothing::None => 0.0,
                }
            } else {
                100.0 * correct / total
            };
        }
        let log_sum = bleu.precisions[..order].iter().fold(0.0, |sum, &p| {
            sum + if p == 0.0 { LOG_ZERO } else { p.ln() }
        });
        bleu.score = brevity_penalty * (log_sum / order as f64).exp();
        bleu
    }
}

/// All n-grams of orders 1 to 4 with their counts.
fn ngram_counts<'t, 's>(tokens: &'t [&'s str]) -> HashMap<&'t [&'s str], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_NGRAM_ORDER {
        for ngram in tokens.windows(n) {
            *counts.entry(ngram).or_insert(0) += 1;
        }
    }
    counts
}

/// The reference length closest to the hypothesis length; the shorter on a
/// tie.
fn closest_ref_len(hyp_len: usize, ref_lens: &[usize]) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for &len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        best = match best {
            Some((d, l)) if d < diff || (d == diff && l <= len) => Some((d, l)),
            _ => Some((diff, len)),
        };
    }
    best.map_or(0, |(_, len)| len)
}

/// Corpus BLEU with sacrebleu's defaults (`13a`, `exp` smoothing, mixed
/// case): `sacrebleu.corpus_bleu(hypotheses, references)`.
///
/// `references[k][i]` is the `k`-th reference of hypothesis `i`: one stream
/// per reference set, each as long as `hypotheses`. See
/// [`BleuConfig::corpus_score`] for the errors and other settings.
///
/// # Errors
///
/// See [`BleuConfig::corpus_score`].
pub fn corpus_bleu(hypotheses: &[&str], references: &[Vec<&str>]) -> Result<Bleu, EvalError> {
    BleuConfig::corpus().corpus_score(hypotheses, references)
}

/// Sentence BLEU with sacrebleu's defaults (`13a`, `exp` smoothing, mixed
/// case, effective order): `sacrebleu.sentence_bleu(hypothesis, references)`.
///
/// # Errors
///
/// [`EvalError::NoReferences`] for an empty `references`.
pub fn sentence_bleu(hypothesis: &str, references: &[&str]) -> Result<Bleu, EvalError> {
    BleuConfig::sentence().sentence_score(hypothesis, references)
}
