//! The PostgreSQL change store: one table, `agentauthz_changes`, whose
//! sequence the database assigns (a trigger numbers each row from a one-row
//! counter, under that row's lock, so numbers follow commit order with no
//! gaps), with the writer's identity and the database's time recorded. An
//! insert notifies channel `agentauthz_changes`; engines `LISTEN` on it and
//! poll as a fallback. The table is append-only (a trigger refuses updates
//! and deletes). `agentauthz store init` creates it all ([`init`]).
//!
//! Why the synchronous `postgres` crate: the engine is synchronous (a
//! writer lock, a follower thread), so the async client underneath stays an
//! implementation detail; it is the maintained rust-postgres project, with
//! LISTEN/NOTIFY support and no macros or compile-time database access.

use super::{read_row, ChangeStore, Stored};
use crate::change::Change;
use crate::error::{Error, ErrorCode, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::time::Duration;

/// The channel inserts notify (the payload is the new sequence number).
pub const CHANNEL: &str = "agentauthz_changes";

/// The schema, idempotent (`store init` may run again, e.g. after an upgrade).
pub const MIGRATION: &str = r#"
CREATE TABLE IF NOT EXISTS agentauthz_seq (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    last bigint NOT NULL
);
INSERT INTO agentauthz_seq (one, last) VALUES (true, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS agentauthz_changes (
    seq         bigint PRIMARY KEY,
    at          text NOT NULL,
    by_id       text NOT NULL,
    writer      text NOT NULL,
    db_user     text NOT NULL DEFAULT current_user,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    change      text NOT NULL,
    basis       text
);
COMMENT ON TABLE agentauthz_changes IS 'agentauthz change store, layout 1: one row per run-time change, in seq order';
CREATE OR REPLACE FUNCTION agentauthz_assign_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agentauthz_seq SET last = last + 1 RETURNING last INTO NEW.seq;
    NEW.recorded_at := now();
    NEW.db_user := current_user;
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION agentauthz_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agentauthz_changes', NEW.seq::text);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION agentauthz_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agentauthz_changes is append-only';
END $$;
DROP TRIGGER IF EXISTS agentauthz_assign_seq ON agentauthz_changes;
CREATE TRIGGER agentauthz_assign_seq BEFORE INSERT ON agentauthz_changes
    FOR EACH ROW EXECUTE FUNCTION agentauthz_assign_seq();
DROP TRIGGER IF EXISTS agentauthz_notify ON agentauthz_changes;
CREATE TRIGGER agentauthz_notify AFTER INSERT ON agentauthz_changes
    FOR EACH ROW EXECUTE FUNCTION agentauthz_notify();
DROP TRIGGER IF EXISTS agentauthz_append_only ON agentauthz_changes;
CREATE TRIGGER agentauthz_append_only BEFORE UPDATE OR DELETE ON agentauthz_changes
    FOR EACH ROW EXECUTE FUNCTION agentauthz_append_only();
DROP TRIGGER IF EXISTS agentauthz_no_truncate ON agentauthz_changes;
CREATE TRIGGER agentauthz_no_truncate BEFORE TRUNCATE ON agentauthz_changes
    FOR EACH STATEMENT EXECUTE FUNCTION agentauthz_append_only();
"#;

const SELECT_AFTER: &str = "SELECT seq, at, by_id, change, basis FROM agentauthz_changes \
                            WHERE seq > $1 ORDER BY seq LIMIT $2";

/// `[store] sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (a local socket, a private network).
    Disable,
}

/// A connection target: the URL's settings with agentauthz's timeouts.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    location: String,
}

impl std::fmt::Debug for Target {
    // Never the URL: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("location", &self.location)
            .finish()
    }
}

