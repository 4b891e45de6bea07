//! Errors of the training-run pieces: every one a single line naming the file.

use std::path::PathBuf;

/// What can go wrong while setting up, logging, plotting or checkpointing a
/// training run.
///
/// Every variant displays as one line; those about a file name it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file or folder could not be read, written, created or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file could not be written or parsed.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde_json said.
        source: serde_json::Error,
    },
    /// burn could not save or load a model or optimizer record.
    #[error("{path}: {message}")]
    Record {
        /// The burnpack file.
        path: PathBuf,
        /// What burn said.
        message: String,
    },
    /// An existing metrics file has a different header than the one asked for.
    #[error("{path}: header is `{found}`, expected `{expected}`")]
    Header {
        /// The CSV file.
        path: PathBuf,
        /// The header the caller asked for.
        expected: String,
        /// The header in the file.
        found: String,
    },
    /// A chart was given inconsistent data (e.g. a heatmap whose value
    /// count is not rows x columns).
    #[error("{path}: {message}")]
    Plot {
        /// The PNG that was to be written.
        path: PathBuf,
        /// What is inconsistent.
        message: String,
    },
    /// A line of a metrics file is malformed.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A row given to [`MetricsLog::append`](crate::MetricsLog::append) has
    /// the wrong number of values.
    #[error("{path}: row has {found} values, header has {expected} columns")]
    RowLength {
        /// The CSV file.
        path: PathBuf,
        /// Columns in the header.
        expected: usize,
        /// Values in the row.
        found: usize,
    },
    /// A folder given as a run folder is not one (it has no `config.json`).
    #[error("{path}: not a run folder (no config.json)")]
    NotARun {
        /// The folder.
        path: PathBuf,
    },
    /// A run folder holds another system's run.
    #[error("{path}: a run of {found}, not of {expected}")]
    OtherSystem {
        /// The run folder.
        path: PathBuf,
        /// The system whose run it is.
        found: String,
        /// The system that was asked for.
        expected: String,
    },
    /// A checkpoint folder is missing one of its files.
    #[error("{path}: incomplete checkpoint (missing {missing})")]
    Incomplete {
        /// The checkpoint folder.
        path: PathBuf,
        /// The missing file's name.
        missing: String,
    },
    /// A run has no checkpoint to load yet.
    #[error("{path}: no checkpoint yet")]
    NoCheckpoint {
        /// The checkpoint folder.
        path: PathBuf,
    },
    /// A flag's value is refused.
    #[error("--{flag}: {message}")]
    Flag {
        /// The flag's name, without the dashes.
        flag: String,
        /// What is wrong with its value.
        message: String,
    },
    /// Data-parallel training could not start or continue.
    #[error("workers: {0}")]
    Workers(String),
    /// A loss (or other watched value) became NaN or infinite; the caller
    /// should stop and resume from the last good checkpoint.
    #[error("non-finite {name} ({value}) at epoch {epoch}, step {step}")]
    NonFinite {
        /// What the value is, e.g. `train loss`.
        name: String,
        /// The value (NaN or ±inf).
        value: f64,
        /// The epoch it happened in.
        epoch: usize,
        /// The global step it happened at.
        step: u64,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }

    /// A [`TrainError::Flag`] for `--flag`.
    pub fn flag(flag: &str, message: impl Into<String>) -> TrainError {
        TrainError::Flag {
            flag: flag.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Json { path, source }
    }
}

/// Checks that `value` is finite; a NaN or infinite loss becomes
/// [`TrainError::NonFinite`] so a training loop can stop with `?` and keep its
/// last good checkpoint.
///
/// ```
/// use recur_train::check_finite;
///
/// assert_eq!(check_finite("train loss", 1.5, 3, 120).unwrap(), 1.5);
/// let err = check_finite("train loss", f64::NAN, 3, 121).unwrap_err();
/// assert_eq!(err.to_string(), "non-finite train loss (NaN) at epoch 3, step 121");
/// ```
pub fn check_finite(name: &str, value: f64, epoch: usize, step: u64) -> Result<f64, TrainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TrainError::NonFinite {
            name: name.to_string(),
            value,
            epoch,
            step,
        })
    }
}

/// The error of an app's command: any error, shown as its one line. `?`
/// turns every library error (and a `String` or `&str`) into one;
/// [`Context::context`] prefixes what was being done.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Prefixes an error with what was being done: `--init: <error>`.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("<what>: <e>")`.
    fn context(self, what: impl std::fmt::Display) -> Result<T, AppError>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl std::fmt::Display) -> Result<T, AppError> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
}

/// Ends an app's `main`: an error is printed as `error: <message>` on
/// stderr and the process exits with code 1.
pub fn exit_on_error(result: Result<(), AppError>) {
    if let Err(error) = result {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
