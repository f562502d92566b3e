//! Signed bundle archives: a deterministic `bundle.tar.gz` of a bundle
//! directory, its revision (a content hash of the entries), and a detached
//! Ed25519 signature over that revision.
//!
//! Archives are read into memory, never unpacked onto a disk, and read as
//! hostile: every entry must be a regular file (or one of the two known
//! directories) at a known bundle path, named in UTF-8, once, within size
//! bounds; the gzip stream must be whole (its CRC is checked).

use crate::bundle::{Bundle, BundleOptions, Source};
use crate::error::{Error, ErrorCode, Result};
use crate::session::keys::{ed25519_keypair, ed25519_public, valid_kid};
use crate::session::KeySource;
use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// A compressed archive larger than this is refused before it is opened.
pub const MAX_ARCHIVE_BYTES: usize = 64 * 1024 * 1024;
/// Unpacked (tar) bytes; a decompression bomb stops here.
pub const MAX_UNPACKED_BYTES: usize = 128 * 1024 * 1024;
/// One entry (the largest bundle file, an inventory, is bounded at 64 MiB).
pub const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// Entries in one archive.
pub const MAX_ENTRIES: usize = 10_000;
/// A signature file is a few hundred bytes.
pub const MAX_SIGNATURE_BYTES: usize = 16 * 1024;

/// What a signature signs: this prefix, then the revision, so a bundle
/// signature can never be replayed as another kind of signed message.
const SIGNED_PREFIX: &str = "agentauthz-bundle-signature-v1\n";
/// What the revision hashes first: its format version.
const REVISION_DOMAIN: &[u8] = b"agentauthz-bundle-v1\0";
const DIRS: [&str; 2] = ["policies", "tests"];

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BundleArchiveInvalid, message)
}

fn bad_signature(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::BundleSignatureInvalid, message)
}

/// The files of a bundle, by their path in the archive (`policies/a.cedar`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BundleFiles {
    files: BTreeMap<String, String>,
}

