//! What the device path's forward keeps for its backward: per step the
//! state it started from and its cell's values, by kind.

use burn::backend::Backend;

use super::float::Float;
use super::gates::{GruSaved, LstmSaved};

/// What one step keeps for the backward pass, every tensor feature-major
/// (`[features, batch]`).
#[derive(Clone, Debug)]
pub(super) struct Step<B: Backend> {
    /// The hidden state the step started from.
    pub(super) h_prev: Float<B>,
    /// What its cell's backward needs.
    pub(super) cell: CellSaved<B>,
}

/// What a step's cell keeps, by kind.
#[derive(Clone, Debug)]
pub(super) enum CellSaved<B: Backend> {
    /// The new `h`.
    RnnTanh {
        h_new: Float<B>,
    },
    /// The new `h`.
    RnnRelu {
        h_new: Float<B>,
    },
    Lstm(LstmSaved<B>),
    Gru(GruSaved<B>),
}

/// What the device path keeps for the backward pass.
#[derive(Clone, Debug)]
pub(crate) struct Saved<B: Backend> {
    /// The input, `[batch * time, input]`.
    pub(super) x: Float<B>,
    pub(super) w_ih: Float<B>,
    pub(super) w_hh: Float<B>,
    /// In processing order (reversed in time for the right-to-left pass).
    pub(super) steps: Vec<Step<B>>,
    /// `[1, batch]` per time index: 1 at real steps, 0 at padding.
    pub(super) masks: Option<Vec<Float<B>>>,
    pub(super) hidden: usize,
}

impl<B: Backend> Saved<B> {
    /// The number of time steps it was computed over.
    pub(crate) fn time(&self) -> usize {
        self.steps.len()
    }
}
