//! State you can trust: the inventory's newer statements win over older
//! journaled changes, the journal and the decision log are authenticated,
//! one writer at a time, strict parsing, checkpoints, recovery and ordering.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::audit::{read_verified, verify_files, DamageKind, FileOptions, VerifyOptions};
use agentauthz::{
    AgentRequest, DecisionLog, Engine, EntityRef, ErrorCode, IntegrityKey, IntegrityKeys,
    ManualClock, Request,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
"#;

const POLICIES: &str = r#"
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
credentials:
  - {id: etl-key, agent: etl, kind: service_account_key, issued: "2026-01-01T00:00:00Z", expires: "2026-06-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
"#;

const T0: &str = "2026-11-29T10:00:00Z";
const HOUR: i64 = 3_600_000;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "agentauthz-integrity-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn key(id: &str, byte: u8) -> IntegrityKeys {
    IntegrityKeys::new(IntegrityKey::new(id, &[byte; 32]).unwrap())
}

fn build(
    inventory: &str,
    clock: &Arc<ManualClock>,
    journal: &Path,
    keys: Option<IntegrityKeys>,
    log: Option<DecisionLog>,
) -> agentauthz::Result<Engine> {
    let mut b = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory)
        .clock(clock.clone())
        .journal(journal);
    if let Some(k) = keys {
        b = b.integrity_keys(k);
    }
    if let Some(l) = log {
        b = b.decision_log(l);
    }
    b.build()
}

fn read(agent: &str, credential: Option<&str>) -> Request {
    Request::Agent(AgentRequest {
        agent: agent.into(),
        action: "s3:GetObject".into(),
        resource: EntityRef::new("Object", "public/readme"),
        task: None,
        on_behalf_of: None,
        credential: credential.map(str::to_string),
        context: Default::default(),
        now: None,
    })
}

fn allowed(engine: &Engine, r: &Request) -> bool {
    engine.check(r).unwrap().allowed()
}

// ------------------------------------------------------------- precedence

#[test]
fn a_newer_inventory_status_wins_over_an_older_journaled_reactivate() {
    let dir = temp_dir("precedence-status");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(INVENTORY, &clock, &journal, None, None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    engine.reactivate("etl", "alice").unwrap();
    assert!(allowed(&engine, &read("etl", None)));
    // Later the inventory says the agent is suspended.
    let suspended = INVENTORY.replace(
        "  - {id: etl, owner: alice}",
        "  - {id: etl, owner: alice, status: suspended}",
    );
    // A reload applies it at once ...
    let mut bundle = engine.bundle();
    bundle.inventory = agentauthz::Bundle::from_strings("", "", Some(&suspended)).inventory;
    engine.reload(bundle).unwrap();
    assert!(!allowed(&engine, &read("etl", None)));
    let skipped = engine.skipped_changes();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[1].starts_with("reactivate skipped: the inventory changed agent `etl`"));
    assert!(skipped[1].contains("journal seq 2"), "{skipped:?}");
    drop(engine);
    // ... and so does a restart, with the skip in the decision log.
    let log_path = dir.join("decisions.jsonl");
    let log = DecisionLog::file(&log_path).unwrap();
    let engine = build(&suspended, &clock, &journal, None, Some(log)).unwrap();
    assert!(!allowed(&engine, &read("etl", None)));
    assert_eq!(engine.skipped_changes().len(), 2);
    drop(engine);
    let text = std::fs::read_to_string(&log_path).unwrap();
    let skips: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "agentauthz:replay_skip")
        .collect();
    assert_eq!(skips.len(), 2, "{text}");
    assert_eq!(skips[1]["context"]["op"], "reactivate");
    assert_eq!(skips[1]["context"]["journal_seq"], 2);
    assert_eq!(skips[1]["decision"], "deny");
}

