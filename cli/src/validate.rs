use agentauthz::{Engine, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory (or one holding only `agentauthz.toml` with `[bundle] url`).
    #[arg(long, required_unless_present = "bundle_url")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    url: crate::bundle_cmd::UrlArgs,
    /// Treat warnings (forbids that may error at run time or never match) as
    /// errors: exit 2 with code `policy_may_error`.
    #[arg(long)]
    strict: bool,
}

pub fn run(args: Args) -> Result<u8> {
    // Strict: the builder refuses a bundle with warnings (`policy_may_error`).
    let bundle = args.url.read(args.bundle.as_deref())?;
    let mut builder = args
        .url
        .apply(Engine::builder().bundle(bundle), args.bundle.as_deref())?;
    if args.strict {
        builder = builder.strict(true);
    }
    let engine = builder.build()?;
    let warnings = engine.warnings();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let policies = engine.policies();
    let baseline = policies.iter().filter(|p| p.baseline).count();
    println!(
        "ok: {} valid ({} policies + {} baseline guardrails, revision {}){}",
        match (&args.url.bundle_url, &args.bundle) {
            (Some(url), _) => url.clone(),
            (None, Some(dir)) => dir.display().to_string(),
            (None, None) => String::new(),
        },
        policies.len() - baseline,
        baseline,
        engine.policy_revision(),
        match warnings.len() {
            0 => String::new(),
            1 => ", 1 warning".to_string(),
            n => format!(", {n} warnings"),
        }
    );
    Ok(0)
}
