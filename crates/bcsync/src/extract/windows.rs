//! Incremental list reads split into date windows read in parallel.
//!
//! A real store answers a page in hundreds of milliseconds; a keyset read (the module header
//! of `extract`) can only ask for its next page once the previous one is in, so one read
//! at a time leaves most of the quota unused. Here the range still to read,
//! `[bookmark, ∞)`, is cut into windows `[start_i, start_i+1)` (the last one open-ended),
//! and each window is a keyset read of its own: `date >= its bookmark`, `date <= its end
//! less a second` (the `:max` filters are inclusive and dates have whole seconds), sorted
//! ascending, ids already committed at its bookmark second skipped. So each window is
//! exact for the same reasons the single read is.
//!
//! - **Committed as they arrive.** Each page is written with the state of every window
//!   (`StreamState::windows`), so a run that resumes after a crash continues each window
//!   from its own committed cursor. The state's own `bookmark` is the first unfinished
//!   window's cursor: everything before it is committed, so anything that reads the
//!   bookmark alone (the dashboard's lag, an older binary) resumes correctly, only
//!   re-reading more. When every window is done the state is the last window's cursor
//!   again, as after a single read.
//! - **Records modified during the run** move to a date after the run began, which is in
//!   the open-ended last window: read there, or by the next run. No window's range is
//!   skipped by a move, because a window's result set only loses records (to the end).
//! - **Windows are cut as the read goes** ([`cut_points`], a pure function): after a full
//!   page of a window whose bookmark moved, the window's remaining range divided by the
//!   range that page covered estimates the pages left; while fewer windows run than
//!   `ExtractOptions::window_concurrency` (by default the client's in-flight limit, which
//!   follows the latency and the quota), the rest is cut into that many parts at most. A
//!   read that fits in one page never cuts; a cut costs at most one request (the new
//!   window's short last page). A window whose page shared one second throughout is not
//!   cut: its next request continues that second by offset.
//! - **The pacer stays the authority** on requests on the wire: windows only offer work.
//!
//! Cursor-paged lists (customers) are read here by `page` like the others: a keyset query
//! restarts at page 1 from the newest bookmark after each page, so offsets never grow deep,
//! which is what cursors are for (docs/api-notes.md §0.4).

use std::sync::Arc;

use bigcommerce::{ApiVersion, Client, DeferredPage, Page};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use super::{
    CURRENT_STREAM, ExtractOptions, ReadRecord, StreamSummary, channels, emit_into,
    format_bookmark, incremental_params, progress, scoped_query,
};
use crate::destinations::{DestinationWriter, PageBatch};
use crate::error::{Error, Result};
use crate::state::{KeysetCursor, ReadWindow, StreamState};
use crate::streams::StreamDescriptor;

/// One window while the read runs.
#[derive(Debug)]
struct Window {
    /// Stable across cuts (positions move when windows are inserted).
    id: u64,
    start: Option<DateTime<Utc>>,
    cursor: KeysetCursor,
    /// The page to ask next from the cursor's bookmark: 1, except while a run of records
    /// sharing the bookmark second spans pages.
    page_no: u32,
    done: bool,
    in_flight: bool,
}

impl Window {
    fn saved(&self) -> ReadWindow {
        let st = self.cursor.state();
        ReadWindow {
            start: self.start,
            bookmark: st.bookmark,
            ids_at_bookmark: st.ids_at_bookmark.clone(),
            done: self.done,
        }
    }
}

/// The windows of one stream's read, in date order.
#[derive(Debug)]
struct Plan {
    windows: Vec<Window>,
    next_id: u64,
    /// Everything in the stream's state but the cursors (full-read start, channels...).
    template: StreamState,
    /// The store's clock (`GET /v2/time`) less [`CLOCK_MARGIN`], asked once, the first
    /// time the open-ended window could be cut. A record modified during the run is
    /// stamped by the store's clock, so cuts at or before it keep such a record in the
    /// open-ended window; our own clock may run ahead of the store's.
    store_clock: Option<DateTime<Utc>>,
    /// The open-ended window would be cut if the store's clock were known.
    wants_clock: bool,
}

