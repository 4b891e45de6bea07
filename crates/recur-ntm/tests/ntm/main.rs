//! recur-ntm's tests, one binary so that the wgpu device (and its compiled
//! kernels) is shared. Every test runs on each backend in
//! `RECUR_TEST_BACKENDS` (comma-separated; default `ndarray,wgpu`).

#![allow(clippy::unwrap_used)] // a failed test may panic

mod addressing;
mod common;
mod gradcheck;
mod machine;
mod memory;
mod tasks;
