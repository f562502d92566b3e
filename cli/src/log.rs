//! `agentauthz log verify|report|export`: the decision log from the shell.

use agentauthz::audit::{self, Report, VerifyOptions};
use agentauthz::{Error, ErrorCode, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Check the hash chain through FILEs (in chain order) and report the first
    /// broken record. Exit 0 intact, 1 damaged, 2 unreadable.
    Verify(VerifyArgs),
    /// Decisions per agent, action and policy, and the decisions log-only
    /// policies (or log-only mode) would have flipped.
    Report(ReportArgs),
    /// Print the records as events of another format, one JSON object per line.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct Files {
    /// Log files in chain order: for a rotated log, decisions.1.jsonl,
    /// decisions.2.jsonl, ..., decisions.jsonl (or use --rotated).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Each FILE is the active file of a rotated log: read its rotated files too, in chain order.
    #[arg(long)]
    rotated: bool,
}

impl Files {
    fn paths(&self) -> Result<Vec<PathBuf>> {
        if !self.rotated {
            return Ok(self.files.clone());
        }
        let mut out = Vec::new();
        for f in &self.files {
            let set = audit::rotated_files(f)?;
            if set.is_empty() {
                return Err(Error::new(
                    ErrorCode::Io,
                    format!("cannot read {}: no such log", f.display()),
                ));
            }
            out.extend(set);
        }
        Ok(out)
    }
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    files: Files,
    /// The head hash recorded earlier (DecisionLog::head): it must be in the
    /// log, otherwise the log lost its tail.
    #[arg(long, value_name = "HASH")]
    expect_head: Option<String>,
    /// Verify a segment whose first record chains to HASH instead of the genesis.
    #[arg(long, value_name = "HASH")]
    start_hash: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    #[command(flatten)]
    files: Files,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// OCSF API Activity (class 6003) events with the Security Control profile.
    Ocsf,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    files: Files,
    #[arg(long, value_enum)]
    format: Format,
}

pub fn run(args: Args) -> Result<u8> {
    match args.command {
        Command::Verify(a) => verify(a),
        Command::Report(a) => report(a),
        Command::Export(a) => export(a),
    }
}

fn internal(e: serde_json::Error) -> Error {
    Error::new(ErrorCode::Internal, e.to_string())
}

fn verify(args: VerifyArgs) -> Result<u8> {
    let paths = args.files.paths()?;
    let options = VerifyOptions {
        expect_head: args.expect_head,
        start_hash: args.start_hash,
    };
    let report = audit::verify_files(&paths, &options)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(internal)?
        );
    } else {
        let range = match (report.first_seq, report.last_seq) {
            (Some(a), Some(b)) => format!("seq {a}..{b}"),
            _ => "no records".to_string(),
        };
        match &report.damage {
            None => println!(
                "ok: {} records ({range}) in {} file{}, chain intact; head {}",
                report.records,
                paths.len(),
                if paths.len() == 1 { "" } else { "s" },
                report.head.as_deref().unwrap_or(audit::GENESIS_HASH)
            ),
            Some(d) => {
                println!("damaged: {d}");
                println!(
                    "{} record{} verified before it ({range})",
                    report.records,
                    if report.records == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if report.intact() { 0 } else { 1 })
}

fn read(files: &Files) -> Result<(Vec<agentauthz::DecisionRecord>, u64)> {
    let mut records = Vec::new();
    let mut unreadable = 0;
    for (file, line, r) in audit::read_records(&files.paths()?)? {
        match r {
            Ok(r) => records.push(r),
            Err(why) => {
                unreadable += 1;
                eprintln!("warning: {file}:{line}: skipped, not a decision record: {why}");
            }
        }
    }
    Ok((records, unreadable))
}

fn report(args: ReportArgs) -> Result<u8> {
    let (records, unreadable) = read(&args.files)?;
    let mut report = Report::from_records(&records);
    report.unreadable = unreadable;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(internal)?
        );
    } else {
        print!("{}", report.to_text());
    }
    Ok(0)
}

fn export(args: ExportArgs) -> Result<u8> {
    let (records, _) = read(&args.files)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for r in &records {
        let event = match args.format {
            Format::Ocsf => audit::to_ocsf(r),
        };
        writeln!(out, "{event}")
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot write: {e}")))?;
    }
    out.flush()
        .map_err(|e| Error::new(ErrorCode::Io, format!("cannot write: {e}")))?;
    Ok(0)
}
