//! PostgreSQL: one chain shared by many writers on many hosts.
//!
//! Tables live in one schema (`?schema=NAME` in the URL, default `public`):
//!
//! ```sql
//! trailseal_traces    (seq BIGINT PRIMARY KEY, action_id TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL,
//!                      record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL)
//! trailseal_meta      (key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- schema_version, key_id, checkpoint
//! trailseal_retention (idx BIGINT PRIMARY KEY, receipt TEXT NOT NULL)
//! ```
//!
//! Every change runs in one transaction that first takes a transaction-scoped advisory lock
//! derived from the schema name (`pg_advisory_xact_lock`), then reads the head: writers on any
//! connection, process or host serialise on it and the chain never forks. Writers need only
//! `SELECT` and `INSERT` (the head is found with the primary key, not kept in a row that would
//! need `UPDATE`), so an append-only role is possible. Batches are inserted with one
//! `INSERT … SELECT FROM UNNEST(…)` per 1,000 rows and committed once; scans stream through a
//! server-side portal.

mod schema;

use std::str::FromStr;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, GenericClient, NoTls, Transaction};
use sha2::{Digest, Sha256};
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::verify::{Columns, Flow, MalformedRecord, RecordView, ScanItem, TraceEncoding};
use trailseal_core::{ChainKey, Hash32, Head, KeyId, PreparedTrace, seal_batch};

use crate::{
    Appended, ImportMeta, ImportRecord, LockHolder, OpenMode, PrunePlan, SeqRange, Snapshot,
    SnapshotReader, Store, StoreError, StoreState, StoredRecord,
};

/// The version of the table layout this code writes; a newer one is refused.
pub const SCHEMA_VERSION: u32 = 1;
const ROWS_PER_STATEMENT: usize = 1000;
const FETCH_ROWS: i32 = 4096;

/// A chain in a PostgreSQL schema.
pub struct PgStore {
    client: Client,
    /// For the extra connections of a snapshot with several readers.
    config: postgres::Config,
    location: String,
    /// The PostgreSQL schema holding the tables.
    schema: String,
    traces: String,
    meta: String,
    retention: String,
    lock_key: i64,
    lock_timeout: Duration,
    /// Prepared (head-and-duplicate query, insert) once this connection has appended.
    statements: Option<(postgres::Statement, postgres::Statement)>,
    key_id_recorded: bool,
    /// A copy into the store is in progress: its transaction (holding the chain's lock) is
    /// open on `client`.
    importing: bool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` with the password shown as `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    // A password can also come as a query parameter.
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

/// Splits `NAME=VALUE` (trailseal's own parameter, which the server must not see) out of the
/// URL's query; the last one given wins.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(
            |p| match p.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                Some(v) => {
                    value = Some(v.to_owned());
                    false
                }
                None => true,
            },
        )
        .collect();
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, value)
}

/// How long a change waits for the chain's lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `?lock_timeout=` accepted.
const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(86_400);

/// Parses a `?lock_timeout=` value: `500ms`, or a duration such as `5s`, `2m`, `1m30s`; above
/// zero and at most a day (waiting without bound is what the timeout is there to prevent).
pub fn parse_lock_timeout(text: &str) -> Option<Duration> {
    let timeout = match text.strip_suffix("ms") {
        Some(ms) if !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_millis(ms.parse().ok()?)
        }
        _ => {
            Duration::from_micros(u64::try_from(trailseal_core::time::parse_duration(text)?).ok()?)
        }
    };
    (!timeout.is_zero() && timeout <= MAX_LOCK_TIMEOUT).then_some(timeout)
}

fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// The key of the advisory lock that serialises a schema's writers (`pg_advisory_xact_lock`),
/// for an operator who wants to see who holds it (`pg_locks`, `locktype = 'advisory'`,
/// `classid` the high and `objid` the low 32 bits).
pub fn chain_lock_key(schema: &str) -> i64 {
    lock_key(schema)
}

