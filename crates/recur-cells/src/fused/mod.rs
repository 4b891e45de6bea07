//! Fused operations: a forward written once with a backend's
//! primitive float ops (no autodiff bookkeeping inside), backward written by
//! hand, usable from the high-level `Tensor<D>` API on every dispatch backend,
//! with or without autodiff, with N inputs and M outputs.
//!
//! - `op.rs`: [`FusedOp`], what such an operation implements.
//! - `autodiff.rs`: the op as nodes of burn's autodiff graph (one main node,
//!   plus one per output when there are several).
//! - `dispatch.rs`: [`apply`], from burn's dispatch tensors to the concrete
//!   backend (ndarray, flex, CubeCL), with or without autodiff.

mod autodiff;
mod dispatch;
mod op;

pub use dispatch::apply;
pub use op::FusedOp;
