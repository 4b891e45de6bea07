//! Errors of `recur-ntm`.

use recur_cells::CellsError;

/// Everything that can go wrong building or running an NTM or a task.
#[derive(Debug, thiserror::Error)]
pub enum NtmError {
    /// A configuration value out of range; the message names the field.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An input of the wrong shape.
    #[error("input has {got} features per step, the model expects {expected}")]
    InputSize {
        /// Features the model was built for.
        expected: usize,
        /// Features the input has.
        got: usize,
    },
    /// A sequence of zero time steps.
    #[error("a sequence needs at least one time step")]
    EmptySequence,
    /// The LSTM baseline's sequence layer refused its input.
    #[error(transparent)]
    Cells(#[from] CellsError),
}
