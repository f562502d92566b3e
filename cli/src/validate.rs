use agentauthz::{Engine, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bundle directory.
    #[arg(long)]
    bundle: PathBuf,
}

pub fn run(args: Args) -> Result<u8> {
    let engine = Engine::load(&args.bundle)?;
    let policies = engine.policies();
    let baseline = policies.iter().filter(|p| p.baseline).count();
    println!(
        "ok: {} valid ({} policies + {} baseline guardrails, revision {})",
        args.bundle.display(),
        policies.len() - baseline,
        baseline,
        engine.policy_revision()
    );
    Ok(0)
}