fn lock_key(schema: &str) -> i64 {
    let d = Sha256::digest(format!("trailseal chain lock: {schema}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    i64::from_be_bytes(b)
}

impl PgStore {
    /// Connects to `url` (`postgres://` or `postgresql://`, optionally `?schema=NAME`).
    /// [`OpenMode::Write`] with `create` makes the tables when missing (idempotent, under the
    /// advisory lock); otherwise they must exist.
    pub fn open(url: &str, mode: OpenMode) -> Result<Self, StoreError> {
        let location = redact_url(url);
        let (url, schema) = take_param(url, "schema");
        let (url, lock_timeout) = take_param(&url, "lock_timeout");
        let schema = schema.unwrap_or_else(|| "public".to_owned());
        if !valid_schema(&schema) {
            return Err(StoreError::UnknownStore {
                location,
                reason: format!("schema {schema:?}: use lowercase letters, digits and _"),
            });
        }
        let lock_timeout = match lock_timeout {
            None => DEFAULT_LOCK_TIMEOUT,
            Some(text) => parse_lock_timeout(&text).ok_or_else(|| StoreError::UnknownStore {
                location: location.clone(),
                reason: format!(
                    "lock_timeout {text:?}: use a duration above zero and at most 1d, such as 500ms, 5s or 2m"
                ),
            })?,
        };
        let mut config = postgres::Config::from_str(&url).map_err(|source| {
            StoreError::postgres(&location, "read the connection string", source)
        })?;
        // Named, so an operator (or a test) can find this chain's connections.
        let app: String = format!("trailseal/{schema}").chars().take(63).collect();
        config.application_name(&app);
        let client = config
            .connect(NoTls)
            .map_err(|source| StoreError::postgres(&location, "connect", source))?;
        let mut store = Self {
            client,
            config,
            location,
            schema: schema.clone(),
            traces: format!("{schema}.trailseal_traces"),
            meta: format!("{schema}.trailseal_meta"),
            retention: format!("{schema}.trailseal_retention"),
            lock_key: lock_key(&schema),
            lock_timeout,
            statements: None,
            key_id_recorded: false,
            importing: false,
        };
        store.check_schema(&schema, mode)?;
        schema::check(&mut store.client, &store.location, &schema)?;
        Ok(store)
    }

    fn err(&self, action: &'static str) -> impl Fn(postgres::Error) -> StoreError + use<> {
        let location = self.location.clone();
        move |source| {
            if source
                .as_db_error()
                .is_some_and(|e| *e.code() == SqlState::UNIQUE_VIOLATION)
                && let Some(id) = source
                    .as_db_error()
                    .and_then(|e| e.detail())
                    .and_then(|d| d.strip_prefix("Key (action_id)=("))
                    .and_then(|d| d.strip_suffix(") already exists."))
            {
                return StoreError::DuplicateActionId {
                    location: location.clone(),
                    action_id: id.to_owned(),
                };
            }
            StoreError::postgres(&location, action, source)
        }
    }

    fn check_schema(&mut self, schema: &str, mode: OpenMode) -> Result<(), StoreError> {
        let err = self.err("read the schema");
        let exists = self
            .client
            .query_opt("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'trailseal_traces'", &[&schema])
            .map_err(&err)?
            .is_some();
        if !exists {
            if !matches!(mode, OpenMode::Write { create: true }) {
                return Err(StoreError::NotFound {
                    location: self.location.clone(),
                });
            }
            let (traces, meta, retention, lock) = (
                self.traces.clone(),
                self.meta.clone(),
                self.retention.clone(),
                self.lock(),
            );
            let err = self.err("create the tables");
            // Several writers may create the store at once: the advisory lock (which needs no
            // schema) makes one of them do it, the others then find it done.
            let mut tx = self.client.transaction().map_err(&err)?;
            lock.take(&mut tx, "")?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {traces} (seq BIGINT PRIMARY KEY, action_id TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {retention} (idx BIGINT PRIMARY KEY, receipt TEXT NOT NULL);
                 INSERT INTO {meta} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;"
            ))
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        if let Some(version) = self.meta_value("schema_version")?
            && version.parse::<u32>().map_or(true, |v| v > SCHEMA_VERSION)
        {
            return Err(StoreError::NewerVersion {
                location: self.location.clone(),
                found: version,
                supported: SCHEMA_VERSION.to_string(),
            });
        }
        Ok(())
    }

    fn meta_value(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let err = self.err("read trailseal_meta");
        let sql = format!("SELECT value FROM {} WHERE key = $1", self.meta);
        self.client
            .query_opt(&sql, &[&key])
            .map_err(&err)?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(&err)
    }

    /// The chain's start as the tables say: genesis, or the checkpoint a prune or an import set.
    fn start_in(tx: &mut impl GenericClient, meta: &str) -> Result<ChainStart, postgres::Error> {
        let rows = tx.query(
            &format!("SELECT key, value FROM {meta} WHERE key IN ('checkpoint_seq', 'checkpoint_hash', 'checkpoint_kind')"),
            &[],
        )?;
        let get = |k: &str| {
            rows.iter()
                .find(|r| r.try_get::<_, &str>(0).ok() == Some(k))
                .and_then(|r| r.try_get::<_, String>(1).ok())
        };
        Ok(
            match (
                get("checkpoint_seq").and_then(|s| s.parse().ok()),
                get("checkpoint_hash"),
            ) {
                (Some(next_seq), Some(hash)) => ChainStart {
                    next_seq,
                    prev_hash: hash.into_bytes(),
                    kind: get("checkpoint_kind")
                        .as_deref()
                        .and_then(StartKind::from_name)
                        .unwrap_or(StartKind::UnauthenticatedCheckpoint),
                },
                _ => ChainStart::genesis(),
            },
        )
    }

    /// Other calls that open a transaction on this handle while a copy is in its transaction
    /// would commit or break that transaction: they are refused until `import_finish`.
    fn refuse_while_importing(&self) -> Result<(), StoreError> {
        if self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "a copy into the store is in progress on this handle".into(),
            });
        }
        Ok(())
    }

    fn lock(&self) -> ChainLock {
        ChainLock {
            key: self.lock_key,
            timeout: self.lock_timeout,
            location: self.location.clone(),
        }
    }

    fn locked(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.refuse_while_importing()?;
        let err = self.err("begin");
        let lock = self.lock();
        let (location, schema) = (self.location.clone(), self.schema.clone());
        let mut tx = self.client.transaction().map_err(&err)?;
        lock.take(&mut tx, "")?;
        schema::check(&mut tx, &location, &schema)?;
        Ok(tx)
    }

    /// After an append's commit: the rows it wrote, as stored (one query on the primary key).
    fn read_back_rows(&mut self, appended: &[Appended]) -> Result<crate::ReadBack, StoreError> {
        let err = self.err("read back the appended records");
        let (Some(first), Some(last)) = (appended.first(), appended.last()) else {
            return Ok(crate::ReadBack::default());
        };
        let seq = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        let t = &self.traces;
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {t} WHERE seq BETWEEN $1 AND $2), \
                     (SELECT record_hash FROM {t} WHERE seq = $1), (SELECT payload FROM {t} WHERE seq = $1), \
                     (SELECT record_hash FROM {t} WHERE seq = $2), (SELECT payload FROM {t} WHERE seq = $2)"
                ),
                &[&seq(first.seq), &seq(last.seq)],
            )
            .map_err(&err)?;
        let text = |i: usize| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(row
                .try_get::<_, Option<String>>(i)
                .map_err(&err)?
                .map(String::into_bytes))
        };
        let count: i64 = row.try_get(0).map_err(&err)?;
        Ok(crate::ReadBack {
            count: u64::try_from(count).unwrap_or(0),
            first: text(1)?.zip(text(2)?),
            last: text(3)?.zip(text(4)?),
        })
    }

    fn count(tx: &mut impl GenericClient, table: &str) -> Result<i64, postgres::Error> {
        tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?
            .try_get(0)
    }

    fn insert_rows(
        tx: &mut impl GenericClient,
        traces: &str,
        rows: &[(i64, &str, &str, &str, &str, &str)],
    ) -> Result<(), postgres::Error> {
        let sql = format!(
            "INSERT INTO {traces} (seq, action_id, prev_hash, record_hash, invoked_at, payload) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
        );
        let stmt = tx.prepare(&sql)?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let seqs: Vec<i64> = chunk.iter().map(|r| r.0).collect();
            let ids: Vec<&str> = chunk.iter().map(|r| r.1).collect();
            let prevs: Vec<&str> = chunk.iter().map(|r| r.2).collect();
            let recs: Vec<&str> = chunk.iter().map(|r| r.3).collect();
            let ats: Vec<&str> = chunk.iter().map(|r| r.4).collect();
            let payloads: Vec<&str> = chunk.iter().map(|r| r.5).collect();
            tx.execute(&stmt, &[&seqs, &ids, &prevs, &recs, &ats, &payloads])?;
        }
        Ok(())
    }
}