impl Target {
    /// A `postgres://user@host:port/db?...` URL (or `key=value` settings).
    pub fn parse(url: &str, sslmode: SslMode) -> Result<Target> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            // The message names the bad part, never the password.
            Error::new(
                ErrorCode::ConfigInvalid,
                format!("[store] postgres: not a PostgreSQL connection URL: {e}"),
            )
        })?;
        match sslmode {
            SslMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
            }
        }
        config.connect_timeout(Duration::from_secs(5));
        config.keepalives_idle(Duration::from_secs(10));
        config.application_name("agentauthz");
        // A statement never holds the writer lock for long on a stuck server.
        config.options("-c statement_timeout=10000 -c lock_timeout=10000");
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_default();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("").to_string();
        let location = format!("postgres {host}:{port}/{db}");
        Ok(Target { config, location })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn err(&self, what: &str, e: &postgres::Error) -> Error {
        let detail = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        };
        Error::new(
            ErrorCode::Io,
            format!("store {}: {what}: {detail}", self.location),
        )
    }

    /// A new connection to a store `init` has set up.
    pub fn connect(&self) -> Result<Client> {
        let mut client = self
            .config
            .connect(NoTls)
            .map_err(|e| self.err("cannot connect", &e))?;
        let row = client
            .query_one("SELECT to_regclass('agentauthz_changes') IS NOT NULL", &[])
            .map_err(|e| self.err("cannot read the schema", &e))?;
        if !row.get::<_, bool>(0) {
            return Err(Error::new(
                ErrorCode::Io,
                format!(
                    "store {}: no agentauthz_changes table: run `agentauthz store init --postgres URL` first",
                    self.location
                ),
            ));
        }
        Ok(client)
    }

    /// A connection listening on [`CHANNEL`].
    pub fn listen(&self) -> Result<Client> {
        let mut client = self.connect()?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| self.err("cannot LISTEN", &e))?;
        Ok(client)
    }

    /// Changes after `applied` over `client`.
    pub fn read_after(
        &self,
        client: &mut Client,
        applied: u64,
        limit: usize,
    ) -> Result<Vec<Stored>> {
        let after = i64::try_from(applied).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = client
            .query(SELECT_AFTER, &[&after, &limit])
            .map_err(|e| self.err("cannot read changes", &e))?;
        Ok(rows.iter().map(stored).collect())
    }
}

fn stored(row: &postgres::Row) -> Stored {
    read_row(
        row.get(0),
        row.get(1),
        row.get(2),
        row.get::<_, &str>(3),
        row.get(4),
    )
}

/// Waits up to `timeout` for a notification on a [`Target::listen`]
/// connection; drains the others. `Ok(false)`: none came.
pub fn wait(client: &mut Client, timeout: Duration) -> std::result::Result<bool, String> {
    let mut notifications = client.notifications();
    let first = notifications
        .timeout_iter(timeout)
        .next()
        .map_err(|e| e.to_string())?;
    if first.is_none() {
        return Ok(false);
    }
    let mut rest = notifications.iter();
    while rest.next().map_err(|e| e.to_string())?.is_some() {}
    Ok(true)
}

/// Creates (or brings up to date) the table, counter and triggers.
pub fn init(target: &Target) -> Result<()> {
    let mut client = target
        .config
        .connect(NoTls)
        .map_err(|e| target.err("cannot connect", &e))?;
    let mut tx = client
        .transaction()
        .map_err(|e| target.err("cannot begin", &e))?;
    // Two `init`s at once take turns.
    tx.batch_execute("SELECT pg_advisory_xact_lock(7261636861)")
        .and_then(|()| tx.batch_execute(MIGRATION))
        .map_err(|e| target.err("migration failed", &e))?;
    tx.commit().map_err(|e| target.err("cannot commit", &e))
}

/// An engine's writing connection (reconnected on demand).
pub struct PgStore {
    target: Target,
    writer: String,
    client: Option<Client>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// `writer` is recorded with every change this engine appends.
    pub fn new(target: Target, writer: impl Into<String>) -> PgStore {
        PgStore {
            target,
            writer: writer.into(),
            client: None,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.target.connect()?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::new(ErrorCode::Internal, "no store connection"))
    }

    /// Drops a connection that failed, so the next call reconnects.
    fn forget<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.client = None;
        }
        r
    }
}

impl ChangeStore for PgStore {
    fn append(
        &mut self,
        applied: u64,
        at: String,
        by: &str,
        change: &Change,
        basis: Option<String>,
    ) -> Result<Vec<Stored>> {
        let text = serde_json::to_string(change)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        let writer = self.writer.clone();
        let target = self.target.clone();
        let after = i64::try_from(applied).unwrap_or(i64::MAX);
        let r = self.client().and_then(|client| {
            let err = |what: &str, e: postgres::Error| target.err(what, &e);
            let mut tx = client.transaction().map_err(|e| err("cannot begin", e))?;
            let row = tx
                .query_one(
                    "INSERT INTO agentauthz_changes (at, by_id, writer, change, basis) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                    &[&at, &by, &writer, &text, &basis],
                )
                .map_err(|e| err("cannot append", e))?;
            let seq: i64 = row.get(0);
            // Under the counter's row lock every earlier change is committed:
            // this reads all of them, so the caller applies in order.
            let rows = tx
                .query(
                    "SELECT seq, at, by_id, change, basis FROM agentauthz_changes \
                     WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                    &[&after, &seq],
                )
                .map_err(|e| err("cannot read changes", e))?;
            tx.commit().map_err(|e| err("cannot commit", e))?;
            Ok(rows.iter().map(stored).collect())
        });
        self.forget(r)
    }

    fn read_after(&mut self, applied: u64, limit: usize) -> Result<Vec<Stored>> {
        let target = self.target.clone();
        let r = self
            .client()
            .and_then(|c| target.read_after(c, applied, limit));
        self.forget(r)
    }

    fn describe(&self) -> String {
        self.target.location.clone()
    }
}
