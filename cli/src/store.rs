//! `agentauthz store init|status`: the change store a fleet of engines
//! shares (PostgreSQL).

use agentauthz::{Error, ErrorCode, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Create (or bring up to date) the change table, its counter and
    /// triggers in a PostgreSQL database. Safe to run again.
    Init {
        /// Connection URL (`postgres://user@host:port/db`), or `env:VAR`.
        #[arg(long, value_name = "URL")]
        postgres: String,
        /// TLS to the server, as `[store] sslmode`: `disable` (the
        /// default), `require`, or `verify-full` (with `--ca-file`).
        #[arg(long, value_name = "MODE")]
        sslmode: Option<String>,
        /// `verify-full`: the CA certificates (PEM) the server's must chain to.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<String>,
    },
    /// Load the bundle, catch up with its store and print the store status
    /// as JSON. Exit 0 in sync, 1 stale or behind a gap, 2 on error.
    Status {
        #[command(flatten)]
        source: crate::source::StateSource,
    },
}

pub fn run(args: Args) -> Result<u8> {
    match args.command {
        Command::Init {
            postgres,
            sslmode,
            ca_file,
        } => {
            let location =
                agentauthz::ffi::store_init(&postgres, sslmode.as_deref(), ca_file.as_deref())?;
            println!(
                "{}",
                serde_json::json!({"initialized": location, "table": "agentauthz_changes"})
            );
            Ok(0)
        }
        Command::Status { source } => {
            let engine = source.engine()?;
            let status = engine.store_status();
            let mut value = serde_json::to_value(&status)
                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            if let Some(map) = value.as_object_mut() {
                map.insert("skipped_changes".into(), engine.skipped_changes().into());
                map.insert("state_hash".into(), engine.state_hash()?.into());
            }
            println!("{value}");
            Ok(u8::from(status.stale || status.gap_after.is_some()))
        }
    }
}