impl PgStore {
    /// Statements every append uses, prepared once per connection.
    fn prepared(&mut self) -> Result<(postgres::Statement, postgres::Statement), StoreError> {
        if let Some(p) = &self.statements {
            return Ok(p.clone());
        }
        let err = self.err("prepare");
        let t = &self.traces;
        let head_and_duplicate = self
            .client
            .prepare(&format!(
                "SELECT (SELECT seq FROM {t} ORDER BY seq DESC LIMIT 1), (SELECT record_hash FROM {t} ORDER BY seq DESC LIMIT 1), (SELECT action_id FROM {t} WHERE action_id = ANY($1) LIMIT 1)"
            ))
            .map_err(&err)?;
        let insert = self
            .client
            .prepare(&format!(
                "INSERT INTO {t} (seq, action_id, prev_hash, record_hash, invoked_at, payload) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
            ))
            .map_err(&err)?;
        self.statements = Some((head_and_duplicate.clone(), insert.clone()));
        Ok((head_and_duplicate, insert))
    }

    /// The body of an append, inside the locked transaction.
    fn append_locked(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        let err = self.err("append");
        let location = self.location.clone();
        let (head_and_duplicate, insert) = self.prepared()?;
        let ids: Vec<&str> = traces.iter().map(PreparedTrace::action_id).collect();
        let row = self
            .client
            .query_one(&head_and_duplicate, &[&ids])
            .map_err(&err)?;
        if let Some(id) = row.try_get::<_, Option<String>>(2).map_err(&err)? {
            return Err(StoreError::DuplicateActionId {
                location,
                action_id: id,
            });
        }
        let mut head = match (
            row.try_get::<_, Option<i64>>(0).map_err(&err)?,
            row.try_get::<_, Option<String>>(1).map_err(&err)?,
        ) {
            (Some(seq), Some(hash)) => {
                let bad = |problem: &str| StoreError::BadHead {
                    location: location.clone(),
                    seq: u64::try_from(seq).unwrap_or(0),
                    problem: problem.into(),
                };
                let seq = u64::try_from(seq).map_err(|_| bad("its seq is negative"))?;
                Head {
                    next_seq: seq.checked_add(1).ok_or_else(|| bad("seq overflow"))?,
                    prev_hash: Hash32::parse(hash.as_bytes())
                        .ok_or_else(|| bad("its record_hash is not a hash"))?,
                }
            }
            _ => {
                let meta = self.meta.clone();
                // Still inside the transaction BEGIN opened (no nested Transaction object).
                let start = Self::start_in(&mut self.client, &meta).map_err(&err)?;
                Head {
                    next_seq: start.next_seq,
                    prev_hash: Hash32::parse(&start.prev_hash).ok_or_else(|| {
                        StoreError::BadHead {
                            location: location.clone(),
                            seq: start.next_seq,
                            problem: "the checkpoint hash is not a hash".into(),
                        }
                    })?,
                }
            }
        };
        if head
            .next_seq
            .checked_add(traces.len() as u64)
            .is_none_or(|end| end > i64::MAX as u64)
        {
            return Err(StoreError::SeqOverflow { location });
        }
        let sealed = seal_batch(key, &mut head, traces);
        let prev: Vec<String> = sealed.iter().map(|r| r.prev_hash.to_string()).collect();
        let rec: Vec<String> = sealed.iter().map(|r| r.record_hash.to_string()).collect();
        for (chunk, (prev, rec)) in sealed.chunks(ROWS_PER_STATEMENT).zip(
            prev.chunks(ROWS_PER_STATEMENT)
                .zip(rec.chunks(ROWS_PER_STATEMENT)),
        ) {
            let seqs: Vec<i64> = chunk.iter().map(|r| r.seq as i64).collect();
            let ids: Vec<&str> = chunk.iter().map(|r| r.trace.action_id()).collect();
            let ats: Vec<&str> = chunk.iter().map(|r| r.trace.invoked_at()).collect();
            let payloads: Vec<&str> = chunk.iter().map(|r| r.trace.canonical()).collect();
            self.client
                .execute(&insert, &[&seqs, &ids, &prev, &rec, &ats, &payloads])
                .map_err(&err)?;
        }
        // After the inserts, which hold a lock on the table that creating a trigger, rule or
        // policy waits for: the schema checked is the one the inserts ran under.
        schema::check(&mut self.client, &self.location, &self.schema)?;
        if !self.key_id_recorded {
            let meta = self.meta.clone();
            self.client
                .execute(
                    &format!("INSERT INTO {meta} (key, value) SELECT 'key_id', $1 WHERE NOT EXISTS (SELECT 1 FROM {meta} WHERE key = 'key_id') ON CONFLICT DO NOTHING"),
                    &[&key.key_id().as_str()],
                )
                .map_err(&err)?;
            self.key_id_recorded = true;
        }
        Ok(sealed
            .iter()
            .map(|r| Appended {
                seq: r.seq,
                record_hash: r.record_hash,
            })
            .collect())
    }
}

