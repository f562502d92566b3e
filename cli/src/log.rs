//! `agentauthz log verify|report|export`: the decision log from the shell.

use agentauthz::audit::{self, Report, VerifyOptions};
use agentauthz::session::KeySource;
use agentauthz::{Bundle, Error, ErrorCode, IntegrityKey, IntegrityKeys, Result};
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
    /// Check record MACs with the `[integrity]` key of this bundle's agentauthz.toml.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["key_env", "key_file"])]
    bundle: Option<PathBuf>,
    /// Check record MACs with the key in this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "key_file")]
    key_env: Option<String>,
    /// Check record MACs with the key in this file.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// The id of the key given by --key-env or --key-file.
    #[arg(long, value_name = "ID", default_value = "default")]
    key_id: String,
    /// Do not compare the log with its checkpoint (`FILE.checkpoint`).
    #[arg(long)]
    ignore_checkpoint: bool,
}

impl Files {
    fn options(&self) -> Result<VerifyOptions> {
        let keys = if let Some(dir) = &self.bundle {
            IntegrityKeys::for_bundle(&Bundle::read_dir(dir)?)?
        } else if let Some(var) = &self.key_env {
            IntegrityKeys::new(IntegrityKey::from_source(
                self.key_id.clone(),
                &KeySource::Env(var.clone()),
            )?)
        } else if let Some(file) = &self.key_file {
            IntegrityKeys::new(IntegrityKey::from_source(
                self.key_id.clone(),
                &KeySource::File(file.clone()),
            )?)
        } else {
            IntegrityKeys::none()
        };
        Ok(VerifyOptions {
            keys,
            ignore_checkpoint: self.ignore_checkpoint,
            ..VerifyOptions::default()
        })
    }

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
    /// Leave out records that do not verify (and say how many) instead of failing.
    #[arg(long)]
    skip_invalid: bool,
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
    /// Leave out records that do not verify (and say how many) instead of failing.
    #[arg(long)]
    skip_invalid: bool,
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
        ..args.files.options()?
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
            None => {
                println!(
                    "ok: {} records ({range}) in {} file{}, chain intact; head {}",
                    report.records,
                    paths.len(),
                    if paths.len() == 1 { "" } else { "s" },
                    report.head.as_deref().unwrap_or(audit::GENESIS_HASH)
                );
                println!(
                    "{}; {}",
                    if report.authenticated {
                        "every record's MAC verified"
                    } else {
                        "records unauthenticated (no key given, none carries a MAC)"
                    },
                    match report.checkpoint_seq {
                        Some(seq) => format!("checkpoint at seq {seq} found in the log"),
                        None => "no checkpoint: a removed tail would go unnoticed".to_string(),
                    }
                );
            }
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

/// The records of a log as evidence: every record must verify, unless
/// `skip_invalid`, in which case the unsound ones are left out and counted.
fn read(files: &Files, skip_invalid: bool) -> Result<(Vec<agentauthz::DecisionRecord>, u64)> {
    let log = audit::read_verified(&files.paths()?, &files.options()?)?;
    if let Some(d) = &log.report.damage {
        if !skip_invalid {
            return Err(Error::new(
                ErrorCode::LogCorrupt,
                format!("the log does not verify: {d} (run `agentauthz log verify`; --skip-invalid leaves unsound records out)"),
            ));
        }
        eprintln!("warning: the log does not verify: {d}");
    }
    let skipped = log.unsound as u64;
    if skipped > 0 {
        eprintln!(
            "warning: skipped {skipped} unverifiable line{}",
            if skipped == 1 { "" } else { "s" }
        );
    }
    Ok((log.records, skipped))
}

fn report(args: ReportArgs) -> Result<u8> {
    let (records, unreadable) = read(&args.files, args.skip_invalid)?;
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
    let (records, _) = read(&args.files, args.skip_invalid)?;
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
