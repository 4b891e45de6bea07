#![doc = include_str!("../README.md")]

mod backend;
mod checkpoint;
mod clip;
mod error;
mod metrics;
pub mod plot;
mod progress;
mod run;

pub use backend::Backend;
pub use checkpoint::{
    Checkpoint, Checkpointer, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TrainingState,
};
pub use clip::clip_grad_norm;
pub use error::{TrainError, check_finite};
pub use metrics::{Metrics, MetricsLog, read_metrics};
pub use progress::{LineParts, Progress, format_bar, format_count, format_duration, format_line};
pub use run::{RunDir, utc_timestamp};
