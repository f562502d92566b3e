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
    let engine = match args.decision_log {
        Some(path) => {
            let options = FileOptions::new(path)
                .keys(IntegrityKeys::for_bundle(&bundle)?)
                .recover(args.recover);
            Engine::builder()
                .bundle(bundle)
                .decision_log(DecisionLog::file_with(options)?)
                .recover_journal(args.recover)
                .build()?
        }
        None => Engine::from_bundle(bundle)?,
    };
    let result = engine.check(&Request::from_json_str_with(&text, &engine.limits())?);
    engine.flush_decision_log()?;
    let decision = result?;
    println!("{}", agentauthz::ffi::decision_to_value(&decision));
    Ok(if decision.allowed() { 0 } else { 1 })
}
