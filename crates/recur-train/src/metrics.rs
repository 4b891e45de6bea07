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

/// The fields of a metrics struct as `(name, value)` pairs, in the order of
/// its fields: numbers as they are, `None` (or JSON `null`) as NaN, `true`
/// and `false` as 1 and 0. Anything else (a string, a list) is a
/// [`TrainError::Csv`] naming `path`, the file the row is for.
pub fn row_values<R: serde::Serialize>(
    row: &R,
    path: &Path,
) -> Result<Vec<(String, f64)>, TrainError> {
    let bad = |message: String| TrainError::Csv {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    // serde_json writes the fields in order; reading the text back as a
    // sequence of entries keeps it (its `Map` would sort them).
    let text = serde_json::to_string(row).map_err(|e| bad(e.to_string()))?;
    let OrderedRow(values) = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    Ok(values)
}

/// A flat JSON object of numbers, in the order of its entries.
struct OrderedRow(Vec<(String, f64)>);

impl<'de> serde::Deserialize<'de> for OrderedRow {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = OrderedRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a struct of numbers")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedRow, A::Error> {
                let mut values = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                    let number = match &value {
                        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                        serde_json::Value::Null => f64::NAN,
                        serde_json::Value::Bool(b) => f64::from(u8::from(*b)),
                        other => {
                            return Err(serde::de::Error::custom(format!(
                                "metric `{name}` is {other}, not a number"
                            )));
                        }
                    };
                    values.push((name, number));
                }
                Ok(OrderedRow(values))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// Appends one row of `(column, value)` pairs to the metrics CSV at `path`,
/// whose header is the row's columns (written if the file is new, checked
/// if not).
pub fn write_row(path: &Path, row: &[(String, f64)]) -> Result<(), TrainError> {
    let columns: Vec<&str> = row.iter().map(|(name, _)| name.as_str()).collect();
    let values: Vec<f64> = row.iter().map(|&(_, value)| value).collect();
    MetricsLog::open(path, &columns)?.append(&values)
}
