//! `agentauthz schema from-mcp`: a Cedar schema fragment from an MCP server's `tools/list`.

use agentauthz::limits::{parse_json, Input, Limits};
use agentauthz::mcp::{merge_schema, schema_from_tools, McpSchemaOptions, DEFAULT_SERVER};
use agentauthz::{Error, ErrorCode, Result};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write the schema of an MCP server's tools: one action "<server>:<tool>"
    /// per tool, its arguments as `context.input`, resource `McpServer`.
    /// Warnings (constructs with no Cedar type) go to stderr.
    FromMcp {
        /// A `tools/list` result (`{"tools": [...]}` or the JSON-RPC response), or `-` for stdin.
        tools: String,
        /// The server's name (no `:`).
        #[arg(long, default_value = DEFAULT_SERVER)]
        server: String,
        /// Put the generated type and actions in this Cedar namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// Merge into this schema file in place, replacing only what was
        /// generated for this server before (default: print to stdout).
        #[arg(long, value_name = "SCHEMA")]
        into: Option<PathBuf>,
    },
}

fn read_input(path: &str) -> Result<agentauthz::Source> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot read stdin: {e}")))?;
        return Ok(agentauthz::Source::new("<stdin>", text));
    }
    agentauthz::Source::read(std::path::Path::new(path))
}

pub fn run(args: Args) -> Result<u8> {
    let Command::FromMcp {
        tools,
        server,
        namespace,
        into,
    } = args.command;
    let src = read_input(&tools)?;
    let value = parse_json(&Limits::default(), Input::Schema, &src.name, &src.text)?;
    let options = McpSchemaOptions { server, namespace };
    let generated = schema_from_tools(&value, &options)?;
    for w in &generated.warnings {
        let at = if w.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", w.path)
        };
        eprintln!("warning: tool {:?}{at}: {}", w.tool, w.message);
    }
    let text = match &into {
        Some(path) => {
            let existing = if path.exists() {
                agentauthz::Source::read(path)?.text
            } else {
                String::new()
            };
            merge_schema(&existing, &generated)?
        }
        None => generated.text.clone(),
    };
    // What is written must parse as a Cedar schema.
    let _parsed = cedar_policy::SchemaFragment::from_cedarschema_str(&text).map_err(|e| {
        Error::new(
            ErrorCode::SchemaParse,
            format!("the generated schema does not parse: {e}"),
        )
    })?;
    match into {
        Some(path) => {
            std::fs::write(&path, text).map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            eprintln!(
                "{}: {} actions for server {:?}",
                path.display(),
                generated.actions.len(),
                generated.server
            );
        }
        None => print!("{text}"),
    }
    Ok(0)
}
