use agentauthz::posture::{self, PostureOptions, Severity};
use agentauthz::{Error, ErrorCode, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: crate::source::StateSource,
    /// Decision logs (DecisionRecord JSON lines).
    #[arg(long, num_args = 1..)]
    logs: Vec<PathBuf>,
    /// API access logs (JSON lines or CloudTrail files) for shadow-agent discovery.
    #[arg(long = "access-log", num_args = 1..)]
    access_log: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit 1 when a finding at or above this severity exists (info, low, medium, high, critical).
    #[arg(long = "fail-on")]
    fail_on: Option<String>,
    /// Reference time (RFC 3339) for ages, expiry and staleness; default: now.
    #[arg(long)]
    now: Option<String>,
}

pub fn run(args: Args) -> Result<u8> {
    let threshold = args
        .fail_on
        .as_deref()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                Error::new(
                    ErrorCode::RequestParse,
                    format!("--fail-on `{s}`: use info, low, medium, high or critical"),
                )
            })
        })
        .transpose()?;
    let engine = args.source.engine()?;
    let options = PostureOptions {
        now_millis: crate::inventory::now_millis(args.now.as_deref())?,
        logs: args.logs,
        access_logs: args.access_log,
    };
    let report = posture::posture(&engine, &options)?;
    let internal = |e: serde_json::Error| Error::new(ErrorCode::Internal, e.to_string());
    match args.format {
        Format::Text => print!("{}", posture::posture_text(&report)),
        Format::Markdown => print!("{}", posture::posture_markdown(&report)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(internal)?
        ),
        Format::Sarif => println!(
            "{}",
            serde_json::to_string_pretty(&posture::posture_sarif(
                &report,
                &args.source.bundle.describe()
            ))
            .map_err(internal)?
        ),
    }
    Ok(match threshold {
        Some(t) if report.fails(t) => 1,
        _ => 0,
    })
}
