//! The crate's error type.

use recur_cells::CellsError;

use crate::attention::AttentionError;

/// What can go wrong building, running or loading a sequence-to-sequence model.
#[derive(Debug, thiserror::Error)]
pub enum Seq2SeqError {
    /// A size in the model configuration is invalid.
    #[error("invalid seq2seq configuration: {0}")]
    Config(&'static str),
    /// Tied embeddings need the output layer's input to be as wide as the embedding.
    #[error(
        "tied embeddings need embedding size {embedding} to equal the decoder's hidden size {hidden} (directions * hidden)"
    )]
    TiedSize {
        /// Features of the embedding.
        embedding: usize,
        /// Features of the decoder state.
        hidden: usize,
    },
    /// The attention could not be built.
    #[error(transparent)]
    Attention(#[from] AttentionError),
    /// The encoder rejected its input.
    #[error("encoder: {0}")]
    Cells(#[from] CellsError),
    /// A weights file could not be read into the model.
    #[error("{0}")]
    Weights(CellsError),
    /// The model's architecture is not the PyTorch reference's, whose
    /// weights it was asked to load.
    #[error("the model is not the PyTorch reference's architecture: {0}")]
    NotTheReference(&'static str),
    /// A source sentence has no tokens.
    #[error("source sentence {index} of the batch is empty")]
    EmptySource {
        /// Its index in the batch.
        index: usize,
    },
}
