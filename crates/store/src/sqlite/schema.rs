//! The allow-list of a SQLite store's schema: exactly the objects weaver-kernel 0.12.0
//! (`SQLiteTraceStore` and `SQLiteRevocationStore`, which may share the file) and trailseal
//! create, compared with `sqlite_master` (type, name, table and the `CREATE` statement).
//!
//! Anything else can change what is stored or read: a trigger that ignores, deletes or rewrites
//! inserted rows, a view or virtual table in place of `traces`, a column with another type,
//! default, collation or generation, `WITHOUT ROWID`, an index over an expression. A store
//! holding such an object is neither read nor written ([`StoreError::Schema`]). The check runs
//! inside the transaction that then reads or writes, so an object added after it cannot take
//! effect before the work is done.

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::tree::TREE_DDL;
use super::{META_DDL, RETENTION_DDL, TRACES_DDL, TRAILSEAL_META_DDL, sql_error};
use crate::StoreError;
use crate::error::Shown;

/// weaver-kernel's `SQLiteRevocationStore` tables (they do not touch the chain).
const REVOCATION_DDL: [&str; 3] = [
    "CREATE TABLE revoked (token_id TEXT PRIMARY KEY)",
    "CREATE TABLE principal_tokens (principal_id TEXT NOT NULL, token_id TEXT NOT NULL, PRIMARY KEY (principal_id, token_id))",
    "CREATE TABLE token_expiry (token_id TEXT PRIMARY KEY, expires_at TEXT NOT NULL)",
];

/// The indexes SQLite makes for the UNIQUE and non-integer PRIMARY KEY constraints of the
/// tables above (no `CREATE` statement of their own).
const AUTO_INDEXES: [(&str, &str); 6] = [
    ("sqlite_autoindex_traces_1", "traces"),
    ("sqlite_autoindex_meta_1", "meta"),
    ("sqlite_autoindex_trailseal_meta_1", "trailseal_meta"),
    ("sqlite_autoindex_revoked_1", "revoked"),
    ("sqlite_autoindex_principal_tokens_1", "principal_tokens"),
    ("sqlite_autoindex_token_expiry_1", "token_expiry"),
];

/// A `CREATE` statement compared without regard to ASCII case, runs of whitespace, whitespace
/// next to punctuation, double quotes (SQLite quotes a renamed table's name; the allow-list
/// has no string literals), or `IF NOT EXISTS` (SQLite does not store it).
fn normalise(sql: &str) -> String {
    let upper = sql.to_ascii_uppercase().replace('"', "");
    let mut words = upper.split_ascii_whitespace().peekable();
    let mut out = String::with_capacity(sql.len());
    while let Some(word) = words.next() {
        out.push_str(word);
        if let Some(next) = words.peek() {
            let tight = |c: Option<char>| matches!(c, Some('(' | ')' | ','));
            if !tight(word.chars().last()) && !tight(next.chars().next()) {
                out.push(' ');
            }
        }
    }
    out.replacen("CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ", 1)
}

/// The table a `CREATE TABLE` statement of the allow-list creates.
fn table_name(ddl: &str) -> Option<&str> {
    ddl.strip_prefix("CREATE TABLE ")
        .map(|rest| rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest))
        .and_then(|rest| rest.split([' ', '(']).next())
}

/// The allow-list's `CREATE TABLE` statement for `name`.
fn table_ddl(name: &str) -> Option<&'static str> {
    [
        TRACES_DDL,
        META_DDL,
        TRAILSEAL_META_DDL,
        RETENTION_DDL,
        TREE_DDL,
    ]
    .into_iter()
    .chain(REVOCATION_DDL)
    .find(|ddl| table_name(ddl) == Some(name))
}

/// The first comma-separated part (a column or constraint) of `actual` that differs from
/// `expected`, for a message.
fn difference(expected: &str, actual: &str) -> String {
    let theirs: Vec<&str> = actual.split(',').collect();
    let ours: Vec<String> = normalise(expected).split(',').map(str::to_owned).collect();
    for (i, part) in theirs.iter().enumerate() {
        let normal = normalise(part);
        match ours.get(i) {
            Some(o) if *o == normal => {}
            // Our last column, with more after it: the first addition differs.
            Some(o) if o.strip_suffix(')') == Some(normal.as_str()) => {
                let extra = theirs.get(i + 1).map_or(*part, |p| p.trim());
                return format!("{} is added", Shown(extra.as_bytes()));
            }
            _ => return format!("{} differs", Shown(part.trim().as_bytes())),
        }
    }
    "columns are missing".to_owned()
}

