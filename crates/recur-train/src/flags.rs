//! The flags every app's `train` command shares, and how a resumed run's
//! saved configuration meets the flags given with `--resume`.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Backend, RunDir, TrainError};

/// The flags of every app's `train` command, with one name and one meaning
/// in all of them. An app flattens them into its own configuration
/// (`#[command(flatten)]` and `#[serde(flatten)]`), so they are saved in the
/// run's `config.json` beside the app's own flags; its defaults come from
/// [`Defaults::apply`].
#[derive(clap::Args, Clone, Debug, PartialEq, Serialize, Deserialize)]
// A run saved before a flag existed reads as that flag's default.
#[serde(default)]
pub struct TrainFlags {
    /// burn backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Epochs to train, counted over the whole run (a resumed run trains up
    /// to this many).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Wall-clock budget of the whole run in minutes, training and
    /// validation, summed over every invocation of a resumed run (0: no
    /// limit). The epoch it runs out in ends early and is validated and
    /// checkpointed; `--resume DIR --minutes M` continues with a larger one.
    #[arg(long, default_value_t = 0.0)]
    pub minutes: f64,
    /// Optimizer steps of the whole run, over every invocation (0: no
    /// limit). Like `--minutes`, the epoch it runs out in ends early and is
    /// validated and checkpointed: a fixed amount of work, for benchmarks.
    #[arg(long, default_value_t = 0)]
    pub steps: u64,
    /// Samples per batch, over all workers together.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Learning-rate decay: epoch e trains at lr * lr_decay^(e-1).
    #[arg(long, default_value_t = 1.0)]
    pub lr_decay: f64,
    /// Largest joint L2 norm of all gradients together (a larger one is
    /// scaled down, as PyTorch's `clip_grad_norm_`); 0: no clipping.
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Seed of the initial weights and of every random draw of training.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder under which `runs/<system>/<timestamp>/` is created.
    #[arg(long, default_value = ".")]
    #[serde(skip)]
    pub root: PathBuf,
    /// Continue the run in this folder from its latest checkpoint. Only
    /// `--epochs`, `--minutes`, `--steps`, `--backend` and `--workers` may
    /// differ from the run's saved configuration.
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Data-parallel worker processes (MPI ranks): each trains on 1/N of
    /// every batch and the gradients are averaged. `cargo xtask train APP
    /// --workers N` starts them with `mpirun`.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

impl Default for TrainFlags {
    /// The flags' defaults, as the command line has them.
    fn default() -> TrainFlags {
        use clap::{Args, FromArgMatches};
        let command = TrainFlags::augment_args(Command::new("train"));
        let matches = command.get_matches_from(["train"]);
        TrainFlags::from_arg_matches(&matches).expect("the defaults parse")
    }
}

/// The flags a resumed run may change: its budget (kept from the saved
/// configuration unless given again).
const BUDGET: [&str; 3] = ["epochs", "minutes", "steps"];
/// How a run is run, not what it is: always this command line's (default or
/// given), so a run resumes on any backend and any number of workers.
const HOW_IT_RUNS: [&str; 2] = ["backend", "workers"];
/// Flags that are not part of a run's configuration.
const NOT_SAVED: [&str; 2] = ["root", "resume"];

impl TrainFlags {
    /// Checks the values a user can get wrong; the error names the flag.
    pub fn validate(&self) -> Result<(), TrainError> {
        check::sizes(&[
            ("epochs", self.epochs),
            ("batch", self.batch),
            ("workers", self.workers),
        ])?;
        // An lr of 0 is allowed: it evaluates given weights (`--init`).
        check::non_negative("lr", self.lr)?;
        check::positive("lr-decay", self.lr_decay)?;
        check::non_negative("minutes", self.minutes)?;
        check::non_negative("clip", f64::from(self.clip))?;
        if self.batch < self.workers {
            return Err(TrainError::flag(
                "batch",
                format!(
                    "{} is fewer samples than --workers {}: every worker needs a share",
                    self.batch, self.workers
                ),
            ));
        }
        Ok(())
    }

    /// The learning rate of `epoch` (from 1): `lr * lr_decay^(epoch - 1)`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.lr * self.lr_decay.powi(epoch.saturating_sub(1) as i32)
    }
}

