//! The WAL checkpointer: copies a WAL store's log into its database on a thread of its own,
//! so that appends do not pay for it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Frames in the WAL after which a commit asks the [`Checkpointer`] to run (SQLite's own
/// automatic checkpoint runs at 1,000, inside the commit).
const CHECKPOINT_FRAMES: i32 = 1000;
/// Frames in the WAL after which the committing thread checkpoints itself. Under a steady
/// stream of commits a background checkpoint never catches up with the newest frames, and
/// SQLite only starts the WAL over once every frame is copied: this checkpoint copies the few
/// the background ones left, so the WAL is reused from its start and stays small.
const CHECKPOINT_FRAMES_INLINE: i32 = 4 * CHECKPOINT_FRAMES;

#[derive(Debug, Default)]
struct CheckpointSignal {
    /// (a checkpoint is wanted, the store is closing)
    state: std::sync::Mutex<(bool, bool)>,
    wake: std::sync::Condvar,
}

impl CheckpointSignal {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, bool)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn request(&self) {
        self.lock().0 = true;
        self.wake.notify_one();
    }
}

/// A thread with its own connection that runs passive WAL checkpoints when commits ask for
/// them, so that appends do not pay for copying the WAL into the database. A passive
/// checkpoint never blocks writers or readers, and a checkpoint changes no content: a crash
/// at any point leaves the database as durable as SQLite's automatic checkpoint would.
#[derive(Debug)]
pub(super) struct Checkpointer {
    signal: std::sync::Arc<CheckpointSignal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread and hands `conn`'s WAL hook to it. `None` if the connection cannot
    /// be set up (SQLite's automatic checkpoint then stays in place).
    pub(super) fn start(conn: &mut Connection, path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let worker = Connection::open_with_flags(path, flags).ok()?;
        worker.busy_timeout(Duration::from_secs(5)).ok()?;
        let signal = std::sync::Arc::new(CheckpointSignal::default());
        let hook_signal = std::sync::Arc::clone(&signal);
        // Replaces SQLite's automatic checkpoint, which is itself a WAL hook.
        let mut next_request = CHECKPOINT_FRAMES;
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, frames: i32| {
            if frames < next_request - CHECKPOINT_FRAMES {
                // The WAL started over.
                next_request = CHECKPOINT_FRAMES;
            }
            if frames >= CHECKPOINT_FRAMES_INLINE {
                // Best effort: a busy checkpoint is retried at the next commit.
                let _ = wal.checkpoint();
            } else if frames >= next_request {
                next_request = frames + CHECKPOINT_FRAMES;
                hook_signal.request();
            }
            Ok(())
        }))
        .ok()?;
        let thread_signal = std::sync::Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("trailseal-checkpoint".into())
            .spawn(move || {
                loop {
                    let closing = {
                        let mut state = thread_signal.lock();
                        while !state.0 && !state.1 {
                            state = thread_signal
                                .wake
                                .wait(state)
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                        }
                        state.0 = false;
                        state.1
                    };
                    if closing {
                        return;
                    }
                    // Busy or failed checkpoints are retried when the next commit asks.
                    let _ = worker.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            });
        let Ok(thread) = thread else {
            // Give the hook back to SQLite's automatic checkpoint (which is that hook).
            let _ = conn.pragma_update(None, "wal_autocheckpoint", 1000);
            return None;
        };
        Some(Self {
            signal,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.lock().1 = true;
        self.signal.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
