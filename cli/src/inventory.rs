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
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    source: crate::source::StateSource,
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

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Import users and teams from SCIM 2.0 exports (ListResponse of Users,
    /// optionally of Groups), keeping agents and their owner links; users the
    /// export no longer holds become inactive. Prints the new inventory (JSON).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// Bundle directory whose inventory is the starting point.
    #[arg(long)]
    bundle: PathBuf,
    /// `Users.json` and optionally `Groups.json` (SCIM 2.0 ListResponse documents).
    #[arg(long, num_args = 1..=2, value_names = ["USERS", "GROUPS"], required = true)]
    scim: Vec<PathBuf>,
    /// Write the inventory to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn import(args: ImportArgs) -> Result<u8> {
    use agentauthz::limits::{parse_json, parse_yaml, Input, Limits};
    let limits = Limits::default();
    let mut bundle = agentauthz::Bundle::read_dir(&args.bundle)?;
    let inventory = match &bundle.inventory {
        Some(src) => parse_yaml(&limits, Input::Inventory, &src.name, &src.text)?,
        None => serde_json::Value::Null,
    };
    let mut docs = Vec::new();
    for path in &args.scim {
        let src = agentauthz::Source::read(path)?;
        docs.push(parse_json(&limits, Input::Inventory, &src.name, &src.text)?);
    }
    let (out, report) = agentauthz::scim::import_scim(inventory, &docs[0], docs.get(1))?;
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    // The result must load with the bundle, or nothing is written.
    bundle.inventory = Some(agentauthz::Source::new("inventory.json", text.clone()));
    Engine::from_bundle(bundle)?;
    match &args.out {
        Some(path) => std::fs::write(path, format!("{text}\n")).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot write {}: {e}", path.display()),
            )
        })?,
        None => println!("{text}"),
    }
    eprintln!(
        "imported {} users ({} inactive: {}), {} teams; not in the export, made inactive: {}",
        report.users,
        report.inactive.len(),
        report.inactive.join(", "),
        report.teams,
        if report.missing.is_empty() {
            "none".to_string()
        } else {
            report.missing.join(", ")
        },
    );
    Ok(0)
}

pub fn run(args: Args) -> Result<u8> {
    if let Some(Sub::Import(import_args)) = args.command {
        return import(import_args);
    }
    let engine = args.source.engine()?;
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