/// The checks of flag values that every app's configuration uses, so that a
/// size of 0 or a rate out of range is one line naming the flag (given
/// without its dashes), before anything is read or written.
pub mod check {
    use crate::TrainError;

    /// Each `(flag, value)` is at least 1: layer sizes, counts.
    pub fn sizes(sizes: &[(&str, usize)]) -> Result<(), TrainError> {
        match sizes.iter().find(|(_, value)| *value == 0) {
            Some((flag, _)) => Err(TrainError::flag(flag, "must be at least 1, got 0")),
            None => Ok(()),
        }
    }

    /// A finite number above 0.
    pub fn positive(flag: &str, value: f64) -> Result<(), TrainError> {
        in_range(flag, value, value > 0.0, "a positive number")
    }

    /// A finite number, 0 or above.
    pub fn non_negative(flag: &str, value: f64) -> Result<(), TrainError> {
        in_range(flag, value, value >= 0.0, "0 or a positive number")
    }

    /// A probability: in [0, 1].
    pub fn probability(flag: &str, value: f64) -> Result<(), TrainError> {
        in_range(flag, value, (0.0..=1.0).contains(&value), "in [0, 1]")
    }

    /// A dropout rate: in [0, 1) (a rate of 1 drops everything).
    pub fn dropout(flag: &str, value: f64) -> Result<(), TrainError> {
        in_range(flag, value, (0.0..1.0).contains(&value), "in [0, 1)")
    }

    /// A share of the data that leaves some on either side: in (0, 1).
    pub fn share(flag: &str, value: f64) -> Result<(), TrainError> {
        in_range(flag, value, value > 0.0 && value < 1.0, "in (0, 1)")
    }

    fn in_range(flag: &str, value: f64, ok: bool, what: &str) -> Result<(), TrainError> {
        if value.is_finite() && ok {
            Ok(())
        } else {
            Err(TrainError::flag(
                flag,
                format!("must be {what}, got {value}"),
            ))
        }
    }

    /// `--min-count` left words in a vocabulary of `words` entries besides
    /// its `specials` (padding, start, end, unknown).
    pub fn vocabulary(min_count: u64, words: usize, specials: usize) -> Result<(), TrainError> {
        if words > specials {
            Ok(())
        } else {
            Err(TrainError::flag(
                "min-count",
                format!("{min_count} leaves no word of the training data in the vocabulary"),
            ))
        }
    }
}

/// An app's own defaults for the shared flags (the rest keep
/// [`TrainFlags`]' own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// `--epochs`.
    pub epochs: usize,
    /// `--batch`.
    pub batch: usize,
    /// `--lr`.
    pub lr: f64,
    /// `--lr-decay`.
    pub lr_decay: f64,
    /// `--clip`.
    pub clip: f32,
}

impl Defaults {
    /// `command` with these defaults on its `train` subcommand's flags, so
    /// that `--help` shows them and parsing uses them.
    pub fn apply(&self, command: Command) -> Command {
        command.mut_subcommand("train", |train| {
            train
                .mut_arg("epochs", |a| a.default_value(self.epochs.to_string()))
                .mut_arg("batch", |a| a.default_value(self.batch.to_string()))
                .mut_arg("lr", |a| a.default_value(self.lr.to_string()))
                .mut_arg("lr_decay", |a| a.default_value(self.lr_decay.to_string()))
                .mut_arg("clip", |a| a.default_value(self.clip.to_string()))
        })
    }
}

/// An app's `main`: parses the command line (`C`, whose `train`
/// subcommand flattens [`TrainFlags`], with `defaults` applied) and runs
/// `command` with the parsed command and the `train` subcommand's matches
/// (for [`RunConfig::resolve`]; the top level's for other subcommands).
/// The subcommand's `--backend`, if it has one, becomes burn's default
/// device ([`Backend::make_default`](crate::Backend::make_default)).
/// An error is printed as one `error:` line and the process exits with 1.
pub fn run_cli<C: clap::Parser>(
    defaults: &Defaults,
    command: impl FnOnce(C, &ArgMatches) -> Result<(), crate::AppError>,
) {
    let matches = defaults.apply(C::command()).get_matches();
    if let Some((_, command)) = matches.subcommand()
        && let Ok(Some(&backend)) = command.try_get_one::<crate::Backend>("backend")
    {
        backend.make_default();
    }
    let result = C::from_arg_matches(&matches)
        .map_err(Into::into)
        .and_then(|cli| {
            let train = matches.subcommand_matches("train").unwrap_or(&matches);
            command(cli, train)
        });
    crate::exit_on_error(result);
}

