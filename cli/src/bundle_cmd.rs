//! `agentauthz bundle build|sign|verify`: signed bundle archives for fleets
//! that pull their policies from a static server.

use agentauthz::archive::{self, key_source, BundleFiles, BundleKeys, BundleSignature};
use agentauthz::{Engine, Error, ErrorCode, Result};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Pack a bundle directory into a deterministic tar.gz (the same
    /// directory always gives the same bytes); prints its revision.
    Build {
        /// Bundle directory.
        dir: PathBuf,
        /// The archive to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Validate the bundle first (a bundle that does not load is not packed).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        validate: bool,
    },
    /// Sign an archive's revision with an Ed25519 key; writes ARCHIVE.sig
    /// (or --output).
    Sign {
        archive: PathBuf,
        /// The signing key: `file:PATH`, `env:VAR` (PASERK `k4.secret.` or PKCS#8 PEM).
        #[arg(long)]
        key: String,
        /// The key id written beside the signature.
        #[arg(long, default_value = "default")]
        key_id: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Verify an archive against its signature; prints revision and key id.
    /// Exit 0 verified, 2 otherwise.
    Verify {
        archive: PathBuf,
        /// The signature file (default ARCHIVE.sig).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// `KID=KEY` (KEY: `k4.public.…`, `file:PATH`, `env:VAR`); repeatable.
        #[arg(long = "public-key", required = true)]
        public_keys: Vec<String>,
    },
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

fn sig_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// `KID=KEY` pairs; a bare key gets the id `default`.
pub fn parse_keys(pairs: &[String]) -> Result<BundleKeys> {
    let mut keys = BundleKeys::new();
    for pair in pairs {
        let (kid, key) = match pair.split_once('=') {
            Some((k, v)) if !k.contains(':') => (k, v),
            _ => ("default", pair.as_str()),
        };
        keys.add(kid, &key_source(key, None))?;
    }
    Ok(keys)
}

pub fn run(args: Args) -> Result<u8> {
    match args.command {
        Command::Build {
            dir,
            output,
            validate,
        } => {
            let files = BundleFiles::read_dir(&dir)?;
            if validate {
                Engine::from_bundle(files.to_bundle(None))?;
            }
            write(&output, &files.to_archive()?)?;
            println!(
                "{}",
                serde_json::json!({"archive": output, "revision": files.revision(), "files": files.files().len()})
            );
            Ok(0)
        }
        Command::Sign {
            archive,
            key,
            key_id,
            output,
        } => {
            let files = BundleFiles::from_archive(&read(&archive)?)?;
            let revision = files.revision();
            let sig = BundleSignature::sign(&revision, &key_id, &key_source(&key, None))?;
            let out = output.unwrap_or_else(|| sig_path(&archive));
            write(&out, sig.to_json().as_bytes())?;
            println!(
                "{}",
                serde_json::json!({"signature": out, "revision": revision, "kid": key_id})
            );
            Ok(0)
        }
        Command::Verify {
            archive,
            signature,
            public_keys,
        } => {
            let keys = parse_keys(&public_keys)?;
            let sig = read(&signature.unwrap_or_else(|| sig_path(&archive)))?;
            let verified = archive::verify(&read(&archive)?, &sig, &keys)?;
            println!(
                "{}",
                serde_json::json!({"verified": true, "revision": verified.revision, "kid": verified.kid})
            );
            Ok(0)
        }
    }
}

/// `--bundle-url` and what it needs, for the commands that load a bundle.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct UrlArgs {
    /// Pull the bundle, signed, from this URL (its signature at URL.sig);
    /// overrides `[bundle] url`. https, or http to a loopback address.
    #[arg(long, value_name = "URL")]
    pub bundle_url: Option<String>,
    /// `KID=KEY` that verifies the pulled bundle (KEY: `k4.public.…`,
    /// `file:PATH`, `env:VAR`); repeatable.
    #[arg(long = "bundle-public-key", value_name = "KID=KEY")]
    pub bundle_public_keys: Vec<String>,
    /// Where the last verified bundle is kept (default `bundle-cache`,
    /// relative to --bundle or the current directory).
    #[arg(long, value_name = "DIR")]
    pub bundle_cache: Option<PathBuf>,
}

impl UrlArgs {
    /// The bundle directory (a whole bundle, or only `agentauthz.toml` with
    /// `[bundle] url`), or none when `--bundle-url` says where it comes from.
    pub fn read(&self, dir: Option<&Path>) -> Result<agentauthz::Bundle> {
        match dir {
            Some(d) => agentauthz::Bundle::read_dir_or_config(d),
            None if self.bundle_url.is_some() => Ok(agentauthz::Bundle::default()),
            None => Err(Error::new(
                ErrorCode::BundleInvalid,
                "give --bundle DIR or --bundle-url URL",
            )),
        }
    }

    /// The builder, pulling from `--bundle-url` when given (one fetch: the
    /// CLI runs once, so it does not poll).
    pub fn apply(
        &self,
        builder: agentauthz::EngineBuilder,
        dir: Option<&Path>,
    ) -> Result<agentauthz::EngineBuilder> {
        let Some(url) = &self.bundle_url else {
            return Ok(builder);
        };
        let base = dir.map(Path::to_path_buf).unwrap_or_default();
        let remote = agentauthz::remote::RemoteBundle {
            url: url.clone(),
            keys: parse_keys(&self.bundle_public_keys)?,
            poll: std::time::Duration::ZERO,
            cache_dir: self
                .bundle_cache
                .clone()
                .unwrap_or_else(|| base.join("bundle-cache")),
            allow_http: false,
        };
        Ok(builder.bundle_url(remote))
    }
}