/// Room for servers of one store whose clocks differ a little.
const CLOCK_MARGIN: ChronoDuration = ChronoDuration::seconds(60);

impl Plan {
    fn from_state(state: StreamState) -> Self {
        let mut template = state;
        let saved = std::mem::take(&mut template.windows);
        let windows: Vec<ReadWindow> = if saved.is_empty() {
            vec![ReadWindow {
                start: template.bookmark,
                bookmark: template.bookmark,
                ids_at_bookmark: template.ids_at_bookmark.clone(),
                done: false,
            }]
        } else {
            saved
        };
        template.bookmark = None;
        template.ids_at_bookmark.clear();
        let windows: Vec<Window> = windows
            .into_iter()
            .enumerate()
            .map(|(i, w)| Window {
                id: i as u64,
                start: w.start,
                cursor: KeysetCursor::new(StreamState {
                    bookmark: w.bookmark,
                    ids_at_bookmark: w.ids_at_bookmark,
                    ..StreamState::default()
                }),
                page_no: 1,
                done: w.done,
                in_flight: false,
            })
            .collect();
        let next_id = windows.len() as u64;
        Self {
            windows,
            next_id,
            template,
            store_clock: None,
            wants_clock: false,
        }
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.windows.iter().position(|w| w.id == id)
    }

    /// Where window `i` ends (exclusive): the next window's start.
    fn end_of(&self, i: usize) -> Option<DateTime<Utc>> {
        self.windows.get(i + 1).and_then(|w| w.start)
    }

    fn open_windows(&self) -> usize {
        self.windows.iter().filter(|w| !w.done).count()
    }

    /// The state to commit with a page: see the module header.
    fn state(&self) -> StreamState {
        let mut st = self.template.clone();
        let first_open = self.windows.iter().position(|w| !w.done);
        let (cursor_of, rest) = match first_open {
            // Every window is read: the last one's cursor is the stream's.
            None => (self.windows.last(), &[][..]),
            Some(i) => (self.windows.get(i), &self.windows[i..]),
        };
        if let Some(w) = cursor_of {
            let c = w.cursor.state();
            st.bookmark = c.bookmark.or(w.start);
            st.ids_at_bookmark = c.ids_at_bookmark.clone();
        }
        // One open-ended window left: the plain single-read state.
        if rest.len() > 1 {
            st.windows = rest.iter().map(Window::saved).collect();
        }
        st
    }

    /// Cuts window `i` (bookmark `from`, end `to`) at `points`, inserting the new windows
    /// after it.
    fn cut(&mut self, i: usize, points: &[DateTime<Utc>]) {
        for (k, p) in points.iter().enumerate() {
            let id = self.next_id;
            self.next_id += 1;
            self.windows.insert(
                i + 1 + k,
                Window {
                    id,
                    start: Some(*p),
                    cursor: KeysetCursor::new(StreamState {
                        bookmark: Some(*p),
                        ..StreamState::default()
                    }),
                    page_no: 1,
                    done: false,
                    in_flight: false,
                },
            );
        }
    }
}

/// Where to cut a window whose cursor stands at `from` and which ends at `to`, given that
/// its last full page covered `page_span` seconds, into at most `max_parts` parts (its own
/// first part included). Returns the new windows' starts, whole seconds strictly between
/// `from` and `to`, ascending; empty when fewer than two pages seem left.
pub(crate) fn cut_points(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    page_span: i64,
    max_parts: usize,
) -> Vec<DateTime<Utc>> {
    let left = (to - from).num_seconds();
    if left < 2 || max_parts < 2 {
        return Vec::new();
    }
    let pages_left = left / page_span.max(1);
    let parts = usize::try_from(pages_left)
        .unwrap_or(usize::MAX)
        .min(max_parts)
        .min(usize::try_from(left).unwrap_or(usize::MAX));
    if parts < 2 {
        return Vec::new();
    }
    let step = left / parts as i64;
    let mut points: Vec<DateTime<Utc>> = (1..parts as i64)
        .map(|k| from + ChronoDuration::seconds(step * k))
        .filter(|p| *p > from && *p < to)
        .collect();
    points.dedup();
    points
}

