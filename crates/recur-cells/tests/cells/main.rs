//! recur-cells' tests, one binary so that the wgpu device (and its compiled
//! kernels) is shared. Every test runs on each backend in
//! `RECUR_TEST_BACKENDS` (comma-separated; default `ndarray,wgpu`).

#![allow(clippy::unwrap_used)] // a failed test may panic

mod common;
mod errors;
mod gradcheck;
mod linear;
mod padding;
mod reference;
mod score;
mod torch_io;
