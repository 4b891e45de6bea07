//! recur-train's tests, one binary: run folders, metrics logs, PNG charts
//! (decoded here), checkpoints with a simulated kill, progress lines, the
//! NaN guard and gradient clipping.

#![allow(clippy::unwrap_used)] // a failed test may panic

mod checkpoint;
mod clip;
mod common;
mod metrics;
mod plot;
mod progress;
mod run;
mod trainer;
