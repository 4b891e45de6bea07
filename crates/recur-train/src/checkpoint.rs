//! Atomic training checkpoints: model, optimizer and loop state in one folder.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::TrainError;
use recur_data::write_atomically;

/// File name of the model's burnpack inside a checkpoint folder.
pub const MODEL_FILE: &str = "model.bpk";
/// File name of the optimizer's burnpack inside a checkpoint folder.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// File name of the [`TrainingState`] JSON inside a checkpoint folder.
pub const STATE_FILE: &str = "state.json";

const PREFIX: &str = "step-";
const TMP_PREFIX: &str = ".tmp-";

/// Where the training loop was when a checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// The epoch (the caller decides whether it is the one finished or the
    /// next to run).
    pub epoch: usize,
    /// The global optimizer step.
    pub step: u64,
    /// The best value so far of the metric the best checkpoint is kept by
    /// (see [`Best`](crate::Best)), if any.
    pub best_valid: Option<f64>,
    /// Wall-clock seconds of training and validation so far, over every
    /// invocation of the run (what `--minutes` limits).
    #[serde(default)]
    pub seconds: f64,
    /// Anything else the app wants back on resume (learning rate, data
    /// position, RNG seed, ...); `null` if nothing.
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl TrainingState {
    /// A state at `epoch` and `step` with no best validation loss and no extra.
    pub fn new(epoch: usize, step: u64) -> TrainingState {
        TrainingState {
            epoch,
            step,
            best_valid: None,
            seconds: 0.0,
            extra: serde_json::Value::Null,
        }
    }
}

/// A complete checkpoint on disk: `checkpoints/step-<step>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The checkpoint folder.
    pub path: PathBuf,
    /// The global step it was taken at (from the folder name).
    pub step: u64,
}

impl Checkpoint {
    /// The model's burnpack file.
    pub fn model_file(&self) -> PathBuf {
        self.path.join(MODEL_FILE)
    }

    /// The optimizer's burnpack file (present only if one was saved).
    pub fn optimizer_file(&self) -> PathBuf {
        self.path.join(OPTIMIZER_FILE)
    }

    /// The training-state JSON.
    pub fn state_file(&self) -> PathBuf {
        self.path.join(STATE_FILE)
    }

    /// Reads only the training state.
    pub fn state(&self) -> Result<TrainingState, TrainError> {
        let path = self.state_file();
        let text = fs::read_to_string(&path).map_err(TrainError::io(&path))?;
        serde_json::from_str(&text).map_err(TrainError::json(&path))
    }
}

/// Saves and finds checkpoints in one folder (usually
/// [`RunDir::checkpoints`](crate::RunDir::checkpoints)), keeping the last
/// `keep`.
///
/// Each checkpoint is written into a hidden temporary folder and renamed to
/// `step-<step>` only once all its files are written, so a run killed while
/// saving leaves no half checkpoint: [`Checkpointer::latest`] only ever sees
/// complete ones, and leftover temporary folders are removed by
/// [`Checkpointer::new`].
#[derive(Debug, Clone)]
pub struct Checkpointer {
    dir: PathBuf,
    keep: usize,
}

