use agentauthz::audit::FileOptions;
use agentauthz::{DecisionLog, Engine, IntegrityKeys, Request, Result};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: crate::source::StateSource,
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
    /// Check with the identity provider's token (a JWT) held in this
    /// environment variable, verified against `[identity.issuers]`: it names
    /// the agent (the request gives `action`, `resource`, `context`, no
    /// `agent`). The token never appears in output or the decision log.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
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
    let bundle = args.source.bundle.read()?;
    let log = match args.decision_log {
        Some(path) => {
            let options = FileOptions::new(path)
                .keys(IntegrityKeys::for_bundle(&bundle)?)
                .recover(args.recover);
            Some(DecisionLog::file_with(options)?)
        }
        None => None,
    };
    let mut builder = args
        .source
        .builder_for(bundle)?
        .recover_journal(args.recover);
    if let Some(log) = log {
        builder = builder.decision_log(log);
    }
    if let Some(now) = &args.now {
        builder = builder.clock(crate::lifecycle::clock_at(now)?);
    }
    let engine = builder.build()?;
    let result = match &args.token_env {
        Some(var) => token_request(&engine, &text, var).and_then(|r| engine.check_token(&r)),
        None => engine.check(&Request::from_json_str_with(&text, &engine.limits())?),
    };
    engine.flush_decision_log()?;
    let decision = result?;
    println!("{}", agentauthz::ffi::decision_to_value(&decision));
    Ok(if decision.allowed() { 0 } else { 1 })
}

/// The request with the token of `var` added (a token request).
fn token_request(engine: &Engine, text: &str, var: &str) -> Result<agentauthz::TokenRequest> {
    use agentauthz::limits::{parse_json, Input};
    use agentauthz::{Error, ErrorCode};
    let token = std::env::var(var).map_err(|_| {
        Error::new(
            ErrorCode::TokenInvalid,
            format!("environment variable {var} is not set (or not UTF-8)"),
        )
    })?;
    let mut value = parse_json(&engine.limits(), Input::Request, "request", text)?;
    let serde_json::Value::Object(map) = &mut value else {
        return Err(Error::new(
            ErrorCode::RequestParse,
            "a request must be a JSON object",
        ));
    };
    if map.contains_key("agent") || map.contains_key("token") {
        return Err(Error::new(
            ErrorCode::RequestInvalid,
            "with --token-env the token names the agent: the request gives no `agent` or `token`",
        ));
    }
    map.insert("token".into(), token.trim().into());
    serde_json::from_value(value)
        .map_err(|e| Error::new(ErrorCode::RequestParse, format!("token request: {e}")))
}
