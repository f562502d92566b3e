pub fn run(_a: Args) -> agentauthz::Result<u8> {
    Ok(0)
}
#[derive(Debug, clap::Args)]
pub struct Args {}