impl Store for PgStore {
    fn write(&mut self) -> Result<Box<dyn crate::WriteTx + '_>, StoreError> {
        Err(StoreError::Io {
            location: self.location().to_owned(),
            action: "begin a write",
            source: std::io::Error::other("not yet converted to the one write path"),
        })
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        Ok(self.snapshot(1)?.state)
    }

    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError> {
        let (traces, meta, retention) = (
            self.traces.clone(),
            self.meta.clone(),
            self.retention.clone(),
        );
        let err = self.err("read the chain state");
        let config = self.config.clone();
        let location = self.location.clone();
        let mut first = self.begin_reader()?;
        // The transaction's first statement fixes its snapshot: the state and every record
        // the readers read come from it.
        let state = read_state(first.client(), &traces, &meta, &retention).map_err(&err)?;
        let mut extra = Vec::new();
        if readers > 1 {
            // Best effort: a server that cannot share the snapshot is read by one reader.
            extra = share_snapshot(first.client(), &config, readers - 1, &location, &traces);
        }
        let mut all: Vec<Box<dyn SnapshotReader + '_>> = vec![Box::new(first)];
        all.extend(
            extra
                .into_iter()
                .map(|r| Box::new(r) as Box<dyn SnapshotReader>),
        );
        Ok(Snapshot {
            state,
            readers: all,
        })
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let range = SeqRange {
            from: (from_seq > 0).then_some(from_seq),
            until: None,
        };
        self.begin_reader()?.scan_range(range, visit)
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let err = self.err("find");
        let sql = format!(
            "SELECT seq, prev_hash, record_hash, payload FROM {} WHERE action_id = $1",
            self.traces
        );
        // Inside a reader: the schema is checked first, as for every read.
        let mut reader = self.begin_reader()?;
        reader
            .client()
            .query_opt(&sql, &[&action_id])
            .map_err(&err)?
            .map(|row| -> Result<_, postgres::Error> {
                Ok(StoredRecord {
                    seq: u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0),
                    prev_hash: row.try_get(1)?,
                    record_hash: row.try_get(2)?,
                    trace: row.try_get(3)?,
                })
            })
            .transpose()
            .map_err(&err)
    }
}