/// Reads an incremental V3 or V2 list in windows (see the module header), writing each
/// page with the state of every window.
#[allow(clippy::too_many_arguments)]
pub(super) async fn read_in_windows(
    client: &Client,
    stream: &'static StreamDescriptor,
    state: StreamState,
    writer: &DestinationWriter,
    options: &ExtractOptions,
    scope: &channels::ChannelScope,
    summary: &mut StreamSummary,
    bar: &progress::StreamBar,
) -> Result<()> {
    let Some((cursor_field, min_param, max_param, sort)) = incremental_params(stream) else {
        return Ok(());
    };
    let mut base = scoped_query(stream, scope);
    base.extend(sort.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let limit = stream.page_size;
    // Asked again for every page: the limit grows as the client learns the latency.
    let max_windows = || {
        options
            .window_concurrency
            .unwrap_or_else(|| client.in_flight_limit())
            .max(1)
    };
    let mut plan = Plan::from_state(state);
    plan.store_clock = options.store_clock.known().map(|c| c - CLOCK_MARGIN);
    // Answers wait here as bytes and are parsed one at a time as they are taken
    // (`DeferredPage`): with eight pages of 250 orders arriving together at a window's
    // start, parsed trees waiting their turn would hold several times the memory.
    let mut fetches: JoinSet<(u64, bigcommerce::Result<DeferredPage>)> = JoinSet::new();
    loop {
        // Every open window without a request on the wire asks for its next page.
        for i in 0..plan.windows.len() {
            let end = plan.end_of(i);
            let w = &mut plan.windows[i];
            if w.done || w.in_flight {
                continue;
            }
            w.in_flight = true;
            let mut q = base.clone();
            if let Some(b) = w.cursor.bookmark().or(w.start) {
                q.push((min_param.to_owned(), format_bookmark(b)));
            }
            if let Some(e) = end {
                q.push((
                    max_param.to_owned(),
                    format_bookmark(e - ChronoDuration::seconds(1)),
                ));
            }
            let (client, id, page_no) = (client.clone(), w.id, w.page_no);
            let fetch = async move {
                let page = client
                    .offset_page(stream.version, stream.path, &q, page_no, limit)
                    .await;
                (id, page)
            };
            fetches.spawn(CURRENT_STREAM.scope(stream.name, fetch));
        }
        let Some(joined) = fetches.join_next().await else {
            return Ok(());
        };
        let (id, page) = joined.map_err(|e| {
            Error::Internal(format!("{}: a page request task failed: {e}", stream.name))
        })?;
        let page = page?;
        let Some(i) = plan.position(id) else {
            continue;
        };
        // Parsed only once the writer has room (see `DestinationWriter::reserve`). The
        // one clock read below may hold that room for a request: once per run.
        let slot = writer.reserve().await?;
        // A destination that reads records from their text gets them so, never parsed
        // into values here (`streams::text`); a stream whose items split into rows is
        // parsed for the split.
        let mut batch = if writer.reads_text() && stream.rows.is_none() {
            let page = page.parse_text()?;
            let fresh = accept_page(
                &mut plan,
                i,
                page,
                limit,
                stream,
                cursor_field,
                max_windows(),
            )?;
            PageBatch::unparsed(stream, scope.retain(fresh), None)
        } else {
            let page = page.parse()?;
            let fresh = accept_page(
                &mut plan,
                i,
                page,
                limit,
                stream,
                cursor_field,
                max_windows(),
            )?;
            PageBatch::new(stream, scope.retain(fresh), Vec::new(), None)
        };
        if plan.wants_clock && plan.store_clock.is_none() {
            plan.store_clock = Some(options.store_clock.get(client).await? - CLOCK_MARGIN);
        }
        batch.state = Some(plan.state());
        summary.records += batch.record_count();
        emit_into(slot, batch, summary, bar, client);
    }
}

/// The store's clock for one run: given by the caller that already asked it (the commands
/// check the connection with `GET /v2/time` first, [`store_time`]), or asked once, by the
/// first window that needs it, and shared by every stream of the run (by everything
/// holding a clone: a later run with the same options cuts by that older reading, which
/// only makes its windows coarser, never its reads less exact).
#[derive(Debug, Clone, Default)]
pub struct StoreClock(Arc<OnceCell<DateTime<Utc>>>);

impl StoreClock {
    /// A clock already read (`None`: ask when needed).
    pub fn at(time: Option<DateTime<Utc>>) -> Self {
        Self(Arc::new(OnceCell::new_with(time)))
    }

    fn known(&self) -> Option<DateTime<Utc>> {
        self.0.get().copied()
    }

    /// `GET /v2/time` answers `{"time": <epoch seconds>}` (docs/api-notes.md §1).
    async fn get(&self, client: &Client) -> Result<DateTime<Utc>> {
        self.0
            .get_or_try_init(|| async {
                let resp = client.get(ApiVersion::V2, "/time", &[]).await?;
                store_time(&resp).ok_or_else(|| Error::Data {
                    stream: "store time".to_owned(),
                    detail: "GET /v2/time did not answer {\"time\": <epoch seconds>}; is the store URL right?"
                        .to_owned(),
                })
            })
            .await
            .copied()
    }
}

/// The time in an answer to `GET /v2/time`, which the commands ask before a run to check
/// the connection: passing it on saves the windows asking again.
pub fn store_time(resp: &bigcommerce::ApiResponse) -> Option<DateTime<Utc>> {
    resp.body
        .as_ref()
        .and_then(|b| b.get("time"))
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0))
}

