use agentauthz::audit::FileOptions;
use agentauthz::{DecisionLog, Engine, IntegrityKeys, Request, Result};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory.
    #[arg(long)]
    bundle: PathBuf,
    /// Request JSON file, or `-` for stdin.
    #[arg(long)]
    request: String,
    /// Append the decision record to this JSON-lines decision log (continuing its chain).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Cut a torn last line of the decision log off (recording that it did)
    /// instead of refusing to continue its chain.
    #[arg(long)]
    recover: bool,
    /// Decide as of this RFC 3339 instant (replays, CI): it sets the engine
    /// clock. A request may not carry its own `now`.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Decide with the run-time changes of a fleet's PostgreSQL store (URL
    /// or `env:VAR`; overrides `[store] postgres`).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

pub fn run(args: Args) -> Result<u8> {
    let text = if args.request == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| {
            agentauthz::Error::new(agentauthz::ErrorCode::Io, format!("cannot read stdin: {e}"))
        })?;
        s
    } else {
        agentauthz::Source::read(std::path::Path::new(&args.request))?.text
    };
    let bundle = agentauthz::Bundle::read_dir(&args.bundle)?;
    let log = match args.decision_log {
        Some(path) => {
            let options = FileOptions::new(path)
                .keys(IntegrityKeys::for_bundle(&bundle)?)
                .recover(args.recover);
            Some(DecisionLog::file_with(options)?)
        }
        None => None,
    };
    let mut builder = Engine::builder()
        .bundle(bundle)
        .recover_journal(args.recover);
    if let Some(log) = log {
        builder = builder.decision_log(log);
    }
    if let Some(now) = &args.now {
        builder = builder.clock(crate::lifecycle::clock_at(now)?);
    }
    if let Some(s) = &args.store {
        builder = builder.postgres(s);
    }
    let engine = builder.build()?;
    let result = engine.check(&Request::from_json_str_with(&text, &engine.limits())?);
    engine.flush_decision_log()?;
    let decision = result?;
    println!("{}", agentauthz::ffi::decision_to_value(&decision));
    Ok(if decision.allowed() { 0 } else { 1 })
}
