//! The folder of one training run: `runs/<system>/<timestamp>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::TrainError;

/// The folder of one training run, `<root>/runs/<system>/<YYYYMMDD-HHMMSS>/`,
/// holding `config.json`, `metrics.csv`, `checkpoints/`, `plots/` and
/// `samples/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
    /// The system whose run it is, recorded in `config.json` as `system`.
    system: String,
}

/// The key of `config.json` that says which system's run it is (the field
/// of `WithSystem` in [`RunDir::write_config`]).
const SYSTEM_KEY: &str = "system";

impl RunDir {
    /// Creates a new run folder `<root>/runs/<system>/<timestamp>/` (UTC,
    /// `YYYYMMDD-HHMMSS`) with its `checkpoints/`, `plots/` and `samples/`
    /// subfolders. If the folder exists already (two runs in one second), a
    /// suffix `-1`, `-2`, ... is added.
    pub fn create(root: impl AsRef<Path>, system: &str) -> Result<RunDir, TrainError> {
        let parent = root.as_ref().join("runs").join(system);
        fs::create_dir_all(&parent).map_err(TrainError::io(&parent))?;
        let stamp = utc_timestamp(SystemTime::now());
        let mut suffix = 0usize;
        let path = loop {
            let name = if suffix == 0 {
                stamp.clone()
            } else {
                format!("{stamp}-{suffix}")
            };
            let path = parent.join(name);
            // create_dir (not _all) fails if it exists: no race between two runs
            match fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => suffix += 1,
                Err(source) => return Err(TrainError::Io { path, source }),
            }
        };
        let run = RunDir {
            path,
            system: system.to_string(),
        };
        run.create_subfolders()?;
        Ok(run)
    }

    /// Opens an existing run folder of `system` (to resume it, or to use
    /// its model). The folder must hold a `config.json` (written by
    /// [`RunDir::write_config`]) of that system, or [`TrainError::NotARun`]
    /// or [`TrainError::OtherSystem`] says what it is; missing subfolders
    /// are created.
    pub fn open(path: impl AsRef<Path>, system: &str) -> Result<RunDir, TrainError> {
        let path = path.as_ref().to_path_buf();
        if !path.join("config.json").is_file() {
            return Err(TrainError::NotARun { path });
        }
        let run = RunDir {
            path,
            system: system.to_string(),
        };
        let config: serde_json::Value = run.read_config()?;
        // Runs written before the system was recorded have no `system`.
        if let Some(found) = config.get(SYSTEM_KEY).and_then(|s| s.as_str())
            && found != system
        {
            return Err(TrainError::OtherSystem {
                path: run.path,
                found: found.to_string(),
                expected: system.to_string(),
            });
        }
        run.create_subfolders()?;
        Ok(run)
    }

    fn create_subfolders(&self) -> Result<(), TrainError> {
        for dir in [self.checkpoints(), self.plots(), self.samples()] {
            fs::create_dir_all(&dir).map_err(TrainError::io(&dir))?;
        }
        Ok(())
    }

    /// Writes the resolved configuration as pretty `config.json`
    /// (atomically: a temporary file, then a rename), with the run's
    /// system as its first key, `system`.
    pub fn write_config<C: Serialize + ?Sized>(&self, config: &C) -> Result<(), TrainError> {
        let path = self.config();
        /// The config with the system in front (flattening keeps the
        /// config's field order).
        #[derive(Serialize)]
        struct WithSystem<'a, C: ?Sized> {
            system: &'a str,
            #[serde(flatten)]
            config: &'a C,
        }
        let with_system = WithSystem {
            system: &self.system,
            config,
        };
        let mut text =
            serde_json::to_string_pretty(&with_system).map_err(TrainError::json(&path))?;
        text.push('\n');
        recur_data::write_atomically(&path, text.as_bytes()).map_err(TrainError::io(&path))
    }

    /// Reads `config.json` back (to resume with the same settings).
    pub fn read_config<C: serde::de::DeserializeOwned>(&self) -> Result<C, TrainError> {
        let path = self.config();
        let text = fs::read_to_string(&path).map_err(TrainError::io(&path))?;
        serde_json::from_str(&text).map_err(TrainError::json(&path))
    }

    /// The run folder itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.path.join("config.json")
    }

    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.path.join("metrics.csv")
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoints")
    }

    /// `best/`: the checkpoint of the best validation metric (see
    /// [`Best`](crate::Best)).
    pub fn best(&self) -> PathBuf {
        self.path.join("best")
    }

    /// `plots/`.
    pub fn plots(&self) -> PathBuf {
        self.path.join("plots")
    }

    /// `samples/`.
    pub fn samples(&self) -> PathBuf {
        self.path.join("samples")
    }
}

/// `time` as a UTC `YYYYMMDD-HHMMSS` string (times before 1970 give the epoch).
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
