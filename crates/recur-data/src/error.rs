//! Errors returned for bad files and bad arguments instead of panicking.

use std::path::PathBuf;

/// What can go wrong when reading data, loading a vocabulary or batching.
///
/// Every variant displays as one line; those about a file name it, and the
/// line (or byte offset) where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A text file is not valid UTF-8.
    #[error("{path}:{line}: invalid UTF-8 at byte {offset}")]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// The line (from 1) holding the first invalid byte.
        line: usize,
        /// The first invalid byte's offset in the file.
        offset: usize,
    },
    /// A line of a tab-separated file does not have the expected columns.
    #[error("{path}:{line}: expected {expected} tab-separated columns, found {found}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// How many columns each line must have.
        expected: usize,
        /// How many the line has.
        found: usize,
    },
    /// A line of a caption file is malformed.
    #[error("{path}:{line}: {message}")]
    Caption {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A JSON file (split file or vocabulary) does not parse; the message
    /// from `serde_json` gives the line and column.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A `.npy` file is malformed or holds something other than a 2-D
    /// float16, float32 or float64 matrix.
    #[error("{path}: byte {offset}: {message}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file where the problem is.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// A `.npy` matrix holds a NaN, an infinity or a value beyond float32's
    /// range (the first such value in row-major order).
    #[error("{path}: row {row}, column {column} (from 0) is {value:e}, not a finite float32")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The row (from 0; for features, the image's index).
        row: usize,
        /// The column (from 0).
        column: usize,
        /// The value as stored in the file.
        value: f64,
    },
    /// A vocabulary file parses as JSON but is not a consistent vocabulary.
    #[error("{path}: not a vocabulary: {message}")]
    Vocab {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        message: String,
    },
    /// Text to encode holds a character the character vocabulary lacks.
    #[error("character {ch:?} at position {position} is not in the vocabulary")]
    UnknownChar {
        /// The character.
        ch: char,
        /// Its position (in characters) in the text.
        position: usize,
    },
    /// A batching argument is out of range (a zero batch size or window, a
    /// stream too short to fill the rows).
    #[error("{0}")]
    Argument(String),
}
