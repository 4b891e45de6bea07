//! Errors returned for malformed metric inputs instead of panicking.

/// What can go wrong when scoring.
///
/// Every variant displays as one line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A corpus has no hypotheses: BLEU of nothing is undefined.
    #[error("the corpus has no hypotheses")]
    EmptyCorpus,
    /// No references were given (no reference stream for a corpus, or an
    /// empty reference list for a sentence).
    #[error("no references given")]
    NoReferences,
    /// A reference stream does not have one reference per hypothesis.
    #[error("reference stream {stream} has {found} references for {expected} hypotheses")]
    StreamLength {
        /// The stream's index (from 0).
        stream: usize,
        /// How many hypotheses there are.
        expected: usize,
        /// How many references the stream has.
        found: usize,
    },
    /// A smoothing value is negative or not finite.
    #[error("smoothing value {0} must be finite and at least 0")]
    SmoothingValue(f64),
}
