use agentauthz::{Engine, Request, Result};
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
    let engine = Engine::load(&args.bundle)?;
    let decision = engine.check(&Request::from_json_str(&text)?)?;
    println!("{}", agentauthz::ffi::decision_to_value(&decision));
    Ok(if decision.allowed() { 0 } else { 1 })
}