impl PgStore {
    /// The body of `import_start`, inside the transaction it began.
    fn import_start_in_transaction(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let err = self.err("start the import");
        let location = self.location.clone();
        let (traces, meta_table, retention) = (
            self.traces.clone(),
            self.meta.clone(),
            self.retention.clone(),
        );
        let lock = self.lock();
        let tx = &mut self.client;
        lock.take(tx, "")?;
        schema::check(tx, &location, &self.schema)?;
        let records = Self::count(tx, &traces).map_err(&err)?;
        let receipts = Self::count(tx, &retention).map_err(&err)?;
        if records > 0 || receipts > 0 {
            let row = tx
                .query_one(&format!("SELECT min(seq), max(seq) FROM {traces}"), &[])
                .map_err(&err)?;
            // try_get: a retyped seq column is reported elsewhere, never a panic here.
            let seq = |i: usize| {
                row.try_get::<_, Option<i64>>(i)
                    .ok()
                    .flatten()
                    .and_then(|s| u64::try_from(s).ok())
            };
            return Err(crate::not_empty(
                &location,
                crate::Holdings {
                    records: u64::try_from(records).ok(),
                    first_seq: seq(0),
                    last_seq: seq(1),
                    receipts: u64::try_from(receipts).ok(),
                    bytes: None,
                },
            ));
        }
        if meta.start.kind != StartKind::Genesis {
            let seq = meta.start.next_seq.to_string();
            let hash = String::from_utf8_lossy(&meta.start.prev_hash).into_owned();
            tx.execute(
                &format!(
                    "INSERT INTO {meta_table} (key, value) VALUES ('checkpoint_seq', $1), ('checkpoint_hash', $2), ('checkpoint_kind', $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                &[&seq, &hash, &meta.start.kind.as_str()],
            )
            .map_err(&err)?;
        }
        for (i, receipt) in meta.retention.iter().enumerate() {
            tx.execute(
                &format!("INSERT INTO {retention} (idx, receipt) VALUES ($1, $2)"),
                &[&(i as i64), receipt],
            )
            .map_err(&err)?;
        }
        if let StoredKeyId::Present(id) = meta.key_id {
            tx.execute(
                &format!("INSERT INTO {meta_table} (key, value) VALUES ('key_id', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                &[&id.as_str()],
            )
            .map_err(&err)?;
        }
        Ok(())
    }
}

impl PgStore {
    /// A reader on this handle's connection, inside a read-only REPEATABLE READ transaction
    /// (one snapshot for all its statements) that ends when the reader is dropped.
    fn begin_reader(&mut self) -> Result<PgReader<'_>, StoreError> {
        self.refuse_while_importing()?;
        let err = self.err("begin a read");
        // The tables are locked (against changes to them, which rewrite a table under a
        // REPEATABLE READ snapshot and are not MVCC-safe) before the first query takes the
        // snapshot; then the schema that snapshot reads is checked.
        self.client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '{}ms'; LOCK TABLE {}, {}, {} IN ACCESS SHARE MODE",
                self.lock_timeout.as_millis().max(1),
                self.traces,
                self.meta,
                self.retention
            ))
            .map_err(|e| {
                let _ = self.client.batch_execute("ROLLBACK");
                err(e)
            })?;
        let mut reader = PgReader {
            client: ReaderClient::Borrowed(&mut self.client),
            location: self.location.clone(),
            traces: self.traces.clone(),
        };
        schema::check(reader.client(), &self.location, &self.schema)?;
        Ok(reader)
    }
}

/// The state of the chain, read by the statements of the transaction open on `client`.
fn read_state(
    client: &mut Client,
    traces: &str,
    meta: &str,
    retention: &str,
) -> Result<StoreState, postgres::Error> {
    let start = PgStore::start_in(client, meta)?;
    let key_id = client
        .query_opt(
            &format!("SELECT value FROM {meta} WHERE key = 'key_id'"),
            &[],
        )?
        .and_then(|r| KeyId::parse(r.try_get::<_, &str>(0).ok()?.as_bytes()));
    let receipts: Vec<String> = client
        .query(
            &format!("SELECT receipt FROM {retention} ORDER BY idx"),
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let last = client.query_opt(
        &format!("SELECT seq, record_hash FROM {traces} ORDER BY seq DESC LIMIT 1"),
        &[],
    )?;
    let head = match last {
        Some(r) => {
            let seq: i64 = r.try_get(0)?;
            let hash: String = r.try_get(1)?;
            u64::try_from(seq).ok().map(|s| (s, hash.into_bytes()))
        }
        None => None,
    };
    let first: Option<i64> = client
        .query_one(&format!("SELECT min(seq) FROM {traces}"), &[])?
        .try_get(0)?;
    let record_count_hint = match (&head, first.and_then(|f| u64::try_from(f).ok())) {
        (Some((last, _)), Some(first)) => Some(last.saturating_sub(first) + 1),
        _ => Some(0),
    };
    Ok(StoreState {
        start,
        retention: receipts,
        archive_of: None,
        key_id: key_id.map_or(StoredKeyId::Absent, StoredKeyId::Present),
        head,
        record_count_hint,
    })
}

/// Up to `count` more readers on connections of their own, each inside a transaction that
/// imports the snapshot of the one open on `client` (`pg_export_snapshot`, `SET TRANSACTION
/// SNAPSHOT`). Fewer (none) when the server cannot export it or a connection fails.
fn share_snapshot(
    client: &mut Client,
    config: &postgres::Config,
    count: usize,
    location: &str,
    traces: &str,
) -> Vec<PgReader<'static>> {
    let exported = client
        .batch_execute("SAVEPOINT trailseal_export")
        .and_then(|()| client.query_one("SELECT pg_export_snapshot()", &[]))
        .and_then(|row| row.try_get::<_, String>(0));
    let id = match exported {
        Ok(id) => {
            let _ = client.batch_execute("RELEASE SAVEPOINT trailseal_export");
            id
        }
        Err(_) => {
            let _ = client.batch_execute("ROLLBACK TO SAVEPOINT trailseal_export");
            return Vec::new();
        }
    };
    // A snapshot id is hex digits and dashes; anything else is not put in a statement.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let Ok(mut extra) = config.connect(NoTls) else {
            break;
        };
        let begun = extra.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{id}'"
        ));
        if begun.is_err() {
            break;
        }
        out.push(PgReader {
            client: ReaderClient::Owned(Box::new(extra)),
            location: location.to_owned(),
            traces: traces.to_owned(),
        });
    }
    out
}

