#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! - [`Cell`]: a vanilla RNN (tanh or ReLU), LSTM or GRU step with all gates
//!   fused into one weight matrix per input, in PyTorch's gate order.
//! - [`Recurrent`]: the sequence layer for every cell kind: stacked layers,
//!   both directions, dropout between layers, padding by sequence lengths,
//!   initial and final states per layer and direction. Equivalent to
//!   `torch.nn.RNN/LSTM/GRU(batch_first=True)`, and it reads and writes their
//!   `state_dict` as safetensors ([`Recurrent::load_torch`],
//!   [`Recurrent::save_torch`]).
//! - [`linear`] and [`additive_scores`]: an affine map and Bahdanau's
//!   attention score as fused operations, faster on the CPU than burn's
//!   composed ops.
//! - [`TorchTensors`]: the rest of a PyTorch state dict, read by name into
//!   parameters, for models built around these layers.
//!
//! The same model runs on every burn device; the device picks the backend.

mod cell;
mod device;
mod error;
mod fused;
mod host;
mod kind;
mod layer;
mod linear;
mod recurrence;
mod score;
mod torch;

pub use cell::{Cell, CellConfig, CellState};
pub use error::CellsError;
pub use kind::CellKind;
pub use layer::{Recurrent, RecurrentConfig, RecurrentOutput, RecurrentState};
pub use linear::linear;
pub use score::additive_scores;
pub use torch::TorchTensors;
