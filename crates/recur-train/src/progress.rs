//! A progress line on stderr for long loops, without external crates.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A progress bar on stderr:
/// `epoch 3/10 [#######.....] 1234/5000 loss 1.234 2,345 tok/s eta 1m02s`.
///
/// On a terminal it redraws one line with `\r` at most about ten times a
/// second; when stderr is not a terminal (a log file, CI) it prints a plain
/// line every `every_percent` percent instead.
#[derive(Debug)]
pub struct Progress {
    epoch: Option<(usize, usize)>,
    total: u64,
    done: u64,
    items: u64,
    unit: String,
    loss: Option<f64>,
    start: Instant,
    last_draw: Option<Instant>,
    terminal: bool,
    every_percent: u64,
    next_percent: u64,
    bar_width: usize,
}

impl Progress {
    /// A progress bar over `total` steps; the rate is counted in `unit`
    /// (e.g. `tok/s`, `seq/s`) from the items passed to [`Progress::update`].
    pub fn new(total: u64, unit: &str) -> Progress {
        Progress {
            epoch: None,
            total,
            done: 0,
            items: 0,
            unit: unit.to_string(),
            loss: None,
            start: Instant::now(),
            last_draw: None,
            terminal: std::io::stderr().is_terminal(),
            every_percent: 10,
            next_percent: 0,
            bar_width: 30,
        }
    }

    /// Shows `epoch <epoch>/<epochs>` in front of the bar.
    pub fn with_epoch(mut self, epoch: usize, epochs: usize) -> Progress {
        self.epoch = Some((epoch, epochs));
        self
    }

    /// When stderr is not a terminal, print a line every `percent` percent
    /// (default 10; clamped to 1..=100).
    pub fn with_every_percent(mut self, percent: u64) -> Progress {
        self.every_percent = percent.clamp(1, 100);
        self
    }

    /// Records that `steps` more steps are done, covering `items` more items
    /// (tokens, sequences) for the rate, with the latest loss if any, and
    /// redraws if it is time to.
    pub fn update(&mut self, steps: u64, items: u64, loss: Option<f64>) {
        self.done = self.done.saturating_add(steps);
        self.items += items;
        if loss.is_some() {
            self.loss = loss;
        }
        let now = Instant::now();
        if self.terminal {
            let due = self
                .last_draw
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(100));
            if due || self.done >= self.total {
                self.last_draw = Some(now);
                let line = self.line(now);
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{line}\x1b[K");
                let _ = err.flush();
            }
        } else {
            let percent = percent(self.done, self.total);
            if percent >= self.next_percent {
                self.next_percent = (percent / self.every_percent + 1) * self.every_percent;
                eprintln!("{}", self.line(now));
            }
        }
    }

    /// Ends the bar: draws the final state and moves to a new line.
    pub fn finish(&mut self) {
        let line = self.line(Instant::now());
        if self.terminal {
            eprintln!("\r{line}\x1b[K");
        } else if self.next_percent <= 100 {
            eprintln!("{line}");
        }
        self.next_percent = u64::MAX;
    }

    /// The line as it would be drawn now.
    pub fn line(&self, now: Instant) -> String {
        let elapsed = now.duration_since(self.start).as_secs_f64();
        let rate = if elapsed > 0.0 {
            self.items as f64 / elapsed
        } else {
            0.0
        };
        let eta = if self.done > 0 && self.done < self.total {
            let per_step = elapsed / self.done as f64;
            Some(Duration::from_secs_f64(
                per_step * (self.total - self.done) as f64,
            ))
        } else {
            None
        };
        format_line(&LineParts {
            epoch: self.epoch,
            done: self.done,
            total: self.total,
            loss: self.loss,
            rate,
            unit: &self.unit,
            eta,
            bar_width: self.bar_width,
        })
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done.min(total) * 100).checked_div(total).unwrap_or(100)
}

/// Everything a progress line shows; see [`format_line`].
#[derive(Debug, Clone, PartialEq)]
pub struct LineParts<'a> {
    /// `(epoch, epochs)`, shown as `epoch 3/10`.
    pub epoch: Option<(usize, usize)>,
    /// Steps done.
    pub done: u64,
    /// Steps in all.
    pub total: u64,
    /// The latest loss.
    pub loss: Option<f64>,
    /// Items per second.
    pub rate: f64,
    /// The rate's unit, e.g. `tok/s`.
    pub unit: &'a str,
    /// Time left, if known.
    pub eta: Option<Duration>,
    /// Characters inside the bar's brackets.
    pub bar_width: usize,
}

/// Formats a progress line:
/// `epoch 3/10 [#######.....] 1234/5000 loss 1.234 2,345 tok/s eta 1m02s`.
pub fn format_line(parts: &LineParts<'_>) -> String {
    let mut line = String::new();
    if let Some((epoch, epochs)) = parts.epoch {
        line.push_str(&format!("epoch {epoch}/{epochs} "));
    }
    line.push_str(&format_bar(parts.done, parts.total, parts.bar_width));
    line.push_str(&format!(" {}/{}", parts.done, parts.total));
    if let Some(loss) = parts.loss {
        line.push_str(&format!(" loss {loss:.3}"));
    }
    line.push_str(&format!(
        " {} {}",
        format_count(parts.rate.max(0.0).round() as u64),
        parts.unit
    ));
    if let Some(eta) = parts.eta {
        line.push_str(&format!(" eta {}", format_duration(eta)));
    }
    line
}

/// `[#######.....]`: `width` characters, `#` for the part done.
pub fn format_bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        ((done.min(total) as u128 * width as u128) / total as u128) as usize
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// An integer with thousands separators: `2345` → `2,345`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as `42s`, `1m02s` or `3h04m05s` (whole seconds, rounded).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}
