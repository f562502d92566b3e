//! `agentauthz mcp proxy`: starts an MCP server over stdio and sits between
//! it and the client. The message rules are the core's (`agentauthz::mcp::Proxy`);
//! this file only moves lines: one thread per direction, bounded line reads.

use agentauthz::mcp::{
    Identity, Proxy, ProxyEvent, ProxyOptions, ServerExit, Step, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING, DEFAULT_SERVER,
};
use agentauthz::{Engine, Error, ErrorCode, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: McpCommand,
}

#[derive(Debug, clap::Subcommand)]
enum McpCommand {
    /// Start an MCP server (stdio) behind agentauthz: every tools/call is
    /// checked, tools/list shows only the tools the agent may call, denied
    /// calls are answered here and never reach the server.
    Proxy(ProxyArgs),
}

#[derive(Debug, clap::Args)]
struct ProxyArgs {
    #[command(flatten)]
    load: crate::lifecycle::Load,
    /// The agent every call is made as.
    #[arg(
        long,
        conflicts_with = "session_env",
        required_unless_present = "session_env"
    )]
    agent: Option<String>,
    /// Read an agentauthz session token from this environment variable; its
    /// verified agent and task make every call.
    #[arg(long, value_name = "VAR")]
    session_env: Option<String>,
    /// The audience the session token must carry (default: `[sessions] audience`).
    #[arg(long)]
    audience: Option<String>,
    /// The server's name: tools are the actions "<server>:<tool>" on `McpServer::"<server>"`.
    #[arg(long, default_value = DEFAULT_SERVER)]
    server: String,
    /// The Cedar namespace the schema declares `McpServer` in (`schema from-mcp --namespace`).
    #[arg(long)]
    namespace: Option<String>,
    /// Write one JSON line per decision, refused or dropped message here (default: stderr).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Largest message either way, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// Most client requests in flight.
    #[arg(long, default_value_t = DEFAULT_MAX_PENDING)]
    max_pending: usize,
    /// The server command and its arguments (after `--`).
    #[arg(last = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

pub fn run(args: Args) -> Result<u8> {
    let McpCommand::Proxy(args) = args.command;
    proxy(args)
}

/// One line read with a bound: a longer line is consumed and dropped, never held.
enum Line {
    Message(Vec<u8>),
    TooLarge,
    Eof,
}

fn read_line(r: &mut impl BufRead, max: usize, buf: &mut Vec<u8>) -> std::io::Result<Line> {
    buf.clear();
    let mut too_large = false;
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if too_large {
                Line::TooLarge
            } else if buf.is_empty() {
                Line::Eof
            } else {
                Line::Message(std::mem::take(buf))
            });
        }
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1),
            None => (avail, avail.len()),
        };
        let newline = done > chunk.len();
        if !too_large && buf.len() + chunk.len() > max {
            too_large = true;
            buf.clear();
            buf.shrink_to(64 << 10);
        }
        if !too_large {
            buf.extend_from_slice(chunk);
        }
        r.consume(done);
        if newline {
            return Ok(if too_large {
                Line::TooLarge
            } else {
                Line::Message(std::mem::take(buf))
            });
        }
    }
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

struct Shared {
    engine: Engine,
    proxy: Mutex<Proxy>,
    server_in: Mutex<Option<ChildStdin>>,
    log: Sink,
}

impl Shared {
    fn log(&self, events: &[ProxyEvent]) {
        if events.is_empty() {
            return;
        }
        let ts = agentauthz::format_millis(self.engine.clock().now_millis());
        if let Ok(mut log) = self.log.lock() {
            for ev in events {
                let mut v = serde_json::to_value(ev).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("ts".into(), serde_json::Value::String(ts.clone()));
                }
                let _ = writeln!(log, "{v}");
            }
            let _ = log.flush();
        }
    }

    /// Sends a step on: to the client, to the server, to the log.
    fn emit(&self, step: Step) {
        if !step.to_client.is_empty() {
            let mut out = std::io::stdout().lock();
            for line in &step.to_client {
                let _ = out.write_all(line);
                let _ = out.write_all(b"\n");
            }
            let _ = out.flush();
        }
        if let Some(line) = step.to_server {
            if let Ok(mut guard) = self.server_in.lock() {
                if let Some(stdin) = guard.as_mut() {
                    let ok = stdin.write_all(&line).is_ok()
                        && stdin.write_all(b"\n").is_ok()
                        && stdin.flush().is_ok();
                    if !ok {
                        // The server is gone; its reader answers what is pending.
                        *guard = None;
                    }
                }
            }
        }
        self.log(&step.events);
    }

    fn step<F: FnOnce(&mut Proxy, &Engine) -> Step>(&self, f: F) -> Step {
        match self.proxy.lock() {
            Ok(mut p) => f(&mut p, &self.engine),
            Err(_) => Step::default(),
        }
    }
}

