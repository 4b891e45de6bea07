//! recur-train's tests, one binary: run folders, metrics logs, PNG charts
//! (decoded here), checkpoints with a simulated kill, progress lines and
//! the NaN guard.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod checkpoint;
mod common;
mod metrics;
mod plot;
mod progress;
mod run;
