//! Reading a PostgreSQL store: its state, consistent snapshots with one or more readers
//! (several connections sharing one exported snapshot), scans streamed through a portal, and
//! finding a record. Nothing here writes; a role that may only read reads every part.

use postgres::{Client, GenericClient, NoTls};
use trailseal_core::KeyId;
use trailseal_core::start::{ChainStart, StartKind, StoredKeyId};
use trailseal_core::verify::{Columns, Flow, MalformedRecord, RecordView, ScanItem, TraceEncoding};

use super::{PgStore, schema};
use crate::{SeqRange, Snapshot, SnapshotReader, StoreError, StoreState, StoredRecord};

const FETCH_ROWS: i32 = 4096;

/// The chain's start from the `trailseal_meta` values a prune or an import set
/// (`checkpoint_seq`, `checkpoint_hash`, `checkpoint_kind`): genesis when there is none.
pub(super) fn start_from(seq: Option<&str>, hash: Option<&str>, kind: Option<&str>) -> ChainStart {
    match (seq.and_then(|s| s.parse().ok()), hash) {
        (Some(next_seq), Some(hash)) => ChainStart {
            next_seq,
            prev_hash: hash.as_bytes().to_vec(),
            kind: kind
                .and_then(StartKind::from_name)
                .unwrap_or(StartKind::UnauthenticatedCheckpoint),
        },
        _ => ChainStart::genesis(),
    }
}

/// The chain's start as the tables say, read in the transaction open on `client`.
fn start_in(client: &mut impl GenericClient, meta: &str) -> Result<ChainStart, postgres::Error> {
    let rows = client.query(
        &format!("SELECT key, value FROM {meta} WHERE key IN ('checkpoint_seq', 'checkpoint_hash', 'checkpoint_kind')"),
        &[],
    )?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.try_get::<_, &str>(0).ok() == Some(k))
            .and_then(|r| r.try_get::<_, &str>(1).ok())
    };
    Ok(start_from(
        get("checkpoint_seq"),
        get("checkpoint_hash"),
        get("checkpoint_kind"),
    ))
}

/// The store's key id as `trailseal_meta` holds it (a value that is not a key id is read as
/// none).
pub(super) fn key_id_from(value: Option<&str>) -> StoredKeyId {
    value
        .and_then(|v| KeyId::parse(v.as_bytes()))
        .map_or(StoredKeyId::Absent, StoredKeyId::Present)
}

pub(super) fn snapshot(store: &mut PgStore, readers: usize) -> Result<Snapshot<'_>, StoreError> {
    let (traces, meta, retention, tree) = (
        store.traces.clone(),
        store.meta.clone(),
        store.retention.clone(),
        store.tree.clone(),
    );
    let err = store.err("read the chain state");
    let config = store.config.clone();
    let location = store.location.clone();
    let mut first = store.begin_reader()?;
    // The transaction's first statement fixes its snapshot: the state and every record
    // the readers read come from it.
    let mut state = read_state(first.client(), &traces, &meta, &retention).map_err(&err)?;
    let state_sql = tree.as_deref().map(|t| super::tree::state_sql(t, &meta));
    state.tree = super::tree::stored_tree(first.client(), &location, state_sql.as_deref())?;
    let mut extra = Vec::new();
    if readers > 1 {
        // Best effort: a server that cannot share the snapshot is read by one reader.
        extra = share_snapshot(
            first.client(),
            &config,
            readers - 1,
            &location,
            (&traces, tree.as_deref()),
        );
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

pub(super) fn find(
    store: &mut PgStore,
    action_id: &str,
) -> Result<Option<StoredRecord>, StoreError> {
    let err = store.err("find");
    let sql = format!(
        "SELECT seq, prev_hash, record_hash, payload FROM {} WHERE action_id = $1",
        store.traces
    );
    // Inside a reader: the schema is checked first, as for every read.
    let mut reader = store.begin_reader()?;
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

impl PgStore {
    /// A reader on this handle's connection, inside a read-only REPEATABLE READ transaction
    /// (one snapshot for all its statements) that ends when the reader is dropped.
    pub(super) fn begin_reader(&mut self) -> Result<PgReader<'_>, StoreError> {
        let err = self.err("begin a read");
        // The tables are locked (against changes to them, which rewrite a table under a
        // REPEATABLE READ snapshot and are not MVCC-safe) before the first query takes the
        // snapshot; then the schema that snapshot reads is checked.
        self.client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '{}ms'; LOCK TABLE {}, {}, {}{} IN ACCESS SHARE MODE",
                self.lock_timeout.as_millis().max(1),
                self.traces,
                self.meta,
                self.retention,
                self.tree.as_ref().map(|t| format!(", {t}")).unwrap_or_default()
            ))
            .map_err(|e| {
                let _ = self.client.batch_execute("ROLLBACK");
                err(e)
            })?;
        let mut reader = PgReader {
            client: ReaderClient::Borrowed(&mut self.client),
            location: self.location.clone(),
            traces: self.traces.clone(),
            tree: self.tree.clone(),
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
    let start = start_in(client, meta)?;
    let key_id = client
        .query_opt(
            &format!("SELECT value FROM {meta} WHERE key = 'key_id'"),
            &[],
        )?
        .map(|r| r.try_get::<_, String>(0))
        .transpose()
        .ok()
        .flatten();
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
        key_id: key_id_from(key_id.as_deref()),
        head,
        record_count_hint,
        tree: None,
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
    (traces, tree): (&str, Option<&str>),
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
            tree: tree.map(str::to_owned),
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
pub(super) struct PgReader<'a> {
    client: ReaderClient<'a>,
    location: String,
    traces: String,
    tree: Option<String>,
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
    fn read_tree_hashes(
        &mut self,
        first: u64,
        out: &mut [trailseal_core::tree::MerkleHash],
    ) -> Result<(), StoreError> {
        let (location, tree) = (self.location.clone(), self.tree.clone());
        super::tree::read_hashes(self.client(), &location, tree.as_deref(), first, out)
    }

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