fn spawn(command: &[String]) -> Result<Child> {
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| Error::new(ErrorCode::ConfigInvalid, "no server command after `--`"))?;
    Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::new(ErrorCode::Io, format!("cannot start {program:?}: {e}")))
}

fn proxy(args: ProxyArgs) -> Result<u8> {
    let identity = match (&args.agent, &args.session_env) {
        (Some(agent), _) => Identity::Agent(agent.clone()),
        (None, Some(var)) => Identity::Session {
            token: std::env::var(var).map_err(|_| {
                Error::new(
                    ErrorCode::SessionInvalid,
                    format!("environment variable {var} holds no session token"),
                )
            })?,
            audience: args.audience.clone(),
        },
        (None, None) => {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "give --agent or --session-env",
            ))
        }
    };
    let engine = args.load.engine(false)?;
    let log: Box<dyn Write + Send> = match &args.log {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    Error::new(
                        ErrorCode::Io,
                        format!("cannot open {}: {e}", path.display()),
                    )
                })?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let mut options = ProxyOptions::new(args.server.clone(), identity);
    options.namespace = args.namespace.clone();
    options.max_message_bytes = args.max_message_bytes;
    options.max_pending = args.max_pending;
    // Refuse a bad server name before starting anything.
    agentauthz::mcp::tool_action(&options.server, "x")?;
    let mut child = spawn(&args.command)?;
    let server_out = child
        .stdout
        .take()
        .ok_or_else(|| Error::new(ErrorCode::Internal, "no server stdout"))?;
    let max = args.max_message_bytes;
    let shared = Arc::new(Shared {
        engine,
        proxy: Mutex::new(Proxy::new(options)),
        server_in: Mutex::new(child.stdin.take()),
        log: Arc::new(Mutex::new(log)),
    });
    let (done_tx, done_rx) = mpsc::channel::<()>();

    let from_server = Arc::clone(&shared);
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 << 10, server_out);
        let mut buf = Vec::new();
        loop {
            match read_line(&mut reader, max, &mut buf) {
                Ok(Line::Message(line)) => {
                    let step = from_server.step(|p, e| p.from_server(e, &line));
                    from_server.emit(step);
                }
                Ok(Line::TooLarge) => {
                    let step = from_server.step(|p, _| p.server_too_large());
                    from_server.emit(step);
                }
                Ok(Line::Eof) | Err(_) => break,
            }
        }
        let _ = done_tx.send(());
    });

    let from_client = Arc::clone(&shared);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut reader = BufReader::with_capacity(64 << 10, stdin.lock());
        let mut buf = Vec::new();
        loop {
            match read_line(&mut reader, max, &mut buf) {
                Ok(Line::Message(line)) => {
                    let step = from_client.step(|p, e| p.from_client(e, &line));
                    from_client.emit(step);
                }
                Ok(Line::TooLarge) => {
                    let step = from_client.step(|p, _| p.client_too_large());
                    from_client.emit(step);
                }
                Ok(Line::Eof) | Err(_) => break,
            }
        }
        // The client is done: close the server's input so it can finish.
        if let Ok(mut guard) = from_client.server_in.lock() {
            *guard = None;
        }
    });

    // The server's output closed: it exited (or is about to).
    let _ = done_rx.recv();
    let status = child.wait().ok().and_then(|s| s.code());
    let step = shared.step(|p, _| p.server_exited(ServerExit::Exited(status)));
    shared.emit(step);
    shared.engine.flush_decision_log()?;
    Ok(match status {
        Some(0) => 0,
        _ => 2,
    })
}
