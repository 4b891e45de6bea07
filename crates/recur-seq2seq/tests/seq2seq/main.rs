//! recur-seq2seq's tests, one binary so that the wgpu device (and its
//! compiled kernels) is shared. Every test that uses tensors runs on each
//! backend in `RECUR_TEST_BACKENDS` (comma-separated; default `ndarray,wgpu`).

#![allow(clippy::unwrap_used)] // a failed test may panic

mod attention;
mod common;
mod model;
mod reference;
mod search;