impl BundleFiles {
    /// The bundle files of a directory: the schema, `policies/*.cedar`, the
    /// inventory, `agentauthz.toml` and `tests/*.{yaml,yml,json}`; nothing
    /// else (no logs, journals or keys that live beside them). Symbolic links
    /// are refused: an archive says what it holds.
    pub fn read_dir(dir: impl AsRef<Path>) -> Result<BundleFiles> {
        let dir = dir.as_ref();
        let mut files = BTreeMap::new();
        let mut add = |rel: String| -> Result<()> {
            let path = dir.join(&rel);
            let meta = std::fs::symlink_metadata(&path).map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            if !meta.file_type().is_file() {
                return Err(Error::new(
                    ErrorCode::BundleInvalid,
                    format!(
                        "{} is not a regular file (links are not archived)",
                        path.display()
                    ),
                ));
            }
            let source = Source::read(&path)?;
            files.insert(rel, source.text);
            Ok(())
        };
        if !dir.is_dir() {
            return Err(Error::new(
                ErrorCode::BundleInvalid,
                format!("bundle directory {} does not exist", dir.display()),
            ));
        }
        for name in top_level_names() {
            if std::fs::symlink_metadata(dir.join(name)).is_ok() {
                add(name.to_string())?;
            }
        }
        for sub in DIRS {
            let listing = match std::fs::read_dir(dir.join(sub)) {
                Ok(l) => l,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::new(
                        ErrorCode::Io,
                        format!("cannot list {}: {e}", dir.join(sub).display()),
                    ))
                }
            };
            for entry in listing {
                let entry = entry.map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    return Err(Error::new(
                        ErrorCode::BundleInvalid,
                        format!("{}: a file name that is not UTF-8", dir.join(sub).display()),
                    ));
                };
                let rel = format!("{sub}/{name}");
                if allowed_path(&rel) {
                    add(rel)?;
                }
            }
        }
        let out = BundleFiles { files };
        out.check_layout()?;
        Ok(out)
    }

    /// The paths and texts, sorted by path.
    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// `sha256:<hex>` over the sorted entries (each path and content
    /// length-prefixed): equal for equal contents, whatever the archive's
    /// compression or entry order.
    pub fn revision(&self) -> String {
        let mut h = Sha256::new();
        h.update(REVISION_DOMAIN);
        for (path, text) in &self.files {
            h.update((path.len() as u64).to_be_bytes());
            h.update(path.as_bytes());
            h.update((text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
        let digest = h.finalize();
        let mut out = String::from("sha256:");
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// A deterministic `tar.gz`: entries sorted by path, mode 0644, uid/gid
    /// 0, mtime 0, no user names, gzip without a name or time.
    pub fn to_archive(&self) -> Result<Vec<u8>> {
        let gz = flate2::GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), flate2::Compression::new(6));
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, text) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            tar.append_data(&mut header, path, text.as_bytes())
                .map_err(|e| Error::new(ErrorCode::Io, format!("cannot archive {path}: {e}")))?;
        }
        let gz = tar
            .into_inner()
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot finish the archive: {e}")))?;
        gz.finish()
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot finish the archive: {e}")))
    }

    /// Reads an archive (bounded, in memory; see the module docs).
    pub fn from_archive(bytes: &[u8]) -> Result<BundleFiles> {
        if bytes.len() > MAX_ARCHIVE_BYTES {
            return Err(invalid(format!(
                "the archive is {} bytes, more than {MAX_ARCHIVE_BYTES}",
                bytes.len()
            )));
        }
        // Decompressed whole first: reading to the end checks the gzip CRC
        // and length, so a truncated or altered stream is refused even when
        // the tar inside looks complete.
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_UNPACKED_BYTES as u64 + 1)
            .read_to_end(&mut tar_bytes)
            .map_err(|e| invalid(format!("not a whole gzip stream: {e}")))?;
        if tar_bytes.len() > MAX_UNPACKED_BYTES {
            return Err(invalid(format!(
                "the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"
            )));
        }
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let entries = archive
            .entries()
            .map_err(|e| invalid(format!("not a tar archive: {e}")))?;
        let mut files = BTreeMap::new();
        let mut count = 0usize;
        for entry in entries {
            count += 1;
            if count > MAX_ENTRIES {
                return Err(invalid(format!("more than {MAX_ENTRIES} entries")));
            }
            let mut entry = entry.map_err(|e| invalid(format!("a malformed tar entry: {e}")))?;
            let raw = entry.path_bytes().into_owned();
            let path =
                String::from_utf8(raw).map_err(|_| invalid("an entry name that is not UTF-8"))?;
            check_path(&path)?;
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                let name = path.trim_end_matches('/');
                if DIRS.contains(&name) {
                    continue;
                }
                return Err(invalid(format!("{path:?}: an unexpected directory")));
            }
            if !kind.is_file() {
                return Err(invalid(format!(
                    "{path:?}: a {kind:?} entry (only regular files are accepted: no links, devices or FIFOs)"
                )));
            }
            if !allowed_path(&path) {
                return Err(invalid(format!("{path:?}: not a bundle file")));
            }
            let size = entry.size();
            if size > MAX_ENTRY_BYTES {
                return Err(invalid(format!(
                    "{path:?}: {size} bytes, more than {MAX_ENTRY_BYTES}"
                )));
            }
            let mut data = Vec::new();
            (&mut entry)
                .take(MAX_ENTRY_BYTES + 1)
                .read_to_end(&mut data)
                .map_err(|e| invalid(format!("{path:?}: cannot read: {e}")))?;
            if data.len() as u64 != size {
                return Err(invalid(format!("{path:?}: truncated entry")));
            }
            let text = String::from_utf8(data)
                .map_err(|_| invalid(format!("{path:?}: content is not UTF-8")))?;
            if files.insert(path.clone(), text).is_some() {
                return Err(invalid(format!("{path:?}: a duplicate entry")));
            }
        }
        let out = BundleFiles { files };
        out.check_layout()?;
        Ok(out)
    }

    /// The bundle these files make; `dir` is where relative paths of its
    /// `agentauthz.toml` resolve (none: in-memory only).
    pub fn to_bundle(&self, dir: Option<&Path>) -> Bundle {
        let get = |name: &str| self.files.get(name).map(|t| Source::new(name, t.clone()));
        let schema = get("schema.cedarschema").or_else(|| get("schema.cedarschema.json"));
        let inventory = ["inventory.yaml", "inventory.yml", "inventory.json"]
            .iter()
            .find_map(|n| get(n));
        Bundle {
            schema,
            policies: self
                .files
                .iter()
                .filter(|(p, _)| p.starts_with("policies/"))
                .map(|(p, t)| Source::new(p.clone(), t.clone()))
                .collect(),
            inventory,
            config: get("agentauthz.toml"),
            options: BundleOptions::default(),
            dir: dir.map(Path::to_path_buf),
        }
    }

    /// The same rules as a bundle directory: one schema, at least one
    /// policy, at most one inventory.
    fn check_layout(&self) -> Result<()> {
        let has = |n: &str| self.files.contains_key(n);
        let schemas = has("schema.cedarschema") as u8 + has("schema.cedarschema.json") as u8;
        let inventories = ["inventory.yaml", "inventory.yml", "inventory.json"]
            .iter()
            .filter(|n| has(n))
            .count();
        let policies = self
            .files
            .keys()
            .filter(|p| p.starts_with("policies/"))
            .count();
        let problem = if schemas == 0 {
            Some("missing schema.cedarschema")
        } else if schemas > 1 {
            Some("more than one schema")
        } else if policies == 0 {
            Some("no policies/*.cedar files")
        } else if inventories > 1 {
            Some("more than one inventory file")
        } else {
            None
        };
        match problem {
            Some(p) => Err(Error::new(ErrorCode::BundleInvalid, format!("bundle: {p}"))),
            None => Ok(()),
        }
    }
}

