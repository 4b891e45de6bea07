//! The recurrence on the CPU backends (ndarray, flex): the same equations as
//! the device path in `device/`, run over plain `f32` buffers, the input
//! projection included.
//!
//! Composed of backend primitives, one LSTM step is about fifteen passes over
//! memory, each allocating its result; on the CPU those passes, not the
//! matmuls, took most of the time (`perf` on the cells benchmark). Here the
//! input side of all steps is one matmul straight from `x` (reading the
//! projection out of a burn tensor instead cost more than computing it).
//! The batch is then cut into one shard per rayon thread, and each thread
//! runs the whole recurrence of its shard: per step, its rows' product with
//! `W_hh` (packed once per call, [`Panels`](gemm::Panels)) and the gate
//! loops right after it, compiled for AVX2 + FMA where the CPU has them
//! (`pulp`). The steps need no synchronisation between threads, and each
//! shard's products stay in its own core's cache for its gate loops. The backward runs the same
//! way, then gathers the weight gradients into one product each.
//!
//! The large products go through OpenBLAS with the default `openblas`
//! feature (see [`matmul`]); without it they use `matrixmultiply` (with
//! which the layer was 1.3-1.9x slower when every step's product went
//! through it too). OpenBLAS's idle threads spin for 2^28 cycles (about
//! 0.1 s) after each call, its `THREAD_TIMEOUT`, and take cores from the
//! shards: the workspace sets `OPENBLAS_THREAD_TIMEOUT=4`
//! (`.cargo/config.toml`), so they sleep at once. Without it the layer is up
//! to 25% slower, about as fast as it was with OpenBLAS doing every step's
//! product (docs/BENCHMARKS.md).
//!
//! Layout: batch-major, as the tensors come in. Sequence buffers are
//! `[batch][time][features]` (`[batch*time, features]` matrices), per-step
//! buffers `[batch][features]`; row `b` of a step is gates `i, f, g, o` (or
//! `r, z, n`) one after the other, each `hidden` wide, so the gate loops run
//! over contiguous slices. No input or output is ever permuted.
//!
//! Files by concern:
//!
//! - `forward.rs`, `backward.rs`: the recurrence over time, shard by shard.
//! - `gates.rs`: one step of one sequence per cell kind, forward and
//!   backward (the same names as the device path's `device/gates.rs`).
//! - `gemm.rs`: the matrix products: BLAS for the large ones, a register-tiled
//!   micro-kernel over packed `W_hh` for each step's.
//! - `math.rs`: vectorisable `exp`, `sigmoid`, `tanh`, dot products, column
//!   sums.
//! - `buffers.rs`: zeroed buffers and their split into shards.
//! - `types.rs`: what goes in and out of the forward and the backward.
//! - `bridge.rs`: burn tensors to and from `f32` buffers (also used by
//!   `linear.rs` and `score.rs`).

mod backward;
mod bridge;
mod buffers;
mod forward;
mod gates;
mod gemm;
mod math;
mod types;

pub(crate) use backward::backward;
pub(crate) use bridge::{on_cpu, tensor, values};
pub(crate) use buffers::zeros;
pub(crate) use forward::forward;
pub(crate) use gemm::{matmul, view};
pub(crate) use math::{column_sums, dot, tanh};
pub(crate) use types::{Dims, Inputs, Saved};