#[test]
fn an_unrelated_inventory_edit_does_not_void_a_change() {
    let dir = temp_dir("precedence-unrelated");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(INVENTORY, &clock, &journal, None, None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    drop(engine);
    // Another agent changes; `etl` stays as it was stated.
    let edited = INVENTORY.replace(
        "  - {id: other, owner: alice}",
        "  - {id: other, owner: alice, status: suspended}",
    );
    let engine = build(&edited, &clock, &journal, None, None).unwrap();
    assert!(engine.skipped_changes().is_empty());
    assert!(!allowed(&engine, &read("etl", None)), "still suspended");
}

#[test]
fn a_shortened_inventory_expiry_wins_over_an_older_journaled_rotation() {
    let dir = temp_dir("precedence-rotate");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(INVENTORY, &clock, &journal, None, None).unwrap();
    assert!(!allowed(&engine, &read("etl", Some("etl-key"))), "expired");
    engine
        .rotate_credential("etl-key", "2030-01-01T00:00:00Z", "alice")
        .unwrap();
    assert!(allowed(&engine, &read("etl", Some("etl-key"))));
    drop(engine);
    // The inventory re-issues the credential with a short life.
    let shortened = INVENTORY.replace(
        "issued: \"2026-01-01T00:00:00Z\", expires: \"2026-06-01T00:00:00Z\"",
        "issued: \"2026-11-29T09:00:00Z\", expires: \"2026-11-29T11:00:00Z\"",
    );
    let engine = build(&shortened, &clock, &journal, None, None).unwrap();
    assert_eq!(engine.skipped_changes().len(), 1);
    assert!(engine.skipped_changes()[0].starts_with("rotate_credential skipped"));
    assert!(allowed(&engine, &read("etl", Some("etl-key"))));
    clock.set(agentauthz::FixedClock::at(T0).unwrap().0 + 2 * HOUR);
    assert!(
        !allowed(&engine, &read("etl", Some("etl-key"))),
        "the inventory's expiry applies, not the journaled 2030"
    );
}

// ------------------------------------------------------ authenticated journal

#[test]
fn a_forged_journal_line_is_refused_when_keyed() {
    let dir = temp_dir("forged-journal");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(INVENTORY, &clock, &journal, Some(key("k1", 1)), None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    drop(engine);
    let genuine = std::fs::read_to_string(&journal).unwrap();
    assert!(genuine.contains(r#""kid":"k1""#), "{genuine}");
    // Reloads fine with the key.
    build(INVENTORY, &clock, &journal, Some(key("k1", 1)), None).unwrap();

    // An attacker appends a reactivate without the key.
    let forged = format!(
        "{genuine}{}\n",
        r#"{"seq":2,"at":"2026-11-29T10:00:00.000Z","by":"alice","op":"reactivate","agent":"etl"}"#
    );
    std::fs::write(&journal, &forged).unwrap();
    let e = build(INVENTORY, &clock, &journal, Some(key("k1", 1)), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalCorrupt);
    assert_eq!(e.details[0].location.as_ref().unwrap().line, 2);
    assert!(e.to_string().contains("unauthenticated"), "{e}");

    // With a MAC made by another key, or a changed entry: refused too.
    let other = temp_dir("forged-journal-other").join("journal.jsonl");
    let engine = build(INVENTORY, &clock, &other, Some(key("k1", 2)), None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    engine.reactivate("etl", "alice").unwrap();
    drop(engine);
    let theirs = std::fs::read_to_string(&other).unwrap();
    std::fs::write(
        &journal,
        format!("{genuine}{}\n", theirs.lines().nth(1).unwrap()),
    )
    .unwrap();
    let e = build(INVENTORY, &clock, &journal, Some(key("k1", 1)), None).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    std::fs::write(&journal, genuine.replace("\"etl\"", "\"other\"")).unwrap();
    let e = build(INVENTORY, &clock, &journal, Some(key("k1", 1)), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalCorrupt);

    // Read without the key, an authenticated journal is refused, not trusted.
    std::fs::write(&journal, &genuine).unwrap();
    let e = build(INVENTORY, &clock, &journal, None, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalCorrupt);
    // Rotation: a new current key, the old one by its id.
    let rotated = IntegrityKeys::new(IntegrityKey::new("k2", &[9; 32]).unwrap())
        .with_previous(IntegrityKey::new("k1", &[1; 32]).unwrap());
    let engine = build(INVENTORY, &clock, &journal, Some(rotated.clone()), None).unwrap();
    engine.reactivate("etl", "alice").unwrap();
    drop(engine);
    assert!(std::fs::read_to_string(&journal)
        .unwrap()
        .contains(r#""kid":"k2""#));
    build(INVENTORY, &clock, &journal, Some(rotated), None).unwrap();
}

#[test]
fn a_duplicate_key_or_unknown_member_in_the_journal_is_refused() {
    let dir = temp_dir("strict-journal");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(INVENTORY, &clock, &journal, None, None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    drop(engine);
    let genuine = std::fs::read_to_string(&journal).unwrap();
    for bad in [
        genuine.replace(r#""op":"suspend""#, r#""op":"reactivate","op":"suspend""#),
        genuine.replace(r#""op":"suspend""#, r#""op":"suspend","extra":1"#),
    ] {
        std::fs::write(&journal, &bad).unwrap();
        let e = build(INVENTORY, &clock, &journal, None, None).unwrap_err();
        assert_eq!(e.code(), ErrorCode::JournalCorrupt, "{bad}");
    }
}

// ------------------------------------------------------------- one writer

#[test]
fn a_second_writer_of_a_journal_is_refused() {
    let dir = temp_dir("locked-journal");
    let journal = dir.join("journal.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let first = build(INVENTORY, &clock, &journal, None, None).unwrap();
    let e = build(INVENTORY, &clock, &journal, None, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalLocked);
    assert_eq!(e.code().family(), agentauthz::ErrorFamily::Journal);
    drop(first);
    // The lock goes with its holder ...
    let second = build(INVENTORY, &clock, &journal, None, None).unwrap();
    // ... or with `close` (for hosts that cannot drop an engine).
    second.close();
    assert_eq!(
        second.suspend("etl", "alice").unwrap_err().code(),
        ErrorCode::LifecycleInvalid
    );
    assert!(second.check(&read("etl", None)).is_ok(), "checks go on");
    build(INVENTORY, &clock, &journal, None, None).unwrap();
}

// ---------------------------------------------------- authenticated log, tail

fn keyed_log(path: &Path, keys: &IntegrityKeys) -> DecisionLog {
    DecisionLog::file_with(FileOptions::new(path).keys(keys.clone())).unwrap()
}

fn write_log(path: &Path, keys: &IntegrityKeys, n: usize) {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .decision_log(keyed_log(path, keys))
        .build()
        .unwrap();
    for _ in 0..n {
        engine.check(&read("etl", None)).unwrap();
    }
}

fn verify_with(path: &Path, keys: &IntegrityKeys) -> agentauthz::audit::VerifyReport {
    verify_files(
        &[path.to_path_buf()],
        &VerifyOptions {
            keys: keys.clone(),
            ..VerifyOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn a_forged_record_appended_with_a_valid_chain_is_found() {
    let dir = temp_dir("forged-record");
    let path = dir.join("decisions.jsonl");
    let keys = key("log1", 3);
    write_log(&path, &keys, 3);
    let report = verify_with(&path, &keys);
    assert!(report.intact(), "{:?}", report.damage);
    assert!(report.authenticated);
    assert_eq!(report.checkpoint_seq, Some(3));
    // Forge a 4th record chained correctly (hash recomputed), MAC unknown.
    let text = std::fs::read_to_string(&path).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let mut forged = last.clone();
    forged["seq"] = 4.into();
    forged["prev_hash"] = last["hash"].clone();
    forged["decision"] = "allow".into();
    let obj = forged.as_object_mut().unwrap();
    obj.remove("hash");
    obj.remove("kid");
    obj.remove("mac");
    let hash = agentauthz::audit::record_hash(&forged).unwrap();
    forged["hash"] = hash.into();
    forged["kid"] = "log1".into();
    forged["mac"] = "00".repeat(32).into();
    std::fs::write(&path, format!("{text}{forged}\n")).unwrap();
    let d = verify_with(&path, &keys).damage.unwrap();
    assert_eq!((d.kind, d.seq), (DamageKind::Unauthenticated, Some(4)));
    // Without the key a keyed log is not called intact either.
    let d = verify_files(std::slice::from_ref(&path), &VerifyOptions::default())
        .unwrap()
        .damage
        .unwrap();
    assert_eq!(d.kind, DamageKind::Unauthenticated);
}

#[test]
fn an_emptied_or_rewritten_log_is_found_through_its_checkpoint() {
    let dir = temp_dir("emptied");
    let path = dir.join("decisions.jsonl");
    let keys = key("log1", 3);
    write_log(&path, &keys, 3);
    std::fs::write(&path, "").unwrap();
    let d = verify_with(&path, &keys).damage.unwrap();
    assert_eq!(d.kind, DamageKind::Truncated);
    // A forged checkpoint (pointing at nothing) does not verify.
    let cp = agentauthz::audit::checkpoint_path(&path);
    let text = std::fs::read_to_string(&cp).unwrap();
    std::fs::write(&cp, text.replace(r#""seq":3"#, r#""seq":0"#)).unwrap();
    let d = verify_with(&path, &keys).damage.unwrap();
    assert_eq!(d.kind, DamageKind::Unauthenticated);
}

#[test]
fn a_duplicated_decision_key_is_unverifiable_everywhere() {
    let dir = temp_dir("dup-key");
    let path = dir.join("decisions.jsonl");
    let keys = IntegrityKeys::none();
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .decision_log(keyed_log(&path, &keys))
        .build()
        .unwrap();
    engine.check(&read("nobody", None)).unwrap();
    drop(engine);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""decision":"deny""#));
    std::fs::write(
        &path,
        text.replace(
            r#""decision":"deny""#,
            r#""decision":"allow","decision":"deny""#,
        ),
    )
    .unwrap();
    let log = read_verified(std::slice::from_ref(&path), &VerifyOptions::default()).unwrap();
    let d = log.report.damage.unwrap();
    assert_eq!(d.kind, DamageKind::Malformed);
    assert!(d.message.contains("duplicate key"), "{}", d.message);
    assert_eq!((log.records.len(), log.unsound), (0, 1));
}

// ------------------------------------------------- recovery and ordering

#[test]
fn a_torn_last_log_line_is_cut_off_with_recover_and_the_chain_continues() {
    let dir = temp_dir("torn-log");
    std::fs::write(dir.join("schema.cedarschema"), SCHEMA).unwrap();
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/p.cedar"), POLICIES).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(
        dir.join("agentauthz.toml"),
        "[log]\nsink = \"file\"\npath = \"decisions.jsonl\"\n",
    )
    .unwrap();
    let path = dir.join("decisions.jsonl");
    let engine = Engine::load(&dir).unwrap();
    engine.check(&read("etl", None)).unwrap();
    engine.check(&read("etl", None)).unwrap();
    drop(engine);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"schema_version":1,"seq":3,"timest"#);
    std::fs::write(&path, &text).unwrap();

    let e = Engine::load(&dir).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LogCorrupt);
    let bundle = agentauthz::Bundle::read_dir(&dir).unwrap();
    let engine = Engine::builder()
        .bundle(bundle)
        .recover_journal(true)
        .build()
        .unwrap();
    engine.check(&read("etl", None)).unwrap();
    drop(engine);
    let report = verify_files(std::slice::from_ref(&path), &VerifyOptions::default()).unwrap();
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 4);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("agentauthz:recover"), "{text}");
}

#[test]
fn a_change_journaled_but_not_recorded_is_recorded_on_the_next_load() {
    let dir = temp_dir("rerecord");
    let journal = dir.join("journal.jsonl");
    let log_path = dir.join("decisions.jsonl");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = build(
        INVENTORY,
        &clock,
        &journal,
        None,
        Some(DecisionLog::file(&log_path).unwrap()),
    )
    .unwrap();
    engine.suspend("etl", "alice").unwrap();
    drop(engine);
    // A change journaled by a process killed before it recorded it.
    let engine = build(INVENTORY, &clock, &journal, None, None).unwrap();
    engine.reactivate("etl", "alice").unwrap();
    drop(engine);
    let engine = build(
        INVENTORY,
        &clock,
        &journal,
        None,
        Some(DecisionLog::file(&log_path).unwrap()),
    )
    .unwrap();
    drop(engine);
    let changes: Vec<serde_json::Value> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["context"]["journal_seq"].is_u64())
        .collect();
    let seqs: Vec<u64> = changes
        .iter()
        .map(|r| r["context"]["journal_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    assert_eq!(changes[1]["context"]["recorded_on_replay"], true);
    // Loading again records nothing twice.
    drop(
        build(
            INVENTORY,
            &clock,
            &journal,
            None,
            Some(DecisionLog::file(&log_path).unwrap()),
        )
        .unwrap(),
    );
    let again = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .filter(|l| l.contains("journal_seq"))
        .count();
    assert_eq!(again, 2);
    // A journal whose tail was cut is caught by the log's checkpoint.
    let text = std::fs::read_to_string(&journal).unwrap();
    let first = text.lines().next().unwrap();
    std::fs::write(&journal, format!("{first}\n")).unwrap();
    let e = build(
        INVENTORY,
        &clock,
        &journal,
        None,
        Some(DecisionLog::file(&log_path).unwrap()),
    )
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalCorrupt);
}