fn top_level_names() -> [&'static str; 6] {
    [
        "schema.cedarschema",
        "schema.cedarschema.json",
        "inventory.yaml",
        "inventory.yml",
        "inventory.json",
        "agentauthz.toml",
    ]
}

/// A relative path of plain components: no `/` at the start, no `..`,
/// `.`, empty component, backslash or control character.
fn check_path(path: &str) -> Result<()> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let bad = trimmed.is_empty()
        || trimmed.starts_with('/')
        || trimmed.contains('\\')
        || trimmed.chars().any(char::is_control)
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        let shown: String = path.chars().take(120).collect();
        return Err(invalid(format!(
            "{shown:?}: an entry path outside the bundle (absolute, `..`, `.` or empty components)"
        )));
    }
    Ok(())
}

/// A path a bundle may hold.
fn allowed_path(path: &str) -> bool {
    if top_level_names().contains(&path) {
        return true;
    }
    let Some((dir, name)) = path.split_once('/') else {
        return false;
    };
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return false;
    }
    match dir {
        "policies" => name.ends_with(".cedar"),
        "tests" => [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)),
        _ => false,
    }
}

/// A detached signature: `{"alg": "ed25519", "kid", "revision", "signature"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    pub alg: String,
    pub kid: String,
    pub revision: String,
    /// base64url (no padding) of the 64-byte Ed25519 signature over
    /// `agentauthz-bundle-signature-v1\n` followed by `revision`.
    pub signature: String,
}

impl BundleSignature {
    /// Signs `revision` with an Ed25519 key (`k4.secret.` or PKCS#8 PEM).
    pub fn sign(revision: &str, kid: &str, key: &KeySource) -> Result<BundleSignature> {
        valid_kid(kid)?;
        let text = key.read()?;
        let kp = ed25519_keypair(&text, &key.describe())?;
        let sig = kp.sk.sign(signed_message(revision), None);
        let mut buf = vec![0u8; 128];
        let encoded = Base64UrlSafeNoPadding::encode_to_str(&mut buf, sig.as_ref())
            .map_err(|_| Error::new(ErrorCode::Internal, "cannot encode a signature"))?
            .to_string();
        Ok(BundleSignature {
            alg: "ed25519".into(),
            kid: kid.into(),
            revision: revision.into(),
            signature: encoded,
        })
    }

