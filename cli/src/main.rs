//! `agentauthz`: check requests, validate and test policy bundles from the shell and CI.

mod bundle_cmd;
mod check;
mod inventory;
mod lifecycle;
mod log;
mod mcp;
mod posture;
mod schema;
mod source;
mod store;
mod test_cmd;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "agentauthz",
    version,
    about = "Identity-based authorization for AI agents, on Cedar",
    after_help = "Every command that loads a bundle takes --bundle DIR, or --bundle-url URL \
(a signed archive; with --bundle-public-key KID=KEY and --bundle-cache DIR). Those that \
decide or report on run-time state (check, posture, inventory, store status, mcp proxy, \
approve, session, and the changes: grant, offboard, ...) take --store URL|env:VAR: a \
fleet's PostgreSQL change store, read in full before the command acts."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide one request; prints the Decision JSON. Exit 0 allow, 1 deny, 2 error.
    Check(check::Args),
    /// Load and strictly validate a bundle; warn about forbids that may error at
    /// run time (`--strict`: they are errors). Exit 0 valid, 2 invalid.
    Validate(validate::Args),
    /// Run a bundle's policy tests (YAML, and Cedar `run-tests` JSON). Exit 0 pass, 1 fail, 2 error.
    Test(test_cmd::Args),
    /// Decision logs: verify the hash chain, report, export to OCSF.
    Log(log::Args),
    /// List every agent: owner, status, credentials, open tasks, last activity, effective permissions.
    Inventory(inventory::Args),
    /// Posture findings (owners, credentials, over-broad and unused permissions, shadow agents).
    /// Exit 1 with --fail-on when a finding at or above that severity exists, 2 on error.
    Posture(posture::Args),
    /// Grant an agent actions on a resource for a window (just-in-time); prints the grant.
    Grant(lifecycle::GrantArgs),
    /// End a grant before its expiry.
    Revoke(lifecycle::RevokeArgs),
    /// List the grants in force.
    Grants(lifecycle::GrantsArgs),
    /// Suspend an agent (it may not act until reactivated).
    Suspend(lifecycle::AgentArgs),
    /// Reactivate a suspended agent.
    Reactivate(lifecycle::AgentArgs),
    /// Offboard an agent: final; its grants, tasks and sessions revoked, credentials marked revoked.
    Offboard(lifecycle::AgentArgs),
    /// Emergency stop: deny every agent request (reason `baseline/lockdown`) until lifted.
    Lockdown(lifecycle::LockdownArgs),
    /// End the emergency stop.
    LiftLockdown(lifecycle::LiftArgs),
    /// Record a credential rotation: issued now, valid until --expires.
    Rotate(lifecycle::RotateArgs),
    /// Approve one request held back by an `@approval` forbid (journaled); prints the approval.
    Approve(lifecycle::ApproveArgs),
    /// Signed, short-lived agent session tokens.
    Session(lifecycle::SessionArgs),
    /// Schemas from other sources: `schema from-mcp` (an MCP server's tools/list).
    Schema(schema::Args),
    /// MCP: `mcp proxy` guards any stdio MCP server.
    Mcp(mcp::Args),
    /// The change store a fleet shares: `store init --postgres URL`, `store status`.
    Store(store::Args),
    /// Signed bundle archives: `bundle build DIR -o bundle.tar.gz`, `bundle sign`, `bundle verify`.
    Bundle(bundle_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = agentauthz::ffi::catch_panic(|| match cli.command {
        Command::Check(args) => check::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Test(args) => test_cmd::run(args),
        Command::Log(args) => log::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Posture(args) => posture::run(args),
        Command::Grant(args) => lifecycle::grant(args),
        Command::Revoke(args) => lifecycle::revoke(args),
        Command::Grants(args) => lifecycle::grants(args),
        Command::Suspend(args) => lifecycle::agent_change(args, "suspend"),
        Command::Reactivate(args) => lifecycle::agent_change(args, "reactivate"),
        Command::Offboard(args) => lifecycle::agent_change(args, "offboard"),
        Command::Lockdown(args) => lifecycle::lockdown(args),
        Command::LiftLockdown(args) => lifecycle::lift_lockdown(args),
        Command::Rotate(args) => lifecycle::rotate(args),
        Command::Approve(args) => lifecycle::approve(args),
        Command::Session(args) => lifecycle::session(args),
        Command::Schema(args) => schema::run(args),
        Command::Mcp(args) => mcp::run(args),
        Command::Store(args) => store::run(args),
        Command::Bundle(args) => bundle_cmd::run(args),
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
