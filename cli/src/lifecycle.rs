//! Run-time changes from the shell: `grant`, `revoke`, `grants`, `suspend`,
//! `reactivate`, `offboard`, `lockdown`, `lift-lockdown`, `rotate`, and `session issue|verify|keygen`.
//! Each loads the bundle with its journal (or a fleet's store, `--store`),
//! makes one change (stored before the command returns) and prints the
//! result as JSON.

use agentauthz::{
    DecisionLog, Engine, EntityRef, Error, ErrorCode, ErrorFamily, FixedClock, GrantRequest, Result,
};
use std::path::PathBuf;

/// Where the state lives: the bundle and its journal, or the fleet's store.
#[derive(Debug, clap::Args)]
pub struct Load {
    #[command(flatten)]
    source: crate::source::StateSource,
    /// Journal file (default: `[journal] path` of the bundle's agentauthz.toml).
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    journal: Option<PathBuf>,
    /// Cut a torn last line of the journal and the decision log off
    /// (recording that it did) instead of refusing to load.
    #[arg(long)]
    recover: bool,
    /// Append a record of the change to this JSON-lines decision log.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Act as of this RFC 3339 instant instead of the system clock (scripted
    /// replays, tests, demos): grant windows, session windows and journal times use it.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

/// The engine clock `--now` sets: fixed at that instant.
pub fn clock_at(now: &str) -> Result<std::sync::Arc<dyn agentauthz::Clock>> {
    let clock = FixedClock::at(now).ok_or_else(|| {
        Error::new(
            ErrorCode::RequestInvalid,
            format!("--now {now:?} is not an RFC 3339 timestamp"),
        )
    })?;
    Ok(std::sync::Arc::new(clock))
}

impl Load {
    pub fn engine(&self, needs_journal: bool) -> Result<Engine> {
        let bundle = self.source.bundle.read()?;
        let keys = agentauthz::IntegrityKeys::for_bundle(&bundle)?;
        let mut builder = self
            .source
            .builder_for(bundle)?
            .recover_journal(self.recover);
        if let Some(j) = &self.journal {
            builder = builder.journal(j);
        }
        if let Some(log) = &self.decision_log {
            let options = agentauthz::audit::FileOptions::new(log)
                .keys(keys)
                .recover(self.recover);
            builder = builder.decision_log(DecisionLog::file_with(options)?);
        }
        if let Some(now) = &self.now {
            builder = builder.clock(clock_at(now)?);
        }
        let engine = builder.build()?;
        let shared = engine.store_status().backend == "postgres";
        if needs_journal && engine.journal_path().is_none() && !shared {
            return Err(Error::new(
                ErrorCode::BundleInvalid,
                "a change from the CLI needs a journal to last: give --journal FILE (or --store URL), or set [journal] path (or [store] postgres) in agentauthz.toml",
            ));
        }
        Ok(engine)
    }
}

fn print(value: &serde_json::Value) {
    println!("{value}");
}

/// `Repo::"acme/api"` → the entity reference.
fn entity(text: &str) -> Result<EntityRef> {
    let uid: cedar_policy::EntityUid = text.parse().map_err(|e| {
        Error::new(
            ErrorCode::RequestInvalid,
            format!("--resource {text:?}: expected a Cedar entity like 'Repo::\"acme/api\"': {e}"),
        )
    })?;
    Ok(EntityRef::new(
        uid.type_name().to_string(),
        uid.id().unescaped(),
    ))
}

#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    #[command(flatten)]
    load: Load,
    #[arg(long)]
    agent: String,
    /// An action id (repeat for several).
    #[arg(long = "action", required = true)]
    actions: Vec<String>,
    /// The resource as a Cedar entity: 'Bucket::"reports"' (covers what is in it too).
    #[arg(long)]
    resource: String,
    /// Lifetime in seconds (or give --until).
    #[arg(long, value_name = "SECONDS", conflicts_with = "until")]
    ttl: Option<u64>,
    /// RFC 3339 expiry.
    #[arg(long)]
    until: Option<String>,
    /// RFC 3339 start (default now).
    #[arg(long)]
    starts: Option<String>,
    /// Only within this task of the agent.
    #[arg(long)]
    task: Option<String>,
    #[arg(long)]
    reason: String,
    /// Who grants it.
    #[arg(long)]
    by: String,
}

pub fn grant(args: GrantArgs) -> Result<u8> {
    let engine = args.load.engine(true)?;
    let grant = engine.grant(GrantRequest {
        agent: args.agent,
        actions: args.actions,
        resource: entity(&args.resource)?,
        ttl_seconds: args.ttl,
        until: args.until,
        starts: args.starts,
        task: args.task,
        reason: args.reason,
        granted_by: args.by,
    })?;
    engine.flush_decision_log()?;
    print(&serde_json::to_value(&grant).unwrap_or_default());
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    load: Load,
    /// The grant id.
    #[arg(long)]
    grant: String,
    #[arg(long)]
    by: String,
}

pub fn revoke(args: RevokeArgs) -> Result<u8> {
    let engine = args.load.engine(true)?;
    engine.revoke(&args.grant, &args.by)?;
    engine.flush_decision_log()?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    #[command(flatten)]
    load: Load,
    /// Only this agent's grants.
    #[arg(long)]
    agent: Option<String>,
}

pub fn grants(args: GrantsArgs) -> Result<u8> {
    let engine = args.load.engine(false)?;
    print(&agentauthz::ffi::grants_value(
        &engine,
        args.agent.as_deref(),
    ));
    Ok(0)
}

