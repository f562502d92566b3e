use agentauthz::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: crate::source::BundleSource,
    /// Treat warnings (forbids that may error at run time or never match) as
    /// errors: exit 2 with code `policy_may_error`.
    #[arg(long)]
    strict: bool,
}

pub fn run(args: Args) -> Result<u8> {
    // Strict: the builder refuses a bundle with warnings (`policy_may_error`).
    let mut builder = args.source.builder_for(args.source.read()?)?;
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
        args.source.describe(),
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