/// A name from the schema for a message: escaped (a name can hold any character), at most 80
/// characters.
fn shown(name: &str) -> String {
    name.chars().take(80).flat_map(char::escape_debug).collect()
}

/// Why the object (`kind`, `name`, on table `table`, created by `sql`) is not one trailseal or
/// weaver-kernel creates; `None` if it is.
fn refusal(kind: &str, name: &str, table: &str, sql: Option<&[u8]>) -> Option<String> {
    let sql_text = sql.map(String::from_utf8_lossy);
    let allowed = match kind {
        "table" if name.starts_with("sqlite_stat") => name == table,
        "table" => match table_ddl(name) {
            None => false,
            Some(ddl) => {
                let same = name == table
                    && sql_text
                        .as_deref()
                        .is_some_and(|s| normalise(ddl) == normalise(s));
                if !same {
                    return Some(format!(
                        "table `{name}` is not defined as trailseal and weaver-kernel define it: {}",
                        difference(ddl, sql_text.as_deref().unwrap_or_default())
                    ));
                }
                true
            }
        },
        "index" => sql.is_none() && AUTO_INDEXES.contains(&(name, table)),
        _ => false,
    };
    if allowed {
        return None;
    }
    let (kind, name, table) = (shown(kind), shown(name), shown(table));
    Some(if kind == "table" || name == table {
        format!("{kind} `{name}` is not created by trailseal or weaver-kernel")
    } else {
        format!("{kind} `{name}` on table `{table}` is not created by trailseal or weaver-kernel")
    })
}

/// Checks every object of the main database's schema against the allow-list.
pub(super) fn check(conn: &Connection, location: &str) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY rowid")
        .map_err(sql_error(location, "read schema"))?;
    let mut rows = stmt.query([]).map_err(sql_error(location, "read schema"))?;
    while let Some(row) = rows.next().map_err(sql_error(location, "read schema"))? {
        let text = |i: usize| -> Option<String> {
            match row.get_ref(i).ok()? {
                ValueRef::Text(b) | ValueRef::Blob(b) => {
                    Some(String::from_utf8_lossy(b).into_owned())
                }
                _ => None,
            }
        };
        let sql = match row.get_ref(3) {
            Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => Some(b.to_vec()),
            _ => None,
        };
        let (kind, name, table) = (
            text(0).unwrap_or_default(),
            text(1).unwrap_or_default(),
            text(2).unwrap_or_default(),
        );
        if let Some(problem) = refusal(&kind, &name, &table, sql.as_deref()) {
            return Err(StoreError::Schema {
                location: location.to_owned(),
                problem,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_created_schema_is_allowed_and_nothing_else() {
        let sql = |s: &str| Some(s.as_bytes().to_vec());
        for ddl in [
            TRACES_DDL,
            META_DDL,
            TRAILSEAL_META_DDL,
            RETENTION_DDL,
            TREE_DDL,
        ]
        .into_iter()
        .chain(REVOCATION_DDL)
        {
            let name = table_name(ddl).unwrap_or_default();
            let stored = ddl.replacen("IF NOT EXISTS ", "", 1);
            assert_eq!(refusal("table", name, name, sql(&stored).as_deref()), None);
        }
        assert_eq!(
            refusal("index", "sqlite_autoindex_traces_1", "traces", None),
            None
        );
        assert_eq!(
            normalise("create  table \"t\"( a  TEXT , b )"),
            "CREATE TABLE T(A TEXT,B)"
        );
        let refused = [
            (
                "trigger",
                "t",
                "traces",
                "CREATE TRIGGER t BEFORE INSERT ON traces BEGIN SELECT RAISE(IGNORE); END",
            ),
            ("view", "traces", "traces", "CREATE VIEW traces AS SELECT 1"),
            (
                "table",
                "traces",
                "traces",
                "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload BLOB NOT NULL)",
            ),
            (
                "table",
                "traces",
                "traces",
                "CREATE TABLE traces (seq INTEGER PRIMARY KEY, action_id TEXT UNIQUE NOT NULL, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL) WITHOUT ROWID",
            ),
            (
                "index",
                "i",
                "traces",
                "CREATE INDEX i ON traces (lower(action_id))",
            ),
            ("table", "other", "other", "CREATE TABLE other (x)"),
        ];
        let escaped = refusal("trigger", "t\u{1b}[2J\n", "traces", None).unwrap_or_default();
        assert!(
            escaped.contains("`t\\u{1b}[2J\\n` on table `traces`"),
            "{escaped}"
        );
        for (kind, name, table, text) in refused {
            assert!(
                refusal(kind, name, table, sql(text).as_deref()).is_some(),
                "{text}"
            );
        }
    }
}
