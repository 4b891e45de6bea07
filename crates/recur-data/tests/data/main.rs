//! recur-data's tests, one binary: vocabularies, the output bias, batching
//! and every reader on good and bad files.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod batch;
mod bias;
mod common;
mod readers;
mod vocab;
