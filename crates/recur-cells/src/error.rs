//! Errors returned for bad input instead of panicking deep inside burn.

use std::path::PathBuf;

/// What can go wrong when running or loading a recurrent layer.
#[derive(Debug, thiserror::Error)]
pub enum CellsError {
    /// The input's feature axis does not match the layer's input size.
    #[error("input has {found} features per step, but the layer expects {expected}")]
    InputSize {
        /// The layer's input size.
        expected: usize,
        /// The input's last dimension.
        found: usize,
    },
    /// The input has no time steps.
    #[error("input has no time steps")]
    EmptyTime,
    /// `lengths` does not have one entry per sequence in the batch.
    #[error("lengths has {found} entries, but the batch has {expected} sequences")]
    LengthsCount {
        /// Batch size.
        expected: usize,
        /// Number of lengths given.
        found: usize,
    },
    /// A sequence length exceeds the time axis.
    #[error("sequence {index} has length {length}, longer than the time axis ({time})")]
    LengthTooLong {
        /// Position of the sequence in the batch.
        index: usize,
        /// Its given length.
        length: usize,
        /// The input's time dimension.
        time: usize,
    },
    /// An initial state has the wrong shape.
    #[error("initial state `{name}` has shape {found:?}, expected {expected:?}")]
    StateShape {
        /// `h` or `c`.
        name: &'static str,
        /// `[layers * directions, batch, hidden]`.
        expected: Vec<usize>,
        /// What was given.
        found: Vec<usize>,
    },
    /// An LSTM got no initial cell state beside its hidden state, or another
    /// cell got one.
    #[error("initial state: {0}")]
    StateKind(&'static str),
    /// A weights file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A weights file is not valid safetensors.
    #[error("{path}: not a safetensors file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A tensor the layer needs is missing from a weights file.
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The PyTorch parameter name.
        name: String,
    },
    /// A tensor in a weights file has the wrong shape or dtype.
    #[error("{path}: tensor `{name}` is {found}, expected {expected}")]
    TensorMismatch {
        /// The file.
        path: PathBuf,
        /// The PyTorch parameter name.
        name: String,
        /// Expected dtype and shape.
        expected: String,
        /// Found dtype and shape.
        found: String,
    },
}
