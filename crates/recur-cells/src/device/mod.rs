//! The recurrence as burn backend ops: on the GPU, and for single steps on
//! the CPU (decoders feeding back their output). The forward runs every time
//! step on the backend's primitives with no autodiff bookkeeping, and
//! backpropagation through time is written by hand.
//!
//! - `forward.rs`, `backward.rs`: the time loops, masking and the products
//!   over all steps at once.
//! - `gates.rs`: one small function per cell kind and direction, with the
//!   names of the CPU path's `host/gates.rs`.
//! - `saved.rs`: what the forward keeps for the backward.
//! - `float.rs`: [`Float`](float::Float), the backend's tensors with arithmetic operators,
//!   and how sigmoid and tanh are computed.
//!
//! Feature-major layout: every per-step tensor is `[features, batch]`, so
//! the recurrent matmul is `W_hhᵀ [gates*hidden, hidden] · hᵀ`: the large
//! matrix on the left, which flex's matmul runs 3-4x faster than `h · W_hh`
//! at these shapes (benches/shapes.rs).

mod backward;
mod float;
mod forward;
mod gates;
mod saved;

pub(crate) use backward::backward;
pub(crate) use forward::forward;
pub(crate) use saved::Saved;