/// The configuration a `train` command runs with: the one given on the
/// command line for a new run, or the resumed run's saved one with the
/// changes `--resume` allows.
#[derive(Debug)]
pub struct RunConfig<C> {
    /// The app's whole configuration.
    pub config: C,
    /// The run folder being resumed, `None` for a new run.
    pub resumed: Option<RunDir>,
}

/// An app's whole configuration: its own flags and the common ones.
pub trait AppConfig: Serialize + DeserializeOwned {
    /// The common flags in it.
    fn train_flags(&self) -> &TrainFlags;

    /// Checks the app's own sizes, counts and rates (with
    /// [`check`]'s functions); the common ones are checked beside it.
    fn validate(&self) -> Result<(), TrainError>;
}

impl<C: AppConfig> RunConfig<C> {
    /// Resolves `given` (parsed from `matches`, the `train` subcommand's
    /// matches) against the run of `system` in its `--resume`, if any, and
    /// checks the result ([`AppConfig::validate`], [`TrainFlags::validate`]),
    /// all before anything is read or written.
    ///
    /// A resumed run keeps its saved configuration, with `--backend` and
    /// `--workers` of this command line (given or default) and `--epochs`,
    /// `--minutes` and `--steps` if given here; any other flag given here must equal
    /// the saved value, or [`TrainError::Flag`] names it. `train` flags are the
    /// configuration's fields, spelled with `-` for `_`.
    pub fn resolve(
        system: &str,
        given: C,
        matches: &ArgMatches,
    ) -> Result<RunConfig<C>, TrainError> {
        let resolved = Self::resolve_resume(system, given, matches)?;
        resolved.config.validate()?;
        resolved.config.train_flags().validate()?;
        Ok(resolved)
    }

    fn resolve_resume(
        system: &str,
        given: C,
        matches: &ArgMatches,
    ) -> Result<RunConfig<C>, TrainError> {
        let Some(path) = given.train_flags().resume.clone() else {
            return Ok(RunConfig {
                config: given,
                resumed: None,
            });
        };
        let run = RunDir::open(&path, system)?;
        let config_path = run.config();
        let mut saved: Value = run.read_config()?;
        let given = serde_json::to_value(&given).map_err(TrainError::json(&config_path))?;
        let (Value::Object(saved_fields), Value::Object(given_fields)) = (&mut saved, &given)
        else {
            return Err(TrainError::flag(
                "resume",
                "the configuration is not a table",
            ));
        };
        for id in HOW_IT_RUNS {
            if let Some(value) = given_fields.get(id) {
                saved_fields.insert(id.to_string(), value.clone());
            }
        }
        for id in matches.ids().map(|id| id.as_str()) {
            let given_here = matches.value_source(id) == Some(ValueSource::CommandLine);
            if !given_here || NOT_SAVED.contains(&id) || HOW_IT_RUNS.contains(&id) {
                continue;
            }
            // Argument groups (a flattened struct's name) have no value.
            let Some(value) = given_fields.get(id) else {
                continue;
            };
            if BUDGET.contains(&id) {
                saved_fields.insert(id.to_string(), value.clone());
            } else if saved_fields.get(id) != Some(value) {
                let was = saved_fields
                    .get(id)
                    .map_or_else(|| "nothing".to_string(), Value::to_string);
                return Err(TrainError::flag(
                    &id.replace('_', "-"),
                    format!(
                        "is {value} but the resumed run {} has {was}; only --epochs, --minutes, \
                         --steps, --backend and --workers may change on --resume",
                        run.path().display()
                    ),
                ));
            }
        }
        let config = serde_json::from_value(saved).map_err(TrainError::json(&config_path))?;
        Ok(RunConfig {
            config,
            resumed: Some(run),
        })
    }
}
