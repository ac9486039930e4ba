//! What trailseal's PostgreSQL tables must look like, checked against the catalogs: the
//! columns exactly as created (name, type, NOT NULL, no default, not generated, default
//! collation), plain tables (not views, partitioned or foreign tables, no inheriting children),
//! and no triggers, rules, row-level security or policies on them. Any of those can change
//! what is stored or read (a trigger that drops or rewrites inserted rows, a rule that turns
//! an insert into nothing, a policy that hides rows from the reader), so a store holding one is
//! neither read nor written ([`StoreError::Schema`]).

use postgres::{GenericClient, SimpleQueryMessage};

use crate::StoreError;

/// The tables and columns trailseal creates: (table, column, type), all NOT NULL.
const COLUMNS: [(&str, &str, &str); 12] = [
    ("trailseal_meta", "key", "text"),
    ("trailseal_meta", "value", "text"),
    ("trailseal_retention", "idx", "bigint"),
    ("trailseal_retention", "receipt", "text"),
    ("trailseal_traces", "seq", "bigint"),
    ("trailseal_traces", "action_id", "text"),
    ("trailseal_traces", "prev_hash", "text"),
    ("trailseal_traces", "record_hash", "text"),
    ("trailseal_traces", "invoked_at", "text"),
    ("trailseal_traces", "payload", "text"),
    ("trailseal_tree", "idx", "bigint"),
    ("trailseal_tree", "hash", "bytea"),
];

/// One query for everything that is not as trailseal creates it: a row per problem, the
/// first (in a fixed order) is reported. `$1` is the schema, `$2`, `$3`, `$4` the tables,
/// columns and types of [`COLUMNS`], written in by [`check_sql`].
const PROBLEMS: &str = "
WITH t AS (
  SELECT c.oid, c.relname::text AS name, c.relkind, c.relrowsecurity, c.relforcerowsecurity
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname IN ('trailseal_traces', 'trailseal_meta', 'trailseal_retention', 'trailseal_tree')
)
SELECT 1 AS o, format('%s `%s` is not a plain table as trailseal creates it', CASE relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'relation' END, name) FROM t WHERE relkind <> 'r'
UNION ALL
SELECT 2, format('trigger `%s` on table `%s` is not created by trailseal', g.tgname, t.name)
  FROM pg_catalog.pg_trigger g JOIN t ON t.oid = g.tgrelid WHERE NOT g.tgisinternal
UNION ALL
SELECT 3, format('rule `%s` on table `%s` is not created by trailseal', r.rulename, t.name)
  FROM pg_catalog.pg_rewrite r JOIN t ON t.oid = r.ev_class WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 4, format('policy `%s` on table `%s` is not created by trailseal', p.polname, t.name)
  FROM pg_catalog.pg_policy p JOIN t ON t.oid = p.polrelid
UNION ALL
SELECT 5, format('row-level security is enabled on table `%s` (trailseal does not enable it)', name)
  FROM t WHERE relrowsecurity OR relforcerowsecurity
UNION ALL
SELECT 6, format('table `%s` inherits from or is inherited by `%s`', t.name, c.relname)
  FROM pg_catalog.pg_inherits i JOIN t ON t.oid IN (i.inhparent, i.inhrelid)
  JOIN pg_catalog.pg_class c ON c.oid = CASE WHEN t.oid = i.inhparent THEN i.inhrelid ELSE i.inhparent END
UNION ALL
SELECT 7, format('column `%s.%s` is %s%s%s%s%s, not as trailseal creates it', t.name, a.attname,
    pg_catalog.format_type(a.atttypid, a.atttypmod),
    CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' nullable' END,
    CASE WHEN a.atthasdef THEN ' with a default' ELSE '' END,
    CASE WHEN a.attgenerated <> '' OR a.attidentity <> '' THEN ' generated' ELSE '' END,
    CASE WHEN a.attcollation NOT IN (0, 100) THEN ' with a collation' ELSE '' END)
  FROM pg_catalog.pg_attribute a JOIN t ON t.oid = a.attrelid
  WHERE a.attnum > 0 AND NOT a.attisdropped AND (
    (t.name, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod)) NOT IN (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))
    OR NOT a.attnotnull OR a.atthasdef OR a.attgenerated <> '' OR a.attidentity <> ''
    OR a.attcollation NOT IN (0, 100))
