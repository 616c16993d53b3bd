//! Progress display: a bar per stream (records, requests, quota left) on a terminal, plain
//! log lines otherwise. Everything goes to stderr; stdout is for data.

use std::time::Duration;

use bigcommerce::Client;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::StreamSummary;

/// The run's progress display.
#[derive(Debug, Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal and `enabled`, log lines otherwise.
    pub fn new(enabled: bool) -> Self {
        use std::io::IsTerminal;
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { multi }
    }

    /// No output at all (tests, Singer mode's quiet runs).
    pub fn hidden() -> Self {
        Self { multi: None }
    }

    pub fn stream(&self, name: &'static str) -> StreamBar {
        let bar = self.multi.as_ref().map(|m| {
            let pb = m.add(ProgressBar::new_spinner());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {prefix:>26} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_prefix(name);
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        StreamBar { name, bar }
    }
}

/// One stream's line.
#[derive(Debug)]
pub struct StreamBar {
    name: &'static str,
    bar: Option<ProgressBar>,
}

fn quota(client: &Client) -> String {
    let rl = client.rate_limit();
    quota_text(rl.left, rl.quota)
}

/// The quota part of a progress line. Says "left": `0/150` alone reads as "none used".
fn quota_text(left: Option<u32>, quota: Option<u32>) -> String {
    match (left, quota) {
        (Some(l), Some(q)) => format!("quota left {l}/{q}"),
        _ => "quota left -".into(),
    }
}

impl StreamBar {
    pub fn update(&self, s: &StreamSummary, client: &Client) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "{} records, {} child rows, {} pages, {}",
                s.records,
                s.child_rows,
                s.pages,
                quota(client)
            ));
        }
    }

    pub fn finish(&self, s: &StreamSummary, client: &Client) {
        match &self.bar {
            Some(b) => b.finish_with_message(format!(
                "done: {} records, {} child rows, {} requests, {:.1}s, {}",
                s.records,
                s.child_rows,
                s.requests,
                s.duration.as_secs_f64(),
                quota(client)
            )),
            None => tracing::info!(
                stream = self.name,
                records = s.records,
                child_rows = s.child_rows,
                requests = s.requests,
                seconds = format!("{:.2}", s.duration.as_secs_f64()),
                "stream done"
            ),
        }
    }

    pub fn fail(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.abandon_with_message(format!("FAILED: {msg}")),
            None => tracing::error!(stream = self.name, "{msg}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_reads_as_remaining() {
        assert_eq!(quota_text(Some(0), Some(150)), "quota left 0/150");
        assert_eq!(quota_text(Some(149), Some(150)), "quota left 149/150");
        assert_eq!(quota_text(None, None), "quota left -");
    }
}