/// Feeds one page to window `i`'s cursor, decides whether the window is done, and cuts it
/// when it has far to go and slots are free. Returns the page's new records.
fn accept_page<R: ReadRecord>(
    plan: &mut Plan,
    i: usize,
    page: Page<R>,
    limit: u32,
    stream: &StreamDescriptor,
    cursor_field: &str,
    max_windows: usize,
) -> Result<Vec<R>> {
    let end = plan.end_of(i);
    let w = &mut plan.windows[i];
    w.in_flight = false;
    let query_min = w.cursor.bookmark();
    // A short page is the last one whatever the metadata says (V2 has none:
    // docs/api-notes.md §12.2).
    let full = page.meta.has_more && page.items.len() as u32 >= limit;
    let mut fresh = Vec::with_capacity(page.items.len());
    let mut past_end = false;
    let (mut first, mut last) = (None, None);
    for r in page.items {
        let (id, modified) = r.position(stream.key, cursor_field, stream.name)?;
        first.get_or_insert(modified);
        last = Some(modified);
        // The next window's: a store that ignored the `:max` filter. Sorted ascending, so
        // this window has nothing further.
        if end.is_some_and(|e| modified >= e) {
            past_end = true;
            continue;
        }
        if w.cursor.observe(id, modified) {
            fresh.push(r);
        }
    }
    let moved = w.cursor.bookmark() != query_min;
    if full && !past_end {
        // Same bookmark as the query: every record of this page shared the bookmark
        // second, so the next records are further down the same result set.
        w.page_no = if moved { 1 } else { w.page_no + 1 };
    } else {
        w.done = true;
    }
    if !w.done
        && moved
        && let (Some(first), Some(last), Some(from)) = (first, last, w.cursor.bookmark())
    {
        // The open-ended window reaches to the store's clock or the newest date it has
        // shown: both only ever grow, so nothing modified later lands before a cut.
        let to = match (end, plan.store_clock) {
            (Some(e), _) => Some(e),
            (None, Some(clock)) => Some(clock.max(last)),
            (None, None) => None,
        };
        let free = max_windows.saturating_sub(plan.open_windows());
        match to {
            Some(to) => {
                let points = cut_points(from, to, (last - first).num_seconds(), free + 1);
                plan.cut(i, &points);
            }
            None => plan.wants_clock = free > 0,
        }
    }
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn cuts_only_what_seems_to_need_more_than_a_page() {
        // 1,000 s left, pages of 100 s: about ten pages, cut into four parts.
        assert_eq!(
            cut_points(t(0), t(1000), 100, 4),
            vec![t(250), t(500), t(750)]
        );
        // Less than two pages left: no cut.
        assert!(cut_points(t(0), t(150), 100, 4).is_empty());
        // No free slot.
        assert!(cut_points(t(0), t(1000), 100, 1).is_empty());
        // A page within one second: as many parts as seconds at most.
        assert_eq!(cut_points(t(0), t(3), 0, 8), vec![t(1), t(2)]);
    }

    fn plan_of(starts: &[i64], done: &[bool]) -> Plan {
        let state = StreamState {
            windows: starts
                .iter()
                .zip(done)
                .map(|(s, d)| ReadWindow {
                    start: Some(t(*s)),
                    bookmark: Some(t(*s)),
                    ids_at_bookmark: Vec::new(),
                    done: *d,
                })
                .collect(),
            full_read_started: Some("x".into()),
            ..StreamState::default()
        };
        Plan::from_state(state)
    }

    #[test]
    fn the_state_bookmark_is_the_first_open_window() {
        let plan = plan_of(&[0, 10, 20], &[true, false, false]);
        let st = plan.state();
        assert_eq!(st.bookmark, Some(t(10)));
        assert_eq!(st.windows.len(), 2);
        assert_eq!(st.full_read_started.as_deref(), Some("x"));
        // Round trip.
        let again = Plan::from_state(st.clone()).state();
        assert_eq!(again, st);
        // All done: the last window's cursor, no windows.
        let done = plan_of(&[0, 10, 20], &[true, true, true]).state();
        assert_eq!(done.bookmark, Some(t(20)));
        assert!(done.windows.is_empty());
    }

    /// A simulated store: records `(id, second)`, a page query answers those with
    /// `min <= date <= max` sorted by (date, id), offset by page.
    fn answer(
        records: &[(i64, i64)],
        min: Option<DateTime<Utc>>,
        max: Option<DateTime<Utc>>,
        page_no: u32,
        limit: u32,
    ) -> Page<Value> {
        let mut hits: Vec<&(i64, i64)> = records
            .iter()
            .filter(|(_, s)| min.is_none_or(|m| t(*s) >= m) && max.is_none_or(|m| t(*s) <= m))
            .collect();
        hits.sort_by_key(|(id, s)| (*s, *id));
        let skip = (page_no as usize - 1) * limit as usize;
        let items: Vec<Value> = hits
            .iter()
            .skip(skip)
            .take(limit as usize)
            .map(|(id, s)| {
                serde_json::json!({"id": id, "date_modified": bigcommerce::dates::format_iso(t(*s))})
            })
            .collect();
        let has_more = hits.len() > skip + items.len();
        Page {
            items,
            meta: bigcommerce::PageMeta {
                has_more,
                ..Default::default()
            },
        }
    }

    fn orders() -> &'static StreamDescriptor {
        crate::streams::find("orders").unwrap()
    }

    /// Drives the plan the way `read_in_windows` does, answering open windows in the
    /// order `picks` chooses, stopping ("crashing") after `crash_after` pages and resuming
    /// from the last committed state. Returns the ids written, in order.
    fn drive(
        records: &[(i64, i64)],
        picks: &[usize],
        crash_after: Option<usize>,
        max_windows: usize,
    ) -> (Vec<i64>, StreamState, usize) {
        let limit = 5;
        let mut most_windows = 1;
        let mut committed = StreamState::default();
        let mut written = Vec::new();
        let mut pages = 0usize;
        let mut pick = picks.iter().cycle();
        for attempt in 0..2 {
            let mut plan = Plan::from_state(committed.clone());
            loop {
                let open: Vec<usize> = (0..plan.windows.len())
                    .filter(|i| !plan.windows[*i].done)
                    .collect();
                if open.is_empty() {
                    break;
                }
                let i = open[pick.next().copied().unwrap_or(0) % open.len()];
                let end = plan.end_of(i);
                let w = &plan.windows[i];
                let page = answer(
                    records,
                    w.cursor.bookmark().or(w.start),
                    end.map(|e| e - ChronoDuration::seconds(1)),
                    w.page_no,
                    limit,
                );
                // Records as the text they arrived as, the way the SQLite path reads them:
                // positions come from the text.
                let page = Page {
                    items: page
                        .items
                        .iter()
                        .map(|v| serde_json::value::to_raw_value(v).unwrap())
                        .collect(),
                    meta: page.meta,
                };
                let fresh = accept_page(
                    &mut plan,
                    i,
                    page,
                    limit,
                    orders(),
                    "date_modified",
                    max_windows,
                )
                .unwrap();
                if plan.wants_clock && plan.store_clock.is_none() {
                    plan.store_clock = Some(t(410));
                }
                written.extend(fresh.iter().map(|r| {
                    crate::streams::text::TextRecord::of(r)
                        .unwrap()
                        .integer("id")
                        .unwrap()
                }));
                committed = plan.state();
                most_windows = most_windows.max(plan.open_windows());
                pages += 1;
                if attempt == 0 && crash_after == Some(pages) {
                    break;
                }
            }
            if attempt == 0 && crash_after.is_some_and(|c| pages >= c) {
                continue;
            }
            break;
        }
        (written, committed, most_windows)
    }

    #[test]
    fn a_long_read_is_cut_and_resumed_exactly() {
        let records: Vec<(i64, i64)> = (1..=100).map(|i| (i, i * 4 % 400)).collect();
        let (written, state, most) = drive(&records, &[3, 1, 4, 1, 5], Some(7), 4);
        assert_eq!(most, 4, "the read was cut into four windows");
        let mut got = written.clone();
        got.sort_unstable();
        assert_eq!(got, (1..=100).collect::<Vec<_>>());
        assert!(state.windows.is_empty());
    }

    proptest! {
        /// Whatever the order windows answer in, wherever the read is cut and whenever it
        /// crashes and resumes, every record is written exactly once and the final state
        /// is the single-read state at the newest record.
        #[test]
        fn every_record_once_in_any_order(
            secs in proptest::collection::vec(0i64..400, 0..120),
            picks in proptest::collection::vec(0usize..16, 1..40),
            crash_after in proptest::option::of(1usize..30),
            max_windows in 1usize..8,
        ) {
            let records: Vec<(i64, i64)> =
                secs.iter().enumerate().map(|(i, s)| (i as i64 + 1, *s)).collect();
            let (written, state, _) = drive(&records, &picks, crash_after, max_windows);
            let mut got = written.clone();
            got.sort_unstable();
            got.dedup();
            prop_assert_eq!(got.len(), written.len(), "a record was written twice");
            let mut want: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
            want.sort_unstable();
            prop_assert_eq!(got, want);
            prop_assert!(state.windows.is_empty());
            // The newest record's date, or the start of an empty last window after it.
            if let Some(n) = records.iter().map(|(_, s)| *s).max() {
                prop_assert!(state.bookmark.is_some_and(|b| b >= t(n) && b <= t(410)));
            }
        }
    }
}