UNION ALL
SELECT 8, format('column `%s.%s` is missing', c.tab, c.col)
  FROM unnest($2::text[], $3::text[]) AS c(tab, col) JOIN t ON t.name = c.tab
  WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.oid AND a.attname = c.col AND a.attnum > 0 AND NOT a.attisdropped)
ORDER BY 1, 2
LIMIT 1";

/// Checks trailseal's tables in `schema` (a valid schema name), in one round trip; inside
/// the caller's transaction when it has one.
pub(super) fn check(
    client: &mut impl GenericClient,
    location: &str,
    schema: &str,
) -> Result<(), StoreError> {
    let messages = client
        .simple_query(&check_sql(schema))
        .map_err(|e| StoreError::postgres(location, "read the schema", e))?;
    check_answer(location, &messages)
}

/// The check as one statement with its values written in, so that it can end a batch of
/// statements sent in one round trip (the simple query protocol has no parameters); read its
/// answer with [`check_answer`]. `schema` is a valid schema name (`super::url::valid_schema`),
/// which needs no quoting; it is quoted anyway.
pub(super) fn check_sql(schema: &str) -> String {
    let array = |pick: fn(&(&'static str, &'static str, &'static str)) -> &'static str| {
        let items: Vec<String> = COLUMNS.iter().map(|c| quote(pick(c))).collect();
        format!("ARRAY[{}]", items.join(", "))
    };
    PROBLEMS
        .replace("$1", &quote(schema))
        .replace("$2", &array(|c| c.0))
        .replace("$3", &array(|c| c.1))
        .replace("$4", &array(|c| c.2))
}

/// The name of the check prepared on a connection ([`prepare_sql`]): planned once, then run
/// by every write transaction with [`EXECUTE_SQL`] (planning the check costs some 2 ms of the
/// server's time; running it, some 0.2 ms).
const PREPARED: &str = "trailseal_schema_check";

/// The statement that prepares the check on a connection, once.
pub(super) fn prepare_sql(schema: &str) -> String {
    format!("PREPARE {PREPARED} AS {}", check_sql(schema))
}

/// The statement that runs the prepared check; its answer is read with [`check_answer`].
pub(super) const EXECUTE_SQL: &str = "EXECUTE trailseal_schema_check";

/// Reads the answer of [`check_sql`], the last statement of the batch that gave `messages`.
pub(super) fn check_answer(
    location: &str,
    messages: &[SimpleQueryMessage],
) -> Result<(), StoreError> {
    // The rows of the last statement: those after the last but one statement's completion.
    let mut last = Vec::new();
    let mut current = Vec::new();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(row) => current.push(row),
            SimpleQueryMessage::CommandComplete(_) => last = std::mem::take(&mut current),
            _ => {}
        }
    }
    let problem = match last.first() {
        Some(row) => row
            .try_get(1)
            .map_err(|e| StoreError::postgres(location, "read the schema", e))?
            .map(str::to_owned),
        None => None,
    };
    refuse(location, problem)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn refuse(location: &str, problem: Option<String>) -> Result<(), StoreError> {
    match problem {
        // Names in it can hold any character: shown escaped.
        Some(problem) => Err(StoreError::Schema {
            location: location.to_owned(),
            problem: problem.chars().flat_map(char::escape_debug).collect(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_one_statement_check_has_every_value_written_in() {
        let sql = super::check_sql("tenant_7");
        assert!(!sql.contains('$'), "{sql}");
        assert!(sql.contains("n.nspname = 'tenant_7'"), "{sql}");
        assert!(sql.contains("unnest(ARRAY['trailseal_meta', "), "{sql}");
        assert_eq!(super::quote("a'b"), "'a''b'");
    }

    #[test]
    fn the_prepared_check_is_the_one_executed() {
        assert_eq!(super::EXECUTE_SQL, format!("EXECUTE {}", super::PREPARED));
        assert!(super::prepare_sql("s").ends_with(&super::check_sql("s")));
    }
}
