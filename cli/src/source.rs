//! Where a command's bundle and run-time state come from, shared by every
//! command that loads a bundle: `--bundle DIR` or `--bundle-url URL` (with
//! its keys and cache), and `--store URL` for the commands that decide or
//! report on run-time state.

use crate::bundle_cmd::UrlArgs;
use agentauthz::{Bundle, Engine, EngineBuilder, Result};
use std::path::PathBuf;

/// `--bundle DIR` or `--bundle-url URL`.
#[derive(Debug, Clone, clap::Args)]
pub struct BundleSource {
    /// Bundle directory (or one holding only `agentauthz.toml` with `[bundle] url`).
    #[arg(long, value_name = "DIR", required_unless_present = "bundle_url")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub url: UrlArgs,
}

impl BundleSource {
    /// The local bundle: the directory's files, or an empty one when only
    /// `--bundle-url` is given (the builder then pulls it).
    pub fn read(&self) -> Result<Bundle> {
        self.url.read(self.bundle.as_deref())
    }

    /// A builder for `bundle` (from [`BundleSource::read`]), pulling from
    /// `--bundle-url` when given.
    pub fn builder_for(&self, bundle: Bundle) -> Result<EngineBuilder> {
        self.url
            .apply(Engine::builder().bundle(bundle), self.bundle.as_deref())
    }

    /// What the bundle was loaded from, for reports.
    pub fn describe(&self) -> String {
        match (&self.url.bundle_url, &self.bundle) {
            (Some(url), _) => url.clone(),
            (None, Some(dir)) => dir.display().to_string(),
            (None, None) => String::new(),
        }
    }
}

/// The bundle and the fleet's run-time state: [`BundleSource`] and `--store`.
#[derive(Debug, Clone, clap::Args)]
pub struct StateSource {
    #[command(flatten)]
    pub bundle: BundleSource,
    /// Share run-time changes with a fleet through this PostgreSQL store (URL
    /// or `env:VAR`; overrides `[store] postgres`): the engine applies every
    /// change other processes made (an offboarding, a grant) before it acts.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

impl StateSource {
    /// [`BundleSource::builder_for`], following `--store` when given.
    pub fn builder_for(&self, bundle: Bundle) -> Result<EngineBuilder> {
        let builder = self.bundle.builder_for(bundle)?;
        Ok(match &self.store {
            Some(s) => builder.postgres(s),
            None => builder,
        })
    }

    /// The engine with the product defaults otherwise.
    pub fn engine(&self) -> Result<Engine> {
        self.builder_for(self.bundle.read()?)?.build()
    }
}
