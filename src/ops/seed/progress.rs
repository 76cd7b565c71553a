//! Progress of a long operator command (volume seed, tenant export and import): a bar
//! on a terminal, plain lines otherwise (logs, CI), both on stderr so stdout keeps only
//! the result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is written at most.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// A progress display counting `unit`s (tenants, rows), `label` naming the command.
pub enum Progress {
    Bar(ProgressBar),
    Lines {
        label: &'static str,
        unit: &'static str,
        total: Option<u64>,
        last: Option<Instant>,
    },
}

impl Progress {
    /// The volume seed's display: `total` tenants.
    pub fn new(total: u64) -> Self {
        Self::counting("seed", "tenants", Some(total))
    }

    /// A bar (a counter when `total` is unknown) when stderr is a terminal, else plain
    /// lines prefixed with `label`.
    pub fn counting(label: &'static str, unit: &'static str, total: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines {
                label,
                unit,
                total,
                last: None,
            };
        }
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::new(total),
                format!(
                    "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit}, {{msg}} ({{eta}} left)"
                ),
            ),
            None => (
                ProgressBar::new_spinner(),
                format!("{{elapsed_precise}} {{spinner}} {{pos}} {unit} {{msg}}"),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress::Bar(bar)
    }

    /// Shows `done` units and `detail`; a plain line is written at most every two
    /// seconds, and always for the last unit of a known total.
    pub fn update(&mut self, done: u64, detail: &str) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(detail.to_string());
            }
            Progress::Lines {
                label,
                unit,
                total,
                last,
            } => {
                let due = last.is_none_or(|t| t.elapsed() >= LINE_EVERY);
                if due || Some(done) == *total {
                    match total {
                        Some(total) => eprintln!("{label}: {done}/{total} {unit}, {detail}"),
                        None => eprintln!("{label}: {done} {unit}, {detail}"),
                    }
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

    /// Shows the final count (a plain line whenever the last was) and finishes.
    pub fn finish_at(&mut self, done: u64, detail: &str) {
        if let Progress::Lines { last, .. } = self {
            *last = None;
        }
        self.update(done, detail);
        self.finish();
    }
}
