//! Signed bundle archives: deterministic builds, hostile archives (each a
//! coded error, never a panic, never a file written), signatures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::archive::{self, BundleFiles, BundleKeys, BundleSignature};
use agentauthz::{Engine, ErrorCode, KeySource, SessionKeys};
use std::io::Write;
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies-examples/coding-agent")
}

fn gz(tar: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(tar).unwrap();
    e.finish().unwrap()
}

/// A tar with raw entry names and types (no path checks, unlike `append_data`).
fn raw_tar(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        if kind.is_symlink() || kind.is_hard_link() {
            h.set_link_name_literal("../../etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn minimal() -> Vec<(&'static [u8], tar::EntryType, &'static [u8])> {
    vec![
        (
            b"schema.cedarschema",
            tar::EntryType::Regular,
            b"entity Repo;\n",
        ),
        (
            b"policies/a.cedar",
            tar::EntryType::Regular,
            b"@id(\"a\")\npermit (principal, action, resource);\n",
        ),
    ]
}

fn code_of(bytes: &[u8]) -> ErrorCode {
    BundleFiles::from_archive(bytes).unwrap_err().code()
}

#[test]
fn the_same_directory_gives_byte_identical_archives() {
    let a = BundleFiles::read_dir(example()).unwrap();
    let b = BundleFiles::read_dir(example()).unwrap();
    let (x, y) = (a.to_archive().unwrap(), b.to_archive().unwrap());
    assert_eq!(x, y);
    // A copy with other mtimes and permissions still gives the same bytes.
    let copy = std::env::temp_dir().join(format!("aaz-bundle-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&example(), &copy);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(copy.join("decisions.jsonl"), "not archived\n").unwrap();
    let z = BundleFiles::read_dir(&copy).unwrap().to_archive().unwrap();
    assert_eq!(x, z);
    // Round trip: the archive reads back to the same files and revision.
    let back = BundleFiles::from_archive(&x).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.revision(), a.revision());
    assert!(a.revision().starts_with("sha256:") && a.revision().len() == 71);
    assert!(!back.files().contains_key("decisions.jsonl"));
    // The gzip header carries no time (bytes 4..8) and the archive loads.
    assert_eq!(&x[4..8], &[0, 0, 0, 0]);
    let engine = Engine::from_bundle(back.to_bundle(None)).unwrap();
    assert_eq!(
        engine.policy_revision(),
        Engine::load(example()).unwrap().policy_revision()
    );
    // One changed byte is another revision.
    std::fs::write(
        copy.join("schema.cedarschema"),
        std::fs::read_to_string(copy.join("schema.cedarschema")).unwrap() + "\n",
    )
    .unwrap();
    assert_ne!(
        BundleFiles::read_dir(&copy).unwrap().revision(),
        a.revision()
    );
    let _ = std::fs::remove_dir_all(&copy);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_minimal_raw_archive_reads() {
    let files = BundleFiles::from_archive(&gz(&raw_tar(&minimal()))).unwrap();
    assert_eq!(files.files().len(), 2);
}

#[test]
fn hostile_paths_are_refused() {
    let dot = b"policies/../../../tmp/x.cedar".as_slice();
    for name in [
        dot,
        b"/etc/passwd",
        b"../schema.cedarschema",
        b"policies/./a.cedar",
        b"policies//a.cedar",
        b"policies\\a.cedar",
        b"other/x.cedar",
        b"policies/sub/x.cedar",
        b"journal.jsonl",
    ] {
        let mut entries = minimal();
        entries.push((name, tar::EntryType::Regular, b"x"));
        assert_eq!(
            code_of(&gz(&raw_tar(&entries))),
            ErrorCode::BundleArchiveInvalid,
            "{}",
            String::from_utf8_lossy(name)
        );
    }
}

#[test]
fn links_devices_and_fifos_are_refused() {
    for kind in [
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
    ] {
        let mut entries = minimal();
        entries.push((b"policies/b.cedar", kind, b""));
        assert_eq!(
            code_of(&gz(&raw_tar(&entries))),
            ErrorCode::BundleArchiveInvalid,
            "{kind:?}"
        );
    }
}

#[test]
fn duplicates_non_utf8_names_and_contents_are_refused() {
    let mut dup = minimal();
    dup.push((b"policies/a.cedar", tar::EntryType::Regular, b"// again\n"));
    assert_eq!(
        code_of(&gz(&raw_tar(&dup))),
        ErrorCode::BundleArchiveInvalid
    );
    let mut name = minimal();
    name.push((b"policies/\xff\xfe.cedar", tar::EntryType::Regular, b""));
    assert_eq!(
        code_of(&gz(&raw_tar(&name))),
        ErrorCode::BundleArchiveInvalid
    );
    let mut content = minimal();
    content.push((b"policies/b.cedar", tar::EntryType::Regular, b"\xff\xfe"));
    assert_eq!(
        code_of(&gz(&raw_tar(&content))),
        ErrorCode::BundleArchiveInvalid
    );
}

#[test]
fn truncated_corrupt_and_non_gzip_streams_are_refused() {
    let whole = gz(&raw_tar(&minimal()));
    for cut in [0, 1, 10, whole.len() / 2, whole.len() - 8, whole.len() - 1] {
        assert_eq!(
            code_of(&whole[..cut]),
            ErrorCode::BundleArchiveInvalid,
            "cut at {cut}"
        );
    }
    // A flipped CRC byte: the tar inside is intact, the stream is not.
    let mut crc = whole.clone();
    let n = crc.len();
    crc[n - 6] ^= 0xff;
    assert_eq!(code_of(&crc), ErrorCode::BundleArchiveInvalid);
    assert_eq!(code_of(b"plain text"), ErrorCode::BundleArchiveInvalid);
    assert_eq!(
        code_of(&gz(b"not a tar at all")),
        ErrorCode::BundleArchiveInvalid
    );
}

#[test]
fn a_decompression_bomb_stops_at_the_bound() {
    // 200 MiB of zeros compresses to ~200 KiB; reading stops at 128 MiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    assert_eq!(code_of(&bomb), ErrorCode::BundleArchiveInvalid);
    // An entry whose header claims more than the entry bound.
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..16].copy_from_slice(b"policies/b.cedar");
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(archive::MAX_ENTRY_BYTES + 1);
    h.set_cksum();
    let mut t = raw_tar(&minimal());
    t.truncate(t.len() - 1024);
    t.extend_from_slice(h.as_bytes());
    t.extend_from_slice(&[0u8; 1024]);
    assert_eq!(code_of(&gz(&t)), ErrorCode::BundleArchiveInvalid);
}

#[test]
fn a_bundle_without_schema_or_policies_is_bundle_invalid() {
    let only_schema = raw_tar(&minimal()[..1]);
    assert_eq!(code_of(&gz(&only_schema)), ErrorCode::BundleInvalid);
}

fn keypair(kid: &str) -> (KeySource, BundleKeys) {
    let keys = SessionKeys::generate(kid).unwrap();
    let secret = KeySource::Text(keys.secret_key_paserk().unwrap());
    let mut public = BundleKeys::new();
    public
        .add(kid, &KeySource::Text(keys.public_key_paserk(kid).unwrap()))
        .unwrap();
    (secret, public)
}

#[test]
fn signatures_verify_only_for_their_key_and_revision() {
    let files = BundleFiles::read_dir(example()).unwrap();
    let bytes = files.to_archive().unwrap();
    let (secret, public) = keypair("ops-2026");
    let sig = BundleSignature::sign(&files.revision(), "ops-2026", &secret).unwrap();
    let text = sig.to_json();
    let ok = archive::verify(&bytes, text.as_bytes(), &public).unwrap();
    assert_eq!(ok.revision, files.revision());
    assert_eq!(ok.kid, "ops-2026");

    // Another key under the same kid.
    let (_, other) = keypair("ops-2026");
    let e = archive::verify(&bytes, text.as_bytes(), &other).unwrap_err();
    assert_eq!(e.code(), ErrorCode::BundleSignatureInvalid);
    // An unknown kid; no keys at all.
    let (_, stranger) = keypair("someone");
    assert_eq!(
        archive::verify(&bytes, text.as_bytes(), &stranger)
            .unwrap_err()
            .code(),
        ErrorCode::BundleSignatureInvalid
    );
    assert_eq!(
        archive::verify(&bytes, text.as_bytes(), &BundleKeys::new())
            .unwrap_err()
            .code(),
        ErrorCode::BundleSignatureInvalid
    );
    // A valid signature of another revision over this archive.
    let (s2, p2) = keypair("k2");
    let other_rev = BundleSignature::sign("sha256:00", "k2", &s2).unwrap();
    assert_eq!(
        archive::verify(&bytes, other_rev.to_json().as_bytes(), &p2)
            .unwrap_err()
            .code(),
        ErrorCode::BundleSignatureInvalid
    );
    // The revision field edited to match another archive.
    let mut edited = sig.clone();
    edited.revision = "sha256:".to_string() + &"0".repeat(64);
    assert_eq!(
        archive::verify(&bytes, edited.to_json().as_bytes(), &public)
            .unwrap_err()
            .code(),
        ErrorCode::BundleSignatureInvalid
    );
    // Malformed signature files, other algorithms, extra members.
    for bad in [
        "".to_string(),
        "{}".to_string(),
        text.replace("ed25519", "none"),
        text.replace("\"kid\"", "\"extra\":1,\"kid\""),
        text.replace(&sig.signature, "AAAA"),
        "x".repeat(20_000),
    ] {
        assert_eq!(
            archive::verify(&bytes, bad.as_bytes(), &public)
                .unwrap_err()
                .code(),
            ErrorCode::BundleSignatureInvalid,
            "{}",
            &bad[..bad.len().min(60)]
        );
    }
    // A correctly signed but hostile archive is refused by the archive rules.
    let mut evil = minimal();
    evil.push((b"../x", tar::EntryType::Regular, b""));
    let evil = gz(&raw_tar(&evil));
    let code = archive::verify(&evil, text.as_bytes(), &public)
        .unwrap_err()
        .code();
    assert_eq!(code, ErrorCode::BundleArchiveInvalid);
}

#[test]
fn pem_keys_sign_and_verify_like_paserk() {
    // RFC 8410 test key (the seed of the PEM below).
    let secret_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    let public_pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let files = BundleFiles::read_dir(example()).unwrap();
    let sig = BundleSignature::sign(
        &files.revision(),
        "pem",
        &KeySource::Text(secret_pem.into()),
    )
    .unwrap();
    let mut keys = BundleKeys::new();
    keys.add("pem", &KeySource::Text(public_pem.into()))
        .unwrap();
    archive::verify(
        &files.to_archive().unwrap(),
        sig.to_json().as_bytes(),
        &keys,
    )
    .unwrap();
    // A public key where a secret one is expected is key_invalid.
    let e = BundleSignature::sign(
        &files.revision(),
        "pem",
        &KeySource::Text(public_pem.into()),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyInvalid);
}

/// The signed archives every binding's tests verify (tests/vectors/bundles);
/// `AGENTAUTHZ_BLESS=1` rewrites them from the example bundles.
#[test]
fn the_shared_fixtures_verify() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/bundles");
    let secret = KeySource::File(dir.join("fixture.secret.paserk"));
    let public = std::fs::read_to_string(dir.join("fixture.public.paserk")).unwrap();
    if std::env::var_os("AGENTAUTHZ_BLESS").is_some() {
        for name in ["coding-agent", "support-agent"] {
            let files = BundleFiles::read_dir(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../policies-examples")
                    .join(name),
            )
            .unwrap();
            let sig = BundleSignature::sign(&files.revision(), "fixture", &secret).unwrap();
            std::fs::write(
                dir.join(format!("{name}.tar.gz")),
                files.to_archive().unwrap(),
            )
            .unwrap();
            std::fs::write(dir.join(format!("{name}.tar.gz.sig")), sig.to_json()).unwrap();
        }
    }
    let mut keys = BundleKeys::new();
    keys.add("fixture", &KeySource::Text(public)).unwrap();
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    for name in ["coding-agent", "support-agent"] {
        let v = archive::verify(
            &read(&format!("{name}.tar.gz")),
            &read(&format!("{name}.tar.gz.sig")),
            &keys,
        )
        .unwrap();
        Engine::from_bundle(v.files.to_bundle(None)).unwrap();
    }
    let cross = archive::verify(
        &read("coding-agent.tar.gz"),
        &read("support-agent.tar.gz.sig"),
        &keys,
    );
    assert_eq!(cross.unwrap_err().code(), ErrorCode::BundleSignatureInvalid);
    let garbage = archive::verify(b"not gzip", &read("support-agent.tar.gz.sig"), &keys);
    assert_eq!(garbage.unwrap_err().code(), ErrorCode::BundleArchiveInvalid);
}
