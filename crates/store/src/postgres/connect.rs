//! Connecting to a PostgreSQL store: the URL's parameters, the connection, the tables made
//! when a writer asks for them, and the checks a store passes before it is used.

use std::str::FromStr;

use postgres::NoTls;
use postgres::error::SqlState;

use super::url::{DEFAULT_LOCK_TIMEOUT, parse_lock_timeout, redact_url, take_param, valid_schema};
use super::{PgStore, SCHEMA_VERSION, lock, schema};
use crate::{OpenMode, StoreError};

/// The columns of `trailseal_tree`.
const TREE_COLUMNS: &str = "idx BIGINT PRIMARY KEY, hash BYTEA NOT NULL";

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
            tree: None,
            lock_key: lock::chain_lock_key(&schema),
            lock_timeout,
            statements: None,
            check_prepared: false,
            frontier: crate::FrontierCache::default(),
        };
        store.check_schema(&schema, mode)?;
        schema::check(&mut store.client, &store.location, &schema)?;
        Ok(store)
    }

    /// Turns a server error during `action` into the store's error: a repeated `action_id`
    /// (the unique index refused it) as [`StoreError::DuplicateActionId`] naming it.
    pub(super) fn err(
        &self,
        action: &'static str,
    ) -> impl Fn(postgres::Error) -> StoreError + use<> {
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
            lock.take(&mut tx)?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {traces} (seq BIGINT PRIMARY KEY, action_id TEXT NOT NULL UNIQUE, prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, invoked_at TEXT NOT NULL, payload TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {retention} (idx BIGINT PRIMARY KEY, receipt TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS {schema}.trailseal_tree ({TREE_COLUMNS});
                 INSERT INTO {meta} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;"
            ))
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        let version = self.meta_value("schema_version")?;
        crate::error::refuse_newer_schema(&self.location, version, SCHEMA_VERSION)?;
        self.find_tree_table(schema, mode)
    }

    /// Finds `trailseal_tree`; a store created before it had one gets it when opened for
    /// writing by a role that may create tables (an append-only role carries on without).
    fn find_tree_table(&mut self, schema: &str, mode: OpenMode) -> Result<(), StoreError> {
        let err = self.err("read the schema");
        let sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'trailseal_tree'";
        let mut exists = self
            .client
            .query_opt(sql, &[&schema])
            .map_err(&err)?
            .is_some();
        if !exists && matches!(mode, OpenMode::Write { .. }) {
            let created = self.client.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {schema}.trailseal_tree ({TREE_COLUMNS})"
            ));
            match created {
                Ok(()) => exists = true,
                Err(e)
                    if e.as_db_error()
                        .is_some_and(|d| *d.code() == SqlState::INSUFFICIENT_PRIVILEGE) => {}
                Err(e) => return Err(err(e)),
            }
        }
        self.tree = exists.then(|| format!("{schema}.trailseal_tree"));
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
}
