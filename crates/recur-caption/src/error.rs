//! Errors returned for bad data and bad arguments instead of panicking.

use std::path::PathBuf;

use recur_data::DataError;

/// What can go wrong when reading a captioning data set or building a model.
///
/// Every variant displays as one line naming the file (and line) or the
/// argument at fault.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    /// A file could not be read or parsed (see [`DataError`]).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The features file has a different number of rows than the caption
    /// file has images.
    #[error(
        "{features}: {rows} feature rows, but {captions} has captions for {images} images (one row per image, in caption-file order)"
    )]
    FeatureCount {
        /// The features file.
        features: PathBuf,
        /// Its rows.
        rows: usize,
        /// The caption file.
        captions: PathBuf,
        /// The distinct images it names.
        images: usize,
    },
    /// A feature row holds a NaN, an infinity or a value beyond float32's
    /// range.
    #[error(
        "{features}: row {row} (image `{image}`), column {column} (from 0) is {value:e}, not a finite float32"
    )]
    NonFiniteFeature {
        /// The features file.
        features: PathBuf,
        /// The row (from 0): the image's index in caption-file order.
        row: usize,
        /// The image of that row.
        image: String,
        /// The column (from 0).
        column: usize,
        /// The value as stored in the file.
        value: f64,
    },
    /// A split file names an image the caption file does not have.
    #[error("{path}: image `{image}` has no captions in {other}")]
    MissingImage {
        /// The split file.
        path: PathBuf,
        /// The image.
        image: String,
        /// The caption file.
        other: PathBuf,
    },
    /// An image of the caption file is missing from the split file.
    #[error("{path}: no split for image `{image}` ({captions}:{line})")]
    NoSplit {
        /// The split file.
        path: PathBuf,
        /// The image.
        image: String,
        /// The caption file.
        captions: PathBuf,
        /// The caption-file line where the image first appears.
        line: usize,
    },
    /// A model or data argument is out of range or inconsistent.
    #[error("{0}")]
    Argument(String),
}