impl Checkpointer {
    /// A checkpointer for `dir` (created if missing) keeping the newest
    /// `keep` checkpoints (at least one). Temporary folders left by a killed
    /// save are deleted.
    pub fn new(dir: impl AsRef<Path>, keep: usize) -> Result<Checkpointer, TrainError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        for entry in fs::read_dir(&dir).map_err(TrainError::io(&dir))? {
            let entry = entry.map_err(TrainError::io(&dir))?;
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let path = entry.path();
                match fs::remove_dir_all(&path) {
                    // Another worker of the same run removed it first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    result => result.map_err(TrainError::io(&path))?,
                }
            }
        }
        Ok(Checkpointer {
            dir,
            keep: keep.max(1),
        })
    }

    /// The checkpoint folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Saves `model` (with [`Module::save_file`], burnpack), `optimizer` if
    /// given (with [`ModuleOptimizer::save`], burnpack) and `state` as
    /// `checkpoints/step-<state.step>/`, replacing a checkpoint of the same
    /// step, then deletes all but the newest `keep` checkpoints.
    pub fn save<M: Module>(
        &self,
        model: &M,
        optimizer: Option<&ModuleOptimizer>,
        state: &TrainingState,
    ) -> Result<Checkpoint, TrainError> {
        let name = format!("{PREFIX}{:012}", state.step);
        let tmp = self
            .dir
            .join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
        }
        fs::create_dir(&tmp).map_err(TrainError::io(&tmp))?;
        let result = self.write_files(&tmp, model, optimizer, state);
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let path = self.dir.join(&name);
        if path.exists() {
            fs::remove_dir_all(&path).map_err(TrainError::io(&path))?;
        }
        fs::rename(&tmp, &path).map_err(TrainError::io(&path))?;
        self.prune()?;
        Ok(Checkpoint {
            path,
            step: state.step,
        })
    }

    fn write_files<M: Module>(
        &self,
        tmp: &Path,
        model: &M,
        optimizer: Option<&ModuleOptimizer>,
        state: &TrainingState,
    ) -> Result<(), TrainError> {
        let model_path = tmp.join(MODEL_FILE);
        model
            .clone()
            .save_file(&model_path)
            .map_err(|e| TrainError::Record {
                path: model_path.clone(),
                message: e.to_string(),
            })?;
        if let Some(optimizer) = optimizer {
            let optim_path = tmp.join(OPTIMIZER_FILE);
            optimizer
                .save(&optim_path)
                .map_err(|e| TrainError::Record {
                    path: optim_path.clone(),
                    message: e.to_string(),
                })?;
        }
        let state_path = tmp.join(STATE_FILE);
        let text = serde_json::to_string_pretty(state).map_err(TrainError::json(&state_path))?;
        write_atomically(&state_path, text.as_bytes()).map_err(TrainError::io(&state_path))
    }

    /// All complete checkpoints, oldest (lowest step) first.
    pub fn list(&self) -> Result<Vec<Checkpoint>, TrainError> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(TrainError::io(&self.dir))? {
            let entry = entry.map_err(TrainError::io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(step) = name
                .strip_prefix(PREFIX)
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            if path.join(STATE_FILE).is_file() && path.join(MODEL_FILE).is_file() {
                found.push(Checkpoint { path, step });
            }
        }
        found.sort_by_key(|c| c.step);
        Ok(found)
    }

    /// The newest complete checkpoint, or `None` if there is none yet.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        Ok(self.list()?.pop())
    }

    /// Loads `checkpoint` into `model` (with [`Module::try_load_file`]) and
    /// `optimizer` (with [`ModuleOptimizer::load`]) and reads its state.
    ///
    /// `model` and `optimizer` are freshly built ones of the same shape (the
    /// loaded tensors go to the model's devices). If an optimizer is given
    /// but the checkpoint has none, [`TrainError::Incomplete`] says so.
    pub fn load<M: Module>(
        &self,
        checkpoint: &Checkpoint,
        model: M,
        optimizer: Option<ModuleOptimizer>,
    ) -> Result<(M, Option<ModuleOptimizer>, TrainingState), TrainError> {
        let state = checkpoint.state()?;
        let model_path = checkpoint.model_file();
        let model = model
            .try_load_file(&model_path)
            .map_err(|e| TrainError::Record {
                path: model_path.clone(),
                message: e.to_string(),
            })?;
        let optimizer = match optimizer {
            None => None,
            Some(optimizer) => {
                let path = checkpoint.optimizer_file();
                if !path.is_file() {
                    return Err(TrainError::Incomplete {
                        path: checkpoint.path.clone(),
                        missing: OPTIMIZER_FILE.into(),
                    });
                }
                Some(optimizer.load(&path).map_err(|e| TrainError::Record {
                    path: path.clone(),
                    message: e.to_string(),
                })?)
            }
        };
        Ok((model, optimizer, state))
    }

    fn prune(&self) -> Result<(), TrainError> {
        let all = self.list()?;
        let excess = all.len().saturating_sub(self.keep);
        for old in &all[..excess] {
            fs::remove_dir_all(&old.path).map_err(TrainError::io(&old.path))?;
        }
        Ok(())
    }
}

/// `model` with the parameters of `run`'s best checkpoint (`best/`, see
/// [`Best`](crate::Best)), or of its latest one when it keeps no best, and
/// that checkpoint's state: what inference commands use.
pub fn load_best<M: Module>(
    run: &crate::RunDir,
    model: M,
) -> Result<(M, TrainingState), TrainError> {
    for dir in [run.best(), run.checkpoints()] {
        if !dir.is_dir() {
            continue;
        }
        let checkpointer = Checkpointer::new(&dir, usize::MAX)?;
        if let Some(checkpoint) = checkpointer.latest()? {
            let (model, _, state) = checkpointer.load(&checkpoint, model, None)?;
            return Ok((model, state));
        }
    }
    Err(TrainError::NoCheckpoint {
        path: run.checkpoints(),
    })
}
