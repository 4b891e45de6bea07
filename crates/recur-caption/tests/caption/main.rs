//! recur-caption's tests, one binary: the shapes generator, the features
//! reader, and the model (loss, bias, overfitting, search) on every backend
//! in `RECUR_TEST_BACKENDS`.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod data;
mod model;
mod shapes;