    /// The signature file's text (one JSON line).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default() + "\n"
    }

    /// Reads a signature file (strict: unknown members, wrong types refused).
    pub fn parse(bytes: &[u8]) -> Result<BundleSignature> {
        if bytes.len() > MAX_SIGNATURE_BYTES {
            return Err(bad_signature(format!(
                "the signature file is larger than {MAX_SIGNATURE_BYTES} bytes"
            )));
        }
        let sig: BundleSignature = serde_json::from_slice(bytes)
            .map_err(|e| bad_signature(format!("not a bundle signature: {e}")))?;
        if sig.alg != "ed25519" {
            return Err(bad_signature(format!(
                "signature algorithm {:?}: only ed25519 is accepted",
                sig.alg.chars().take(32).collect::<String>()
            )));
        }
        Ok(sig)
    }
}

fn signed_message(revision: &str) -> Vec<u8> {
    let mut m = SIGNED_PREFIX.as_bytes().to_vec();
    m.extend_from_slice(revision.as_bytes());
    m
}

/// The public keys bundles are verified with, by key id.
#[derive(Debug, Clone, Default)]
pub struct BundleKeys {
    keys: BTreeMap<String, ed25519_compact::PublicKey>,
}

impl BundleKeys {
    pub fn new() -> BundleKeys {
        BundleKeys::default()
    }

    /// Adds a public key (`k4.public.` or PEM `PUBLIC KEY`) under `kid`.
    pub fn add(&mut self, kid: &str, source: &KeySource) -> Result<()> {
        valid_kid(kid)?;
        let text = source.read()?;
        let key = ed25519_public(&text, &format!("{} (kid {kid})", source.describe()))?;
        self.keys.insert(kid.to_string(), key);
        Ok(())
    }

    /// From `kid → "k4.public…" | "file:PATH" | "env:VAR"` (files relative to `dir`).
    pub fn from_map(map: &BTreeMap<String, String>, dir: Option<&Path>) -> Result<BundleKeys> {
        let mut keys = BundleKeys::new();
        for (kid, text) in map {
            keys.add(kid, &key_source(text, dir))?;
        }
        Ok(keys)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn kids(&self) -> Vec<&str> {
        self.keys.keys().map(String::as_str).collect()
    }
}

/// `"file:PATH"`, `"env:VAR"` or the key text itself.
pub fn key_source(text: &str, dir: Option<&Path>) -> KeySource {
    if let Some(path) = text.strip_prefix("file:") {
        let path = Path::new(path);
        match dir {
            Some(d) if path.is_relative() => KeySource::File(d.join(path)),
            _ => KeySource::File(path.to_path_buf()),
        }
    } else if let Some(var) = text.strip_prefix("env:") {
        KeySource::Env(var.to_string())
    } else {
        KeySource::Text(text.to_string())
    }
}

/// A bundle whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    pub revision: String,
    pub kid: String,
    pub files: BundleFiles,
}

/// Verifies `archive` against its detached `signature` with `keys`: the
/// signature first (a known key id, a valid Ed25519 signature over the
/// revision it names), then the archive (read as hostile), whose content
/// hash must be that revision.
pub fn verify(archive: &[u8], signature: &[u8], keys: &BundleKeys) -> Result<VerifiedBundle> {
    if keys.is_empty() {
        return Err(bad_signature("no public keys to verify the bundle with"));
    }
    let sig = BundleSignature::parse(signature)?;
    let key = keys.keys.get(&sig.kid).ok_or_else(|| {
        bad_signature(format!(
            "signed with key id {:?}, which is not a configured public key",
            sig.kid.chars().take(64).collect::<String>()
        ))
    })?;
    let mut raw = vec![0u8; 64];
    let decoded = Base64UrlSafeNoPadding::decode(&mut raw, sig.signature.as_bytes(), None)
        .map_err(|_| bad_signature("the signature is not base64url"))?;
    let parsed = ed25519_compact::Signature::from_slice(decoded)
        .map_err(|_| bad_signature("the signature is not 64 bytes"))?;
    key.verify(signed_message(&sig.revision), &parsed)
        .map_err(|_| bad_signature(format!("the signature (kid {}) does not verify", sig.kid)))?;
    let files = BundleFiles::from_archive(archive)?;
    let revision = files.revision();
    if revision != sig.revision {
        return Err(bad_signature(format!(
            "the signature is for revision {}, the archive is {revision}",
            sig.revision.chars().take(80).collect::<String>()
        )));
    }
    Ok(VerifiedBundle {
        revision,
        kid: sig.kid,
        files,
    })
}
