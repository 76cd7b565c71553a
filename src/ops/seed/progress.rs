//! Progress of a volume seed: a bar on a terminal, plain lines otherwise (logs, CI),
//! both on stderr so stdout keeps only the result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is written at most.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// A progress display counting tenants.
pub enum Progress {
    Bar(ProgressBar),
    Lines { total: u64, last: Option<Instant> },
}

impl Progress {
    /// A bar when stderr is a terminal, else plain lines.
    pub fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} tenants, {msg} ({eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines { total, last: None }
        }
    }

    /// Shows `done` tenants and `detail` (the rows so far); a plain line is written at
    /// most every two seconds, and always for the last tenant.
    pub fn update(&mut self, done: u64, detail: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(detail.to_string());
            }
            Progress::Lines { total, last } => {
                let due = last.is_none_or(|t| t.elapsed() >= LINE_EVERY);
                if due || done == *total {
                    eprintln!("seed: {done}/{total} tenants, {detail}");
                    *last = Some(Instant::now());
                }
            }
        }
    }

    /// Leaves the bar at its final state.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish();
        }
    }
}