/// What `suspend`, `reactivate` and `offboard` take.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[command(flatten)]
    load: Load,
    #[arg(long)]
    agent: String,
    #[arg(long)]
    by: String,
}

pub fn agent_change(args: AgentArgs, op: &str) -> Result<u8> {
    let engine = args.load.engine(true)?;
    let change = serde_json::json!({"op": op, "agent": args.agent});
    let entry = agentauthz::ffi::apply_change_value(&engine, change, &args.by)?;
    engine.flush_decision_log()?;
    print(&entry);
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct LockdownArgs {
    #[command(flatten)]
    load: Load,
    /// Why (kept in the journal and the decision log).
    #[arg(long)]
    reason: String,
    #[arg(long)]
    by: String,
}

/// Emergency stop: every agent request is denied (`baseline/lockdown`) until
/// lifted; journaled, so every engine loading the journal sees it.
pub fn lockdown(args: LockdownArgs) -> Result<u8> {
    let engine = args.load.engine(true)?;
    let change = serde_json::json!({"op": "lockdown", "reason": args.reason});
    let entry = agentauthz::ffi::apply_change_value(&engine, change, &args.by)?;
    engine.flush_decision_log()?;
    print(&entry);
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct LiftArgs {
    #[command(flatten)]
    load: Load,
    #[arg(long)]
    by: String,
}

pub fn lift_lockdown(args: LiftArgs) -> Result<u8> {
    let engine = args.load.engine(true)?;
    let change = serde_json::json!({"op": "lift_lockdown"});
    let entry = agentauthz::ffi::apply_change_value(&engine, change, &args.by)?;
    engine.flush_decision_log()?;
    print(&entry);
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    load: Load,
    #[arg(long)]
    credential: String,
    /// RFC 3339 expiry of the rotated credential.
    #[arg(long)]
    expires: String,
    #[arg(long)]
    by: String,
}

pub fn rotate(args: RotateArgs) -> Result<u8> {
    let engine = args.load.engine(true)?;
    engine.rotate_credential(&args.credential, &args.expires, &args.by)?;
    engine.flush_decision_log()?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    #[command(subcommand)]
    command: SessionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SessionCommand {
    /// Issue a signed session token for an agent; prints {token, claims}.
    Issue {
        #[command(flatten)]
        load: Load,
        #[arg(long)]
        agent: String,
        #[arg(long)]
        task: Option<String>,
        /// Lifetime in seconds (capped by [sessions] max_ttl_seconds).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
        #[arg(long)]
        audience: Option<String>,
    },
    /// Verify a token (signature, window, audience, revocation); prints its claims.
    /// Exit 0 valid, 1 rejected, 2 error.
    Verify {
        #[command(flatten)]
        load: Load,
        /// The token, or `-` for stdin.
        #[arg(long)]
        token: String,
        #[arg(long)]
        audience: Option<String>,
    },
    /// Generate an Ed25519 key pair; prints {kid, secret, public} (PASERK).
    Keygen {
        #[arg(long, default_value = "default")]
        kid: String,
    },
}

pub fn session(args: SessionArgs) -> Result<u8> {
    match args.command {
        SessionCommand::Issue {
            load,
            agent,
            task,
            ttl,
            audience,
        } => {
            let engine = load.engine(false)?;
            let input = serde_json::json!({
                "agent": agent, "task": task, "ttl_seconds": ttl, "audience": audience,
            });
            print(&agentauthz::ffi::issue_session_value(&engine, input)?);
            Ok(0)
        }
        SessionCommand::Verify {
            load,
            token,
            audience,
        } => {
            let token = if token == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| Error::new(ErrorCode::Io, format!("cannot read stdin: {e}")))?;
                s.trim().to_string()
            } else {
                token
            };
            let engine = load.engine(false)?;
            match agentauthz::ffi::verify_session_value(&engine, &token, audience.as_deref()) {
                Ok(claims) => {
                    print(&claims);
                    Ok(0)
                }
                Err(e) if e.code().family() == ErrorFamily::Session => {
                    print(&agentauthz::ffi::error_to_value(&e));
                    Ok(1)
                }
                Err(e) => Err(e),
            }
        }
        SessionCommand::Keygen { kid } => {
            print(&agentauthz::ffi::generate_session_key_value(&kid)?);
            Ok(0)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    load: Load,
    /// The request to approve (agent form, as for `check`): a JSON file, or `-` for stdin.
    #[arg(long)]
    request: String,
    /// The user who approves (must pass the `agentauthz:approve` check).
    #[arg(long)]
    by: String,
    /// How many checks of exactly this request it allows.
    #[arg(long, default_value_t = 1)]
    uses: u32,
    /// Lifetime in seconds (default 900).
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
}

/// Approves a request held back by `@approval` forbids; prints the approval.
pub fn approve(args: ApproveArgs) -> Result<u8> {
    let text = if args.request == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot read stdin: {e}")))?;
        s
    } else {
        agentauthz::Source::read(std::path::Path::new(&args.request))?.text
    };
    let engine = args.load.engine(true)?;
    let request = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| Error::new(ErrorCode::RequestParse, format!("request: {e}")))?;
    let args_value = serde_json::json!({
        "request": request,
        "by": args.by,
        "uses": args.uses,
        "ttl_seconds": args.ttl,
    });
    let approval = agentauthz::ffi::approve_value(&engine, args_value)?;
    engine.flush_decision_log()?;
    print(&approval);
    Ok(0)
}
