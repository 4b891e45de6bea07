#![doc = include_str!("../README.md")]

mod backend;
mod checkpoint;
mod clip;
mod error;
mod flags;
mod metrics;
#[cfg(feature = "mpi")]
mod mpi;
pub mod plot;
mod progress;
mod run;
pub mod testing;
mod trainer;
mod workers;

pub use backend::Backend;
pub use checkpoint::{
    Checkpoint, Checkpointer, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TrainingState, load_best,
};
pub use clip::clip_grad_norm;
pub use error::{AppError, Context, TrainError, check_finite, exit_on_error};
pub use flags::{AppConfig, Defaults, RunConfig, TrainFlags, check, run_cli};
pub use metrics::{Metrics, MetricsLog, read_metrics, row_values, write_row};
pub use progress::{LineParts, Progress, format_bar, format_count, format_duration, format_line};
pub use run::{RunDir, utc_timestamp};
pub use trainer::{Best, Loss, Task, Trained, train};
pub use workers::Shard;