/// The connection a reader reads through.
enum ReaderClient<'a> {
    /// The store handle's own.
    Borrowed(&'a mut Client),
    /// One opened for this reader.
    Owned(Box<Client>),
}

/// A reader of a snapshot: a connection inside a read-only REPEATABLE READ transaction, which
/// is rolled back when the reader is dropped.
struct PgReader<'a> {
    client: ReaderClient<'a>,
    location: String,
    traces: String,
}

impl PgReader<'_> {
    fn client(&mut self) -> &mut Client {
        match &mut self.client {
            ReaderClient::Borrowed(c) => c,
            ReaderClient::Owned(c) => c,
        }
    }
}

impl Drop for PgReader<'_> {
    fn drop(&mut self) {
        // A read-only transaction: ending it changes nothing.
        let _ = self.client().batch_execute("ROLLBACK");
    }
}

impl SnapshotReader for PgReader<'_> {
    fn scan_range(
        &mut self,
        range: SeqRange,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        let location = self.location.clone();
        let err = |source| StoreError::postgres(&location, "scan", source);
        // Numbers only: nothing here comes from input.
        let bound = |seq: u64| i64::try_from(seq).unwrap_or(i64::MAX);
        let limits: Vec<String> = [
            range.from.map(|f| format!("seq >= {}", bound(f))),
            range.until.map(|u| format!("seq < {}", bound(u))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let filter = if limits.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", limits.join(" AND "))
        };
        let sql = format!(
            "DECLARE trailseal_scan NO SCROLL CURSOR FOR SELECT seq, prev_hash, record_hash, payload, action_id, invoked_at FROM {}{filter} ORDER BY seq",
            self.traces
        );
        let client = self.client();
        client.batch_execute(&sql).map_err(err)?;
        let fetch = client
            .prepare(&format!("FETCH {FETCH_ROWS} FROM trailseal_scan"))
            .map_err(err)?;
        'fetch: loop {
            let rows = client.query(&fetch, &[]).map_err(err)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                if visit_row(row, visit) == Flow::Stop {
                    break 'fetch;
                }
            }
        }
        client.batch_execute("CLOSE trailseal_scan").map_err(err)
    }
}

/// Shows one row of the traces table to `visit`: a record, or what makes it unreadable (no
/// value of any type panics).
fn visit_row(row: &postgres::Row, visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow) -> Flow {
    const NAMES: [&str; 5] = [
        "prev_hash",
        "record_hash",
        "payload",
        "action_id",
        "invoked_at",
    ];
    let cells: Vec<Result<&[u8], String>> = (1..=NAMES.len())
        .zip(NAMES)
        .map(|(i, name)| match row.try_get::<_, Option<&str>>(i) {
            Ok(Some(text)) => Ok(text.as_bytes()),
            Ok(None) => Err(format!("{name} is NULL")),
            Err(_) => Err(format!("{name} is not text")),
        })
        .collect();
    let problem = cells.iter().find_map(|c| c.as_ref().err()).cloned();
    let text = |i: usize| match cells.get(i) {
        Some(Ok(b)) => *b,
        _ => &[][..],
    };
    let raw_seq = row.try_get::<_, Option<i64>>(0);
    match (raw_seq, problem) {
        (Ok(Some(raw)), problem) => match (u64::try_from(raw), problem) {
            (Ok(seq), None) => visit(&ScanItem::Record(RecordView {
                seq,
                prev_hash: text(0),
                record_hash: text(1),
                trace: text(2),
                encoding: TraceEncoding::Stored,
                columns: Some(Columns {
                    action_id: text(3),
                    invoked_at: text(4),
                }),
            })),
            (Ok(seq), Some(problem)) => visit(&ScanItem::Malformed(MalformedRecord {
                seq: Some(seq),
                location: format!("row {seq}"),
                problem,
                torn: false,
            })),
            (Err(_), _) => visit(&ScanItem::Malformed(MalformedRecord {
                seq: None,
                location: format!("row with seq {raw}"),
                problem: "seq is negative".into(),
                torn: false,
            })),
        },
        (Ok(None), _) => visit(&ScanItem::Malformed(MalformedRecord {
            seq: None,
            location: "a row".into(),
            problem: "seq is NULL".into(),
            torn: false,
        })),
        (Err(_), _) => visit(&ScanItem::Malformed(MalformedRecord {
            seq: None,
            location: "a row".into(),
            problem: "seq is not a bigint".into(),
            torn: false,
        })),
    }
}

/// The chain's advisory lock, taken with a bounded wait.
struct ChainLock {
    key: i64,
    timeout: Duration,
    location: String,
}

