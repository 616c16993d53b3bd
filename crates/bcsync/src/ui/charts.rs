//! The charts page: server-rendered SVG (no script) of the recent runs — requests per
//! minute against the store's quota, records per run, rejected rows per run — and of
//! `listen`'s end-to-end latency (the store's event time to the rows committed) read from
//! the inbox beside a SQLite destination.

use std::fmt::Write;

use super::html::esc;
use crate::state::push::RunRecord;

/// One bar: what it stands for, its value, where a click leads.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub href: Option<String>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 48.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 20.0;

/// A bar chart as inline SVG, with an optional dashed reference line (`(value, label)`):
/// every bar has a tooltip with its label and value; an empty series says so.
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar], line: Option<(f64, &str)>) -> String {
    let mut out = format!(
        "<figure class=\"chart\"><figcaption>{}</figcaption>",
        esc(title)
    );
    if bars.is_empty() {
        out.push_str("<p class=\"empty\">Nothing to show yet.</p></figure>");
        return out;
    }
    let top_value = bars
        .iter()
        .map(|b| b.value)
        .chain(line.map(|(v, _)| v))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.1;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h - v / top_value * plot_h;
    let step = plot_w / bars.len() as f64;
    // Narrow bars even when there are few, so one run does not fill the chart.
    let bar_w = (step * 0.8).clamp(1.0, 36.0);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\"/>\
         <text class=\"tick\" x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{}</text>\
         <text class=\"tick\" x=\"{tx}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        esc(title),
        short(top_value),
        base = TOP + plot_h,
        right = WIDTH - 8.0,
        tx = LEFT - 4.0,
        ty = TOP + 8.0,
    );
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + i as f64 * step + (step - bar_w) / 2.0;
        let top = y(b.value.max(0.0));
        let rect = format!(
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\">\
             <title>{}: {} {}</title></rect>",
            (TOP + plot_h - top).max(0.0),
            esc(&b.label),
            short(b.value),
            esc(unit)
        );
        match &b.href {
            Some(href) => {
                let _ = write!(out, "<a href=\"{}\">{rect}</a>", esc(href));
            }
            None => out.push_str(&rect),
        }
    }
    if let Some((v, label)) = line {
        let ly = y(v);
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{LEFT}\" y1=\"{ly:.1}\" x2=\"{}\" y2=\"{ly:.1}\"/>\
             <text class=\"tick limit-label\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text>",
            WIDTH - 8.0,
            WIDTH - 10.0,
            ly - 3.0,
            esc(label),
            short(v)
        );
    }
    let _ = write!(
        out,
        "</svg><p class=\"meta\">{}: oldest on the left; hover a bar for its value.</p></figure>",
        match bars.len() {
            1 => "1 bar".to_owned(),
            n => format!("{n} bars"),
        }
    );
    out
}

/// A value as a short label: `1.2k`, `35`, `3`, `0.4`.
fn short(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Records a run moved: every count but the rejected, invalid, unchanged and planned ones.
pub fn records_of(run: &RunRecord) -> u64 {
    run.counts
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "rejected" | "invalid" | "unchanged") && !k.starts_with("would_")
        })
        .map(|(_, v)| *v)
        .sum()
}

fn bar(run: &RunRecord, value: f64) -> Bar {
    Bar {
        label: format!("#{} {}", run.id, run.sync),
        value,
        href: Some(format!("/runs/{}", run.id)),
    }
}

/// The runs charts, from runs listed oldest first.
pub fn run_charts(runs: &[RunRecord]) -> String {
    let finished: Vec<&RunRecord> = runs.iter().filter(|r| !r.finished_at.is_empty()).collect();
    let rates: Vec<Bar> = finished
        .iter()
        .filter(|r| r.duration_ms > 0 && r.requests > 0)
        .map(|r| bar(r, r.requests as f64 * 60_000.0 / r.duration_ms as f64))
        .collect();
    // The quota line: the store's own figure from the newest run that heard it.
    let quota = finished.iter().rev().find_map(|r| r.quota_per_minute);
    let records: Vec<Bar> = finished
        .iter()
        .map(|r| bar(r, records_of(r) as f64))
        .collect();
    let rejected: Vec<Bar> = finished
        .iter()
        .map(|r| {
            let n = r
                .counts
                .get("rejected")
                .copied()
                .unwrap_or(r.rejected.len() as u64);
            bar(r, n as f64)
        })
        .collect();
    let mut out = bar_chart(
        "Requests per minute, per run",
        "requests/min",
        &rates,
        quota.map(|q| (q, "store quota/min")),
    );
    out.push_str(&bar_chart("Records per run", "records", &records, None));
    out.push_str(&bar_chart("Rejected rows per run", "rows", &rejected, None));
    out
}

