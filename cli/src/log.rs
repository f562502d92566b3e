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
    /// Keep reading FILE as records are appended, across rotation (like
    /// `tail -F`), until interrupted. FILE `-` reads standard input instead.
    #[arg(long)]
    follow: bool,
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

/// Streams (stdin, `--follow`): each record verified on its own (hash,
/// MAC) and against the one before it (chain), then printed at once.
struct Stream {
    keys: IntegrityKeys,
    head: Option<String>,
    skip_invalid: bool,
    format: Format,
    line: u64,
}

impl Stream {
    fn problem(&self, why: String) -> Result<()> {
        if self.skip_invalid {
            eprintln!("warning: line {}: {why}", self.line);
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::LogCorrupt,
            format!(
                "line {}: {why} (--skip-invalid leaves such records out)",
                self.line
            ),
        ))
    }

    /// One line; Ok(false) when stdout is gone (stop quietly).
    fn line(&mut self, line: &[u8], out: &mut impl Write) -> Result<bool> {
        self.line += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(true);
        }
        let r = match audit::verify_record_line(line, &self.keys) {
            Ok(r) => r,
            Err(why) => return self.problem(why).map(|()| true),
        };
        if let Some(head) = &self.head {
            if *head != r.prev_hash {
                self.problem(format!(
                    "the chain breaks before record {} (a record was removed, inserted or reordered)",
                    r.seq
                ))?;
            }
        }
        self.head = Some(r.hash.clone());
        let event = match self.format {
            Format::Ocsf => audit::to_ocsf(&r),
        };
        Ok(writeln!(out, "{event}").and_then(|()| out.flush()).is_ok())
    }

    /// Complete lines of `pending`; the unterminated rest stays.
    fn lines(&mut self, pending: &mut Vec<u8>, out: &mut impl Write) -> Result<bool> {
        let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
            return Ok(true);
        };
        let rest = pending.split_off(end + 1);
        for l in pending.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if !self.line(l, out)? {
                return Ok(false);
            }
        }
        *pending = rest;
        Ok(true)
    }
}

fn export_stream(args: &ExportArgs) -> Result<u8> {
    use std::io::Read;
    let [path] = args.files.files.as_slice() else {
        return Err(Error::new(
            ErrorCode::RequestInvalid,
            "log export: `-` and --follow read one FILE",
        ));
    };
    let mut stream = Stream {
        keys: args.files.options()?.keys,
        head: None,
        skip_invalid: args.skip_invalid,
        format: args.format,
        line: 0,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let mut pending = Vec::new();
    if path.as_os_str() == "-" {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdin.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            if !stream.lines(&mut pending, &mut out)? {
                return Ok(0);
            }
        }
        if !pending.is_empty() {
            stream.problem("incomplete last line (no newline)".into())?;
        }
        return Ok(0);
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    loop {
        file.read_to_end(&mut pending).map_err(io)?;
        if !stream.lines(&mut pending, &mut out)? {
            return Ok(0);
        }
        // Rotated (renamed away, a new file at the path) or truncated: finish
        // the old file through the open handle, then follow the new one.
        if replaced(&file, path) {
            file.read_to_end(&mut pending).map_err(io)?;
            if !stream.lines(&mut pending, &mut out)? {
                return Ok(0);
            }
            if let Ok(f) = std::fs::File::open(path) {
                file = f;
                pending.clear();
                continue;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Whether the file at `path` is no longer the one `file` reads.
fn replaced(file: &std::fs::File, path: &std::path::Path) -> bool {
    use std::io::Seek;
    let Ok(now) = std::fs::metadata(path) else {
        return false; // between the rename and the new file
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(open) = file.metadata() {
            if open.ino() != now.ino() || open.dev() != now.dev() {
                return true;
            }
        }
    }
    let mut f = file;
    f.stream_position().is_ok_and(|pos| now.len() < pos)
}

fn export(args: ExportArgs) -> Result<u8> {
    if args.follow || args.files.files.iter().any(|f| f.as_os_str() == "-") {
        return export_stream(&args);
    }
    let (records, _) = read(&args.files, args.skip_invalid)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = records.iter().try_for_each(|r| {
        let event = match args.format {
            Format::Ocsf => audit::to_ocsf(r),
        };
        writeln!(out, "{event}")
    });
    match written.and_then(|()| out.flush()) {
        // The reader stopped early (`| head`): that ends the export, as for any Unix filter.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::new(ErrorCode::Io, format!("cannot write: {e}")))
        }
        _ => Ok(0),
    }
}
