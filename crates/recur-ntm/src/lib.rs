#![doc = include_str!("../README.md")]
//!
//! # Items
//!
//! The paper's boxes are the modules:
//!
//! - [`addressing`]: content addressing, interpolation, convolutional shift
//!   and sharpening, eqs. (5)-(9), one function each.
//! - [`memory`]: reading (eq. 2) and writing as erase then add (eqs. 3-4);
//!   [`MemoryInit`].
//! - [`Heads`]: controller output to every head's parameters.
//! - [`Controller`]: an LSTM cell (from `recur-cells`) or a feed-forward layer.
//! - [`Ntm`] / [`NtmConfig`]: the machine, one step or a whole sequence,
//!   with the heads' weightings on request ([`Ntm::trace`]).
//! - [`LstmBaseline`]: the stacked LSTM the paper compares against.
//! - [`tasks`]: copy, repeat copy and associative recall generators.
//! - [`loss`]: binary cross-entropy and bit errors per sequence.

pub mod addressing;
mod baseline;
mod controller;
mod error;
mod head;
pub mod loss;
pub mod memory;
mod ntm;
pub mod tasks;

pub use baseline::{LstmBaseline, LstmBaselineConfig};
pub use controller::{Controller, ControllerKind};
pub use error::NtmError;
pub use head::{HeadOutputs, Heads};
pub use memory::MemoryInit;
pub use ntm::{Ntm, NtmConfig, NtmState, NtmTrace};
pub use tasks::{Batch, Task, TaskConfig};