impl ChainLock {
    /// Takes the lock in the transaction open on `client` (or opened by `prefix`, `"BEGIN; "`),
    /// waiting at most the timeout. The timeout then holds for the rest of the transaction too,
    /// so no other lock is waited on without bound. On timeout the transaction is left usable
    /// (the wait ran in a savepoint) and the error names the sessions holding the lock, as far
    /// as this role may see them.
    fn take(&self, client: &mut impl GenericClient, prefix: &str) -> Result<(), StoreError> {
        // Numbers only: nothing here comes from input.
        let sql = format!(
            "{prefix}SET LOCAL lock_timeout = '{}ms'; SAVEPOINT trailseal_lock; SELECT pg_advisory_xact_lock({}); RELEASE SAVEPOINT trailseal_lock",
            self.timeout.as_millis().max(1),
            self.key
        );
        match client.batch_execute(&sql) {
            Ok(()) => Ok(()),
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| *d.code() == SqlState::LOCK_NOT_AVAILABLE) =>
            {
                let holders = client
                    .batch_execute("ROLLBACK TO SAVEPOINT trailseal_lock")
                    .and_then(|()| self.holders(client))
                    .unwrap_or_default();
                Err(StoreError::LockTimeout {
                    location: self.location.clone(),
                    waited: show_duration(self.timeout),
                    holders,
                })
            }
            Err(e) => Err(StoreError::postgres(
                &self.location,
                "take the chain's lock",
                e,
            )),
        }
    }

    /// The sessions holding the lock: what `pg_stat_activity` shows this role (other users'
    /// `backend_start` only with `pg_read_all_stats`).
    fn holders(&self, client: &mut impl GenericClient) -> Result<Vec<LockHolder>, postgres::Error> {
        #[allow(clippy::cast_sign_loss)]
        let key = self.key as u64;
        let (high, low) = ((key >> 32).to_string(), (key & 0xFFFF_FFFF).to_string());
        let rows = client.query(
            "SELECT l.pid, a.usename::text, a.application_name, a.backend_start::text \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid::text = $1 AND l.objid::text = $2 \
             AND l.pid IS DISTINCT FROM pg_backend_pid() ORDER BY l.pid",
            &[&high, &low],
        )?;
        Ok(rows
            .iter()
            .map(|r| LockHolder {
                pid: r.try_get(0).ok().flatten(),
                user: r.try_get(1).ok().flatten(),
                application: r
                    .try_get::<_, Option<String>>(2)
                    .ok()
                    .flatten()
                    .filter(|a| !a.is_empty()),
                backend_start: r.try_get(3).ok().flatten(),
            })
            .collect())
    }
}

/// The write protocols as this backend implemented them before the one write path
/// (`crate::protocol`); to be turned into its `WriteTx` and removed.
#[allow(dead_code)]
impl PgStore {
    fn append(
        &mut self,
        key: &ChainKey,
        traces: &[PreparedTrace],
    ) -> Result<Vec<Appended>, StoreError> {
        crate::refuse_repeated_ids(&self.location, traces)?;
        self.refuse_while_importing()?;
        let err = self.err("append");
        // BEGIN and the lock in one round trip.
        let lock = self.lock();
        if let Err(e) = lock.take(&mut self.client, "BEGIN; ") {
            let _ = self.client.batch_execute("ROLLBACK");
            return Err(e);
        }
        let result = self.append_locked(key, traces);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let done = match (result, self.client.batch_execute(end)) {
            (Ok(done), Ok(())) => done,
            (Ok(_), Err(e)) => return Err(err(e)),
            (Err(e @ StoreError::Postgres { .. }), _) => {
                // A statement the server refused: when the tables were altered (a column
                // retyped under this handle's prepared statements), say that instead.
                schema::check(&mut self.client, &self.location, &self.schema)?;
                return Err(e);
            }
            (Err(e), _) => return Err(e),
        };
        let back = self.read_back_rows(&done)?;
        crate::confirm_kept(&self.location, traces, &done, &back)?;
        Ok(done)
    }

