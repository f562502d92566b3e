use agentauthz::{DecisionLog, Engine, Request, Result};
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
    /// Decide as of this RFC 3339 instant (replays, CI): it sets the engine
    /// clock. A request may not carry its own `now`.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
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
    let mut builder = Engine::builder().bundle(bundle);
    if let Some(path) = args.decision_log {
        builder = builder.decision_log(DecisionLog::file(path)?);
    }
    if let Some(now) = &args.now {
        builder = builder.clock(crate::lifecycle::clock_at(now)?);
    }
    let engine = builder.build()?;
    let result = engine.check(&Request::from_json_str(&text)?);
    engine.flush_decision_log()?;
    let decision = result?;
    println!("{}", agentauthz::ffi::decision_to_value(&decision));
    Ok(if decision.allowed() { 0 } else { 1 })
}
