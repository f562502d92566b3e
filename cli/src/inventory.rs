use agentauthz::posture::{self, PostureOptions};
use agentauthz::{Engine, Error, ErrorCode, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory.
    #[arg(long)]
    bundle: PathBuf,
    /// Decision logs (DecisionRecord JSON lines), for last activity.
    #[arg(long, num_args = 1..)]
    logs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Reference time (RFC 3339) for ages and expiry; default: now.
    #[arg(long)]
    now: Option<String>,
}

/// `--now` or the system clock, in ms.
pub fn now_millis(now: Option<&str>) -> Result<i64> {
    match now {
        Some(t) => agentauthz::FixedClock::at(t)
            .map(|c| agentauthz::Clock::now_millis(&c))
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::RequestParse,
                    format!("--now `{t}` is not an RFC 3339 time"),
                )
            }),
        None => Ok(agentauthz::Clock::now_millis(&agentauthz::SystemClock)),
    }
}

pub fn run(args: Args) -> Result<u8> {
    let engine = Engine::load(&args.bundle)?;
    let options = PostureOptions {
        now_millis: now_millis(args.now.as_deref())?,
        logs: args.logs,
        access_logs: Vec::new(),
    };
    let report = posture::inventory(&engine, &options)?;
    match args.format {
        Format::Table => print!("{}", posture::inventory_table(&report)),
        Format::Csv => print!("{}", posture::inventory_csv(&report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?
        ),
    }
    Ok(0)
}