/// `listen`'s end-to-end latencies in seconds (event created at the store → rows
/// committed), as percentiles and a histogram.
pub fn latency_chart(latencies: &[f64]) -> String {
    const BUCKETS: &[(f64, &str)] = &[
        (1.0, "< 1 s"),
        (2.0, "1–2 s"),
        (5.0, "2–5 s"),
        (10.0, "5–10 s"),
        (30.0, "10–30 s"),
        (60.0, "30–60 s"),
        (f64::INFINITY, "≥ 60 s"),
    ];
    let mut counts = vec![0u64; BUCKETS.len()];
    for l in latencies {
        let i = BUCKETS
            .iter()
            .position(|(upper, _)| l < upper)
            .unwrap_or(BUCKETS.len() - 1);
        counts[i] += 1;
    }
    let bars: Vec<Bar> = if latencies.is_empty() {
        Vec::new()
    } else {
        BUCKETS
            .iter()
            .zip(&counts)
            .map(|((_, label), n)| Bar {
                label: (*label).to_owned(),
                value: *n as f64,
                href: None,
            })
            .collect()
    };
    let mut out = bar_chart(
        "listen: store change to committed rows (events)",
        "events",
        &bars,
        None,
    );
    if !latencies.is_empty() {
        let mut sorted = latencies.to_vec();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        let _ = write!(
            out,
            "<p class=\"meta\" id=\"latency\">{} events: p50 {:.1} s, p95 {:.1} s, p99 {:.1} s \
             (the store stamps its events to the second).</p>",
            sorted.len(),
            pct(0.5),
            pct(0.95),
            pct(0.99)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: i64, requests: u64, ms: u64, counts: &[(&str, u64)]) -> RunRecord {
        RunRecord {
            id,
            sync: "crm".into(),
            finished_at: "2026-12-03T10:00:00Z".into(),
            requests,
            duration_ms: ms,
            counts: counts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            quota_per_minute: Some(300.0),
            ..RunRecord::default()
        }
    }

    #[test]
    fn records_leave_out_what_did_not_move() {
        let r = run(
            1,
            1,
            1,
            &[
                ("created", 3),
                ("updated", 2),
                ("unchanged", 9),
                ("rejected", 1),
            ],
        );
        assert_eq!(records_of(&r), 5);
    }

    #[test]
    fn bars_are_scaled_to_the_largest_and_carry_their_values() {
        let svg = bar_chart(
            "t",
            "u",
            &[
                Bar {
                    label: "a<b".into(),
                    value: 10.0,
                    href: None,
                },
                Bar {
                    label: "c".into(),
                    value: 5.0,
                    href: Some("/runs/2".into()),
                },
            ],
            Some((20.0, "quota")),
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("<title>a&lt;b: 10 u</title>"), "{svg}");
        assert!(svg.contains("<a href=\"/runs/2\">"));
        assert!(svg.contains("quota 20"));
        // The line sits above both bars: 20 is the largest value.
        assert!(svg.contains("class=\"limit\""));
    }

    #[test]
    fn run_charts_show_rates_against_the_quota() {
        // 120 requests in 30 s: 240 a minute, under a 300/min quota.
        let html = run_charts(&[run(1, 120, 30_000, &[("created", 7), ("rejected", 2)])]);
        assert!(
            html.contains("<title>#1 crm: 240 requests/min</title>"),
            "{html}"
        );
        assert!(html.contains("store quota/min 300"));
        assert!(html.contains("<title>#1 crm: 7 records</title>"));
        assert!(html.contains("<title>#1 crm: 2 rows</title>"));
    }

    #[test]
    fn latency_percentiles_and_buckets() {
        let html = latency_chart(&[0.5, 0.7, 1.5, 3.0, 12.0]);
        assert!(html.contains("5 events: p50 1.5 s"), "{html}");
        assert!(html.contains("<title>&lt; 1 s: 2 events</title>"), "{html}");
        assert!(html.contains("<title>≥ 60 s: 0 events</title>"));
        assert!(latency_chart(&[]).contains("Nothing to show yet"));
    }
}
