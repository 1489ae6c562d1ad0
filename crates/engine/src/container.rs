//! One container in memory: its record behind an async lock (held by an operation for its
//! whole check-and-act), a watch channel of its state for waiters, and attach requests that
//! arrived before it started.

use crate::attach::PendingAttach;
use crate::record::{self, ContainerRecord};
use crate::status::Status;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, MutexGuard, watch};

/// What waiters watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Current state.
    pub status: Status,
    /// Last exit code.
    pub exit_code: i64,
    /// How many times the container exited (for `next-exit`).
    pub exits: u64,
    /// The container was removed.
    pub removed: bool,
}

/// A container handle shared by all operations on it.
pub struct Container {
    /// Its id.
    pub id: String,
    /// `containers/<id>/`.
    pub dir: PathBuf,
    record: Mutex<ContainerRecord>,
    watch: watch::Sender<Snapshot>,
    /// Attaches waiting for the first start.
    pub pending: std::sync::Mutex<Vec<PendingAttach>>,
    /// Bumped whenever a scheduled restart must be abandoned.
    pub restart_epoch: AtomicU64,
    /// The restart policy's current back-off in milliseconds (0 = none yet).
    pub backoff_ms: AtomicU64,
    /// State.Health while a healthcheck runs (None without one).
    pub health: std::sync::Mutex<Option<berth_api::container::Health>>,
}

impl Container {
    /// Wraps a loaded or new record.
    pub fn new(record: ContainerRecord, dir: PathBuf) -> Container {
        let snap = Snapshot {
            status: record.state.status,
            exit_code: record.state.exit_code,
            exits: 0,
            removed: false,
        };
        Container {
            id: record.id.clone(),
            dir,
            record: Mutex::new(record),
            watch: watch::channel(snap).0,
            pending: std::sync::Mutex::new(Vec::new()),
            restart_epoch: AtomicU64::new(0),
            backoff_ms: AtomicU64::new(0),
            health: std::sync::Mutex::new(None),
        }
    }

    /// Locks the record for a check-and-act.
    pub async fn lock(&self) -> MutexGuard<'_, ContainerRecord> {
        self.record.lock().await
    }

    /// Persists `rec` and publishes its state to waiters.
    pub fn commit(&self, rec: &ContainerRecord) -> std::io::Result<()> {
        self.commit_with(rec, true)
    }

    /// Like [`Container::commit`]; `durable` = false skips the fsync (transient states).
    pub fn commit_with(&self, rec: &ContainerRecord, durable: bool) -> std::io::Result<()> {
        let r = record::save_with(&self.dir, rec, durable);
        self.watch.send_modify(|s| {
            s.status = rec.state.status;
            s.exit_code = rec.state.exit_code;
        });
        r
    }

    /// Publishes an exit (after `commit`).
    pub fn note_exit(&self) {
        self.watch.send_modify(|s| s.exits += 1);
    }

    /// Publishes the removal.
    pub fn note_removed(&self) {
        self.watch.send_modify(|s| s.removed = true);
    }

    /// A receiver of state snapshots.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.watch.subscribe()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.watch.borrow().clone()
    }

    /// Cancels any scheduled restart.
    pub fn cancel_restart(&self) {
        self.restart_epoch.fetch_add(1, Ordering::SeqCst);
    }
}
