//! recur-caption's tests, one binary: the shapes generator, the features
//! reader (on good, bad and randomly corrupted files), and the model (loss,
//! bias, overfitting, search) on every backend in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod data;
mod fuzz;
mod model;
mod shapes;
