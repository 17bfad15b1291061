//! Live progress: an indicatif bar on a terminal, a plain line every few seconds
//! otherwise (CI logs).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::WorkloadMeasured;
use crate::plan::Plan;
use crate::units::fmt_ns as ns;

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    Lines,
}

pub struct Progress {
    style: Option<Style>,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    pub fn new(style: Option<Style>, plan: &Plan) -> Progress {
        let bar = (style == Some(Style::Bar)).then(|| {
            let b = ProgressBar::new(plan.duration_ns / 1_000_000_000);
            b.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Progress {
            style,
            bar,
            last_line: Instant::now(),
        }
    }

    /// Called after each collected interval with the run time and the workloads so far.
    pub fn interval(&mut self, now_ns: u64, workloads: &[WorkloadMeasured], plan: &Plan) {
        let Some(style) = self.style else { return };
        let t = now_ns as f64 / 1e9;
        let msg: Vec<String> = plan
            .workloads
            .iter()
            .enumerate()
            .filter_map(|(w, wp)| {
                let p = workloads.get(w)?.timeline.last()?;
                Some(format!(
                    "{}: {:.0}/s p99 {}{} err {}{}",
                    wp.name,
                    p.achieved_rate,
                    ns(p.p99_ns),
                    if p.e2e_p99_ns > 0 {
                        format!(" e2e p99 {}", ns(p.e2e_p99_ns))
                    } else {
                        String::new()
                    },
                    p.errors,
                    if p.warmup { " (warmup)" } else { "" }
                ))
            })
            .collect();
        match style {
            Style::Bar => {
                if let Some(b) = &self.bar {
                    b.set_position(t as u64);
                    b.set_message(msg.join(" | "));
                }
            }
            Style::Lines => {
                if self.last_line.elapsed() >= Duration::from_secs(5) {
                    self.last_line = Instant::now();
                    eprintln!("[{t:>7.1}s] {}", msg.join(" | "));
                }
            }
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
