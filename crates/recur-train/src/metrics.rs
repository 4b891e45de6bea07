//! `metrics.csv`: one row per evaluation, a fixed header chosen by the caller.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::TrainError;

/// An append-only CSV of numbers with a fixed header, flushed after every
/// row so a killed run loses nothing already logged.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    columns: Vec<String>,
    file: File,
}

impl MetricsLog {
    /// Opens `path` for appending rows under `columns` (e.g.
    /// `["epoch", "step", "train_loss", "valid_loss"]`).
    ///
    /// A new or empty file gets the header. An existing file (a resumed run)
    /// keeps its rows, and its header must equal `columns`, or
    /// [`TrainError::Header`] names the file. A half-written last row (a run
    /// killed while writing it) is dropped.
    pub fn open(path: impl AsRef<Path>, columns: &[&str]) -> Result<MetricsLog, TrainError> {
        let path = path.as_ref().to_path_buf();
        let header = columns.join(",");
        let existing = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(TrainError::Io { path, source }),
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(TrainError::io(&path))?;
        if existing.is_empty() {
            writeln!(file, "{header}").map_err(TrainError::io(&path))?;
        } else {
            let found = existing.lines().next().unwrap_or("").trim_end();
            if found != header {
                return Err(TrainError::Header {
                    path,
                    expected: header,
                    found: found.to_string(),
                });
            }
            if !existing.ends_with('\n') {
                match existing.rfind('\n') {
                    // a run killed mid-row: drop the half row
                    Some(end) => file
                        .set_len(end as u64 + 1)
                        .map_err(TrainError::io(&path))?,
                    // only the header, unterminated: end it
                    None => writeln!(file).map_err(TrainError::io(&path))?,
                }
            }
        }
        file.flush().map_err(TrainError::io(&path))?;
        Ok(MetricsLog {
            path,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            file,
        })
    }

    /// Appends one row (one value per column, in header order) and flushes
    /// it. NaN and infinities are written as `NaN`, `inf`, `-inf`.
    pub fn append(&mut self, row: &[f64]) -> Result<(), TrainError> {
        if row.len() != self.columns.len() {
            return Err(TrainError::RowLength {
                path: self.path.clone(),
                expected: self.columns.len(),
                found: row.len(),
            });
        }
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        writeln!(self.file, "{}", line.join(",")).map_err(TrainError::io(&self.path))?;
        self.file.flush().map_err(TrainError::io(&self.path))
    }

    /// The CSV file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header's columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
}

/// The contents of a metrics CSV, as read back by [`read_metrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// The header's columns.
    pub columns: Vec<String>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<f64>>,
}

impl Metrics {
    /// The values of column `name`, one per row, or `None` if there is no
    /// such column.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[i]).collect())
    }

    /// `(x, y)` pairs of two columns, e.g. `("epoch", "valid_loss")` for
    /// [`plot::line_chart`](crate::plot::line_chart); `None` if either column
    /// is missing.
    pub fn points(&self, x: &str, y: &str) -> Option<Vec<(f64, f64)>> {
        let xs = self.column(x)?;
        let ys = self.column(y)?;
        Some(xs.into_iter().zip(ys).collect())
    }
}

/// Reads a metrics CSV written by [`MetricsLog`]. Empty lines and a last
/// line without its newline (half a row from a killed run) are skipped; any
/// other malformed line is a [`TrainError::Csv`] naming the file and line.
pub fn read_metrics(path: impl AsRef<Path>) -> Result<Metrics, TrainError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(TrainError::io(path))?;
    let mut lines = text.lines();
    let columns: Vec<String> = match lines.next() {
        Some(h) if !h.trim().is_empty() => h.trim_end().split(',').map(str::to_string).collect(),
        _ => {
            return Err(TrainError::Csv {
                path: path.to_path_buf(),
                line: 1,
                message: "no header".into(),
            });
        }
    };
    let complete = text.ends_with('\n');
    let all: Vec<&str> = lines.collect();
    let mut rows = Vec::with_capacity(all.len());
    for (i, line) in all.iter().enumerate() {
        let number = i + 2;
        let last = i + 1 == all.len();
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<Vec<f64>, String> = line
            .trim_end()
            .split(',')
            .map(|v| v.parse::<f64>().map_err(|_| format!("not a number: `{v}`")))
            .collect();
        if last && !complete {
            continue; // half a row from a killed run
        }
        let bad = match parsed {
            Ok(row) if row.len() == columns.len() => {
                rows.push(row);
                continue;
            }
            Ok(row) => format!("{} values, header has {} columns", row.len(), columns.len()),
            Err(message) => message,
        };
        return Err(TrainError::Csv {
            path: path.to_path_buf(),
            line: number,
            message: bad,
        });
    }
    Ok(Metrics { columns, rows })
}
