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
//!
//! TLS (`[store] sslmode`): rustls through `tokio-postgres-rustls`, which
//! plugs into the `postgres` crate's connect. rustls is already the TLS of
//! the JWKS fetch (ureq), its `ring` provider is pinned here explicitly, and
//! nothing of it reaches a wasm32 build (this module is behind `postgres`).

use super::{read_row, ChangeStore, Stored};
use crate::change::Change;
use crate::error::{Error, ErrorCode, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP (a local socket, a private network).
    Disable,
    /// Encrypted; the server's certificate is not checked (libpq's
    /// `require`): protects against eavesdropping, not impersonation. A
    /// server without TLS is refused.
    Require,
    /// Encrypted; the server's certificate must chain to a CA in `ca_file`
    /// (PEM) and name the URL's host (libpq's `verify-full`).
    VerifyFull { ca_file: PathBuf },
}

impl SslMode {
    /// `[store] sslmode` and `ca_file` (relative to `dir`, the bundle
    /// directory, when given).
    pub fn from_config(
        sslmode: Option<&str>,
        ca_file: Option<&str>,
        dir: Option<&Path>,
    ) -> Result<SslMode> {
        let bad = |m: String| Error::new(ErrorCode::ConfigInvalid, format!("[store] {m}"));
        match (sslmode.unwrap_or("disable"), ca_file) {
            ("disable", None) => Ok(SslMode::Disable),
            ("require", None) => Ok(SslMode::Require),
            ("verify-full", Some(ca)) => {
                let path = Path::new(ca);
                let path = match dir {
                    Some(d) if path.is_relative() => d.join(path),
                    _ => path.to_path_buf(),
                };
                Ok(SslMode::VerifyFull { ca_file: path })
            }
            ("verify-full", None) => Err(bad(
                "sslmode \"verify-full\" needs `ca_file` (the CA certificates, PEM)".into(),
            )),
            ("disable" | "require", Some(_)) => Err(bad(
                "`ca_file` goes with sslmode \"verify-full\" (a CA that is not checked protects nothing)"
                    .into(),
            )),
            (other, _) => Err(bad(format!(
                "sslmode {other:?}: one of \"disable\", \"require\", \"verify-full\""
            ))),
        }
    }

    /// The rustls connector, or `None` for plain TCP.
    fn connector(&self) -> Result<Option<MakeRustlsConnect>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorCode::Internal, format!("TLS: {e}")))?;
        let config = match self {
            SslMode::Disable => return Ok(None),
            SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
            SslMode::VerifyFull { ca_file } => builder
                .with_root_certificates(roots(ca_file)?)
                .with_no_client_auth(),
        };
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

/// The CA certificates of `[store] ca_file`.
fn roots(path: &Path) -> Result<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bad = |m: String| {
        Error::new(
            ErrorCode::ConfigInvalid,
            format!("[store] ca_file {}: {m}", path.display()),
        )
    };
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        store.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(store)
}

/// `sslmode = "require"`: any certificate, but the handshake's signatures
/// are still verified (the session is really with the certificate's key).
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A connection target: the URL's settings with agentauthz's timeouts.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    location: String,
    tls: Option<MakeRustlsConnect>,
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
        // The URL's own sslmode is overridden: `[store] sslmode` decides.
        config.ssl_mode(match sslmode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Require | SslMode::VerifyFull { .. } => postgres::config::SslMode::Require,
        });
        let tls = sslmode.connector()?;
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
        Ok(Target {
            config,
            location,
            tls,
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    fn err(&self, what: &str, e: &postgres::Error) -> Error {
        let detail = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            // The cause says why (a certificate refused, a refused
            // connection): the error's own text names only the step.
            None => {
                let mut text = e.to_string();
                let mut cause = std::error::Error::source(e);
                while let Some(c) = cause {
                    text.push_str(": ");
                    text.push_str(&c.to_string());
                    cause = c.source();
                }
                text
            }
        };
        Error::new(
            ErrorCode::Io,
            format!("store {}: {what}: {detail}", self.location),
        )
    }

    /// A connection, over TLS when `[store] sslmode` asks for it.
    fn open(&self) -> Result<Client> {
        let client = match &self.tls {
            None => self.config.connect(NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        };
        client.map_err(|e| self.err("cannot connect", &e))
    }

    /// A new connection to a store `init` has set up.
    pub fn connect(&self) -> Result<Client> {
        let mut client = self.open()?;
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
    let mut client = target.open()?;
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
