//! Recurrent cells and sequence layers for [burn](https://burn.dev).
//!
//! - [`Cell`]: a vanilla RNN (tanh or ReLU), LSTM or GRU step with all gates
//!   fused into one weight matrix per input, in PyTorch's gate order.
//! - [`Recurrent`]: the sequence layer for every cell kind: stacked layers,
//!   both directions, dropout between layers, padding by sequence lengths,
//!   initial and final states per layer and direction. Equivalent to
//!   `torch.nn.RNN/LSTM/GRU(batch_first=True)`, and it reads and writes their
//!   `state_dict` as safetensors ([`Recurrent::load_torch`],
//!   [`Recurrent::save_torch`]).
//!
//! The same model runs on every burn device; the device picks the backend.
//!
//! ```
//! use burn::tensor::{Device, Tensor, Distribution};
//! use recur_cells::{CellKind, RecurrentConfig};
//!
//! # #[allow(deprecated)]
//! let device = Device::ndarray();
//! let lstm = RecurrentConfig::new(CellKind::Lstm, 8, 16)
//!     .with_num_layers(2)
//!     .with_bidirectional(true)
//!     .init(&device);
//! // A batch of 3 sequences of up to 5 steps; the last two are shorter.
//! let x = Tensor::<3>::random([3, 5, 8], Distribution::Normal(0.0, 1.0), &device);
//! let out = lstm.forward(x, Some(&[5, 3, 1]), None)?;
//! assert_eq!(out.output.dims(), [3, 5, 32]);
//! assert_eq!(out.state.h.dims(), [4, 3, 16]); // [layers * directions, batch, hidden]
//! # Ok::<(), recur_cells::CellsError>(())
//! ```

mod cell;
mod error;
mod layer;
mod torch;

pub use cell::{Cell, CellConfig, CellKind, CellState};
pub use error::CellsError;
pub use layer::{Recurrent, RecurrentConfig, RecurrentOutput, RecurrentState};
