//! recur-data's tests, one binary: vocabularies, the output bias, batching,
//! every reader on good and bad files, and every reader on randomly
//! corrupted files (`fuzz`).

#![allow(clippy::unwrap_used)] // a failed test may panic

mod batch;
mod bias;
mod common;
mod fuzz;
mod npy;
mod readers;
mod vocab;
