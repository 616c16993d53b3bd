//! JSON lines files, one per stream and child table (`DIR/customers.jsonl`, ...), plus
//! `DIR/_state.json`. Exactly-once across crashes: the state file records each data file's
//! committed length; lines are flushed before the state is atomically replaced, and on
//! start every file is cut back to its committed length, dropping a half-written page.
//! Files are append-only: a record updated later appears again (consumers keep the last
//! line per key).
//!
//! Every line carries `_bcsync_run`, the id of the run that wrote it (its start time, RFC
//! 3339 UTC with milliseconds). Full-table streams are re-read whole on every run, so each
//! run appends a complete snapshot; `_state.json` names, under `snapshots`, the run whose
//! snapshot of each full-table stream is the latest complete one (a run interrupted mid-way
//! never becomes current). The current brands are the lines of `brands.jsonl` whose
//! `_bcsync_run` equals `snapshots.brands`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Destination, PageBatch};
use crate::error::{Error, Result};
use crate::state::State;
use crate::streams::Replication;
use crate::streams::StreamDescriptor;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Committed {
    #[serde(flatten)]
    state: State,
    /// Committed byte length of each data file.
    #[serde(default)]
    lengths: BTreeMap<String, u64>,
    /// Full-table stream → the run whose snapshot is the latest complete one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    snapshots: BTreeMap<String, String>,
}

/// The key of the run id on every line.
pub const RUN_FIELD: &str = "_bcsync_run";

pub struct JsonlDestination {
    dir: PathBuf,
    files: BTreeMap<String, BufWriter<File>>,
    committed: Committed,
    /// This run's id (its start, RFC 3339 UTC, milliseconds), written on every line.
    run_id: String,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

impl JsonlDestination {
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let state_path = dir.join("_state.json");
        let committed = match std::fs::read_to_string(&state_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::UnreadableJsonlState {
                path: state_path.clone(),
                detail: crate::error::plain_serde_message(&e.to_string()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Committed::default(),
            Err(e) => return Err(io(&state_path)(e)),
        };
        let run_id = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ok(Self {
            dir,
            files: BTreeMap::new(),
            committed,
            run_id,
        })
    }

    fn open_table(&mut self, table: &str) -> Result<()> {
        let path = self.dir.join(format!("{table}.jsonl"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io(&path))?;
        // Cut off anything written after the last commit (a crash mid-page).
        let committed = self.committed.lengths.get(table).copied().unwrap_or(0);
        let len = file.metadata().map_err(io(&path))?.len();
        if len > committed {
            file.set_len(committed).map_err(io(&path))?;
        }
        self.files.insert(table.to_owned(), BufWriter::new(file));
        Ok(())
    }

    fn append(&mut self, table: &str, rows: &mut [Value]) -> Result<()> {
        let path = self.dir.join(format!("{table}.jsonl"));
        let Some(w) = self.files.get_mut(table) else {
            return Err(Error::Internal(format!(
                "JSON lines table {table} was written before it was prepared"
            )));
        };
        for r in rows {
            if let Some(obj) = r.as_object_mut() {
                obj.insert(RUN_FIELD.to_owned(), Value::String(self.run_id.clone()));
            }
            serde_json::to_writer(&mut *w, r).map_err(|e| io(&path)(e.into()))?;
            w.write_all(b"\n").map_err(io(&path))?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        for (table, w) in &mut self.files {
            let path = self.dir.join(format!("{table}.jsonl"));
            w.flush().map_err(io(&path))?;
            w.get_ref().sync_data().map_err(io(&path))?;
            let len = w.get_ref().metadata().map_err(io(&path))?.len();
            self.committed.lengths.insert(table.clone(), len);
        }
        let state_path = self.dir.join("_state.json");
        let tmp = self.dir.join("_state.json.tmp");
        let json = serde_json::to_vec_pretty(&self.committed).map_err(|e| Error::Encode {
            what: "the JSON lines commit file",
            detail: e.to_string(),
        })?;
        std::fs::write(&tmp, json).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &state_path).map_err(io(&state_path))
    }
}

impl Destination for JsonlDestination {
    fn describe(&self) -> String {
        format!("jsonl:{}", self.dir.display())
    }

    fn begin(&mut self, streams: &[&'static StreamDescriptor]) -> Result<()> {
        for s in streams {
            self.open_table(s.name)?;
            for c in s.children {
                self.open_table(c.name)?;
            }
        }
        Ok(())
    }

    fn load_state(&mut self) -> Result<State> {
        Ok(self.committed.state.clone())
    }

    fn write(&mut self, mut batch: PageBatch) -> Result<u64> {
        let children = batch.child_row_count();
        let write = || -> Result<()> {
            self.append(batch.stream.name, &mut batch.records)?;
            for c in &mut batch.children {
                self.append(c.table.name, &mut c.rows)?;
            }
            if let Some(s) = batch.state {
                self.committed
                    .state
                    .bookmarks
                    .insert(batch.stream.name.to_owned(), s);
            }
            self.commit()
        };
        write().map(|()| children)
    }

    fn reset_state(&mut self, stream: &str) -> Result<()> {
        self.committed.state.bookmarks.remove(stream);
        Ok(())
    }

    fn complete_read(
        &mut self,
        stream: &'static StreamDescriptor,
        _read_started: &str,
    ) -> Result<()> {
        // A full-table stream is read within one run: this run's lines are its snapshot.
        if stream.replication == Replication::FullTable {
            self.committed
                .snapshots
                .insert(stream.name.to_owned(), self.run_id.clone());
        }
        if let Some(s) = self.committed.state.bookmarks.get_mut(stream.name) {
            s.full_read_started = None;
        }
        self.commit()
    }

    fn finish(&mut self) -> Result<()> {
        self.commit()
    }
}