    fn add_receipt(&mut self, expected_len: u64, receipt: &str) -> Result<(), StoreError> {
        let err = self.err("add a receipt");
        let location = self.location.clone();
        let retention = self.retention.clone();
        let mut tx = self.locked()?;
        let len = Self::count(&mut tx, &retention).map_err(&err)?;
        if u64::try_from(len).ok() != Some(expected_len) {
            return Err(StoreError::Conflict {
                location,
                detail: "the retention log grew".into(),
            });
        }
        tx.execute(
            &format!("INSERT INTO {retention} (idx, receipt) VALUES ($1, $2)"),
            &[&len, &receipt],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    fn prune(&mut self, plan: &PrunePlan, receipt: &str) -> Result<(), StoreError> {
        let err = self.err("prune");
        let location = self.location.clone();
        let (traces, meta, retention) = (
            self.traces.clone(),
            self.meta.clone(),
            self.retention.clone(),
        );
        let conflict = |detail: &str| StoreError::Conflict {
            location: location.clone(),
            detail: detail.into(),
        };
        let mut tx = self.locked()?;
        let len = Self::count(&mut tx, &retention).map_err(&err)?;
        if u64::try_from(len).ok() != Some(plan.log_len) {
            return Err(conflict("the retention log grew"));
        }
        let first: Option<i64> = tx
            .query_one(&format!("SELECT min(seq) FROM {traces}"), &[])
            .map_err(&err)?
            .try_get(0)
            .map_err(&err)?;
        if first.and_then(|f| u64::try_from(f).ok()) != Some(plan.from_seq) {
            return Err(conflict("the first record changed"));
        }
        let last_seq = i64::try_from(plan.last_seq).unwrap_or(i64::MAX);
        let hash: Option<String> = tx
            .query_opt(
                &format!("SELECT record_hash FROM {traces} WHERE seq = $1"),
                &[&last_seq],
            )
            .map_err(&err)?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(&err)?;
        if hash.as_deref() != Some(plan.last_hash.as_str()) {
            return Err(conflict("the last record to prune changed"));
        }
        tx.execute(
            &format!("DELETE FROM {traces} WHERE seq <= $1"),
            &[&last_seq],
        )
        .map_err(&err)?;
        tx.execute(
            &format!("INSERT INTO {retention} (idx, receipt) VALUES ($1, $2)"),
            &[&len, &receipt],
        )
        .map_err(&err)?;
        let next = (plan.last_seq + 1).to_string();
        tx.execute(
            &format!(
                "INSERT INTO {meta} (key, value) VALUES ('checkpoint_seq', $1), ('checkpoint_hash', $2), ('checkpoint_kind', 'checkpoint') ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            &[&next, &plan.last_hash.as_str()],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    fn import_start(&mut self, meta: &ImportMeta) -> Result<(), StoreError> {
        let err = self.err("start the import");
        if self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "a copy into the store is already in progress".into(),
            });
        }
        // One transaction, holding the chain's lock, from here to `import_finish`: a copy that
        // does not finish (the process dies, the connection drops) is rolled back by the
        // server and leaves the store empty.
        self.client.batch_execute("BEGIN").map_err(&err)?;
        match self.import_start_in_transaction(meta) {
            Ok(()) => {
                self.importing = true;
                Ok(())
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }

    fn import_records(&mut self, records: &[ImportRecord]) -> Result<(), StoreError> {
        if !self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "records can only be imported after import_start".into(),
            });
        }
        let err = self.err("import records");
        let location = self.location.clone();
        let table = self.traces.clone();
        let prev: Vec<String> = records.iter().map(|r| r.prev_hash.to_string()).collect();
        let rec: Vec<String> = records.iter().map(|r| r.record_hash.to_string()).collect();
        let mut rows = Vec::with_capacity(records.len());
        for (r, (p, h)) in records.iter().zip(prev.iter().zip(&rec)) {
            let Ok(seq) = i64::try_from(r.seq) else {
                self.importing = false;
                let _ = self.client.batch_execute("ROLLBACK");
                return Err(StoreError::SeqOverflow { location });
            };
            rows.push((
                seq,
                r.action_id.as_str(),
                p.as_str(),
                h.as_str(),
                r.invoked_at.as_str(),
                r.trace.as_str(),
            ));
        }
        let inserted = Self::insert_rows(&mut self.client, &table, &rows).map_err(&err);
        if inserted.is_err() {
            self.importing = false;
            let _ = self.client.batch_execute("ROLLBACK");
        }
        inserted
    }

    fn import_finish(&mut self) -> Result<(), StoreError> {
        if !self.importing {
            return Err(StoreError::Conflict {
                location: self.location.clone(),
                detail: "no copy into the store was started".into(),
            });
        }
        self.importing = false;
        let err = self.err("commit the import");
        self.client.batch_execute("COMMIT").map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example:5432/audit?schema=x"),
            "postgres://app:***@db.example:5432/audit?schema=x"
        );
        assert_eq!(
            redact_url("postgresql://db/audit?user=a&password=p"),
            "postgresql://db/audit?user=a&password=***"
        );
        assert_eq!(
            take_param("postgres://h/d?schema=s1&sslmode=disable", "schema"),
            ("postgres://h/d?sslmode=disable".into(), Some("s1".into()))
        );
        assert_eq!(
            take_param("postgres://h/d?lock_timeout=2s&schema=s1", "lock_timeout"),
            ("postgres://h/d?schema=s1".into(), Some("2s".into()))
        );
        // A parameter whose name only starts with the one taken is left alone.
        assert_eq!(
            take_param("postgres://h/d?lock_timeouts=2s", "lock_timeout"),
            ("postgres://h/d?lock_timeouts=2s".into(), None)
        );
        assert!(
            valid_schema("tenant_7") && !valid_schema("x; drop table") && !valid_schema("Upper")
        );
        assert_ne!(lock_key("a"), lock_key("b"));
    }

    #[test]
    fn lock_timeouts() {
        assert_eq!(parse_lock_timeout("5s"), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_lock_timeout("250ms"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_lock_timeout("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_lock_timeout("1d"), Some(Duration::from_secs(86_400)));
        for bad in [
            "",
            "0",
            "0s",
            "0ms",
            "5",
            "ms",
            "-1s",
            "1.5s",
            "5 s",
            "2d",
            "1d1s",
            "abc",
            "5sec",
            "99999999999999999999s",
            "+5s",
        ] {
            assert_eq!(parse_lock_timeout(bad), None, "{bad:?}");
        }
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show_duration(DEFAULT_LOCK_TIMEOUT), "5s");
    }
}
