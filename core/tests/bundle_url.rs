//! Bundles pulled from a real nginx (`[bundle] url`): the first fetch, a 304
//! poll, a new revision, and every way a poll can fail (a 500, a truncated
//! archive, a wrong signature, a signed but invalid bundle) leaving the
//! active revision; a restart without the server starts from the cache;
//! eight engine processes polling one URL all take a signed bundle and none
//! a tampered one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "common/nginx.rs"]
mod nginx;

use agentauthz::archive::{BundleFiles, BundleSignature};
use agentauthz::{Engine, ErrorCode, KeySource, Request, SessionKeys};
use nginx::Nginx;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies-examples/coding-agent")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("aaz-bundle-url-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

/// The example bundle plus `extra` policies.
fn variant(name: &str, extra: &[(&str, &str)]) -> BundleFiles {
    let d = temp(&format!("variant-{name}"));
    copy_dir(&example(), &d);
    for (file, text) in extra {
        std::fs::write(d.join("policies").join(file), text).unwrap();
    }
    let files = BundleFiles::read_dir(&d).unwrap();
    let _ = std::fs::remove_dir_all(&d);
    files
}

struct Signer {
    secret: KeySource,
    public: String,
}

fn signer() -> Signer {
    let k = SessionKeys::generate("k1").unwrap();
    Signer {
        secret: KeySource::Text(k.secret_key_paserk().unwrap()),
        public: k.public_key_paserk("k1").unwrap(),
    }
}

fn publish(n: &Nginx, files: &BundleFiles, key: &KeySource) -> String {
    let rev = files.revision();
    let sig = BundleSignature::sign(&rev, "k1", key).unwrap();
    n.publish("bundle.tar.gz", &files.to_archive().unwrap());
    n.publish("bundle.tar.gz.sig", sig.to_json().as_bytes());
    rev
}

fn local_dir(name: &str, url: &str, public: &str, poll_seconds: u64) -> PathBuf {
    let d = temp(name);
    std::fs::write(
        d.join("agentauthz.toml"),
        format!(
            "[bundle]\nurl = \"{url}\"\npublic_keys = {{ k1 = \"{public}\" }}\n\
             poll_seconds = {poll_seconds}\ncache_dir = \"cache\"\n"
        ),
    )
    .unwrap();
    d
}

fn read_request() -> Request {
    Request::from_json_str(
        r#"{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},
            "context":{"source_ip":"10.20.0.7"}}"#,
    )
    .unwrap()
}

const NO_READS: &str =
    "@id(\"v2/no-reads\")\nforbid (principal, action == Action::\"github:read\", resource);\n";

#[test]
fn a_signed_bundle_from_nginx_activates_and_every_bad_poll_keeps_the_old_one() {
    let Some(mut nginx) = Nginx::start("bundle_url") else {
        return;
    };
    let s = signer();
    let v1 = variant("v1", &[]);
    let rev1 = publish(&nginx, &v1, &s.secret);
    let dir = local_dir("main", &nginx.url("bundle.tar.gz"), &s.public, 0);

    // Initial fetch.
    let engine = Engine::load(&dir).unwrap();
    let st = engine.bundle_status().unwrap();
    assert_eq!(st.revision.as_deref(), Some(rev1.as_str()));
    assert_eq!(st.source.as_deref(), Some("network"));
    assert_eq!(st.last_result.as_deref(), Some("updated"));
    assert!(engine.check(&read_request()).unwrap().allowed());
    let v1_policy_revision = engine.policy_revision();

    // A poll with nothing new: a 304 from nginx.
    let before = nginx.served(304);
    let t = Instant::now();
    let st = engine.poll_bundle().unwrap();
    let not_modified = t.elapsed();
    assert_eq!(st.last_result.as_deref(), Some("not_modified"), "{st:?}");
    assert_eq!(nginx.served(304), before + 1);

    // A swapped file: the new revision activates.
    let v2 = variant("v2", &[("v2.cedar", NO_READS)]);
    let t = Instant::now();
    let rev2 = {
        // nginx's ETag is mtime-size; make sure the mtime moves.
        std::thread::sleep(Duration::from_millis(1100));
        publish(&nginx, &v2, &s.secret)
    };
    let t_publish = t.elapsed();
    let t = Instant::now();
    let st = engine.poll_bundle().unwrap();
    let full = t.elapsed();
    assert_eq!(st.last_result.as_deref(), Some("updated"), "{st:?}");
    assert_eq!(st.revision.as_deref(), Some(rev2.as_str()));
    assert_ne!(engine.policy_revision(), v1_policy_revision);
    let d = engine.check(&read_request()).unwrap();
    assert!(!d.allowed());
    assert_eq!(d.reasons(), ["v2/no-reads"]);
    let v2_policy_revision = engine.policy_revision();
    eprintln!(
        "bundle poll cost: 304 poll {:.2} ms; fetch+verify+activate {:.2} ms (publish {:.0} ms incl. a 1.1 s mtime wait)",
        not_modified.as_secs_f64() * 1e3,
        full.as_secs_f64() * 1e3,
        t_publish.as_secs_f64() * 1e3
    );

    let stays = |what: &str, code: &str| {
        let st = engine.poll_bundle().unwrap();
        assert_eq!(st.last_result.as_deref(), Some("error"), "{what}: {st:?}");
        let err = st.last_error.clone().unwrap();
        assert!(err.contains(code), "{what}: {err}");
        assert_eq!(st.revision.as_deref(), Some(rev2.as_str()), "{what}");
        assert_eq!(engine.policy_revision(), v2_policy_revision, "{what}");
        assert!(!engine.check(&read_request()).unwrap().allowed(), "{what}");
    };

    // A 500.
    nginx.fail(true);
    stays("a 500", "bundle_unavailable");
    nginx.fail(false);

    // A truncated archive (its signature is the whole one's).
    std::thread::sleep(Duration::from_millis(1100));
    let v3 = variant("v3", &[]);
    let whole = v3.to_archive().unwrap();
    let sig3 = BundleSignature::sign(&v3.revision(), "k1", &s.secret).unwrap();
    nginx.publish("bundle.tar.gz.sig", sig3.to_json().as_bytes());
    nginx.publish("bundle.tar.gz", &whole[..whole.len() / 2]);
    stays("a truncated archive", "bundle_archive_invalid");

    // A wrong signature: the whole archive, signed by another key under kid k1.
    std::thread::sleep(Duration::from_millis(1100));
    let other = signer();
    publish(&nginx, &v3, &other.secret);
    stays("a wrong signature", "bundle_signature_invalid");

    // A signed bundle that does not compile.
    std::thread::sleep(Duration::from_millis(1100));
    let bad = variant(
        "bad",
        &[(
            "bad.cedar",
            "@id(\"bad\")\npermit (principal, action, resource) when { nope };\n",
        )],
    );
    publish(&nginx, &bad, &s.secret);
    stays("a signed but invalid bundle", "policy");

    // A failed poll counts; a good one after it clears the error.
    std::thread::sleep(Duration::from_millis(1100));
    let rev1_again = publish(&nginx, &v1, &s.secret);
    let st = engine.poll_bundle().unwrap();
    assert_eq!(st.last_result.as_deref(), Some("updated"));
    assert_eq!(st.revision.as_deref(), Some(rev1_again.as_str()));
    assert!(st.last_error.is_none() && st.failures == 4, "{st:?}");
    assert!(engine.check(&read_request()).unwrap().allowed());
    drop(engine);

    // A restart while nginx is down starts from the cached bundle.
    nginx.stop();
    let restarted = Engine::load(&dir).unwrap();
    let st = restarted.bundle_status().unwrap();
    assert_eq!(st.source.as_deref(), Some("cache"));
    assert_eq!(st.revision.as_deref(), Some(rev1.as_str()));
    assert!(st.last_error.unwrap().contains("bundle_unavailable"));
    assert_eq!(restarted.policy_revision(), v1_policy_revision);
    assert!(restarted.check(&read_request()).unwrap().allowed());
    drop(restarted);

    // A tampered cache is not trusted: verified again, refused (with the
    // server down, nothing is left to start from).
    let cached = dir.join("cache/bundle.tar.gz");
    let v2_bytes = v2.to_archive().unwrap();
    std::fs::write(&cached, v2_bytes).unwrap();
    let e = Engine::load(&dir).unwrap_err();
    assert_eq!(e.code(), ErrorCode::BundleUnavailable, "{e}");
    // No cache and no server: the engine does not start.
    std::fs::remove_dir_all(dir.join("cache")).unwrap();
    assert_eq!(
        Engine::load(&dir).unwrap_err().code(),
        ErrorCode::BundleUnavailable
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_poller_activates_a_new_revision_by_itself() {
    let Some(nginx) = Nginx::start("bundle_url poller") else {
        return;
    };
    let s = signer();
    publish(&nginx, &variant("p1", &[]), &s.secret);
    let dir = local_dir("poller", &nginx.url("bundle.tar.gz"), &s.public, 1);
    let engine = Engine::load(&dir).unwrap();
    assert!(engine.check(&read_request()).unwrap().allowed());
    std::thread::sleep(Duration::from_millis(1100));
    let rev2 = publish(&nginx, &variant("p2", &[("v2.cedar", NO_READS)]), &s.secret);
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine.bundle_status().unwrap().revision.as_deref() != Some(rev2.as_str()) {
        assert!(Instant::now() < deadline, "{:?}", engine.bundle_status());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!engine.check(&read_request()).unwrap().allowed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bundle_url_settings_are_checked() {
    let s = signer();
    for (url, keys, code) in [
        (
            "http://bundles.example/b.tar.gz",
            true,
            ErrorCode::ConfigInvalid,
        ),
        ("ftp://127.0.0.1/b.tar.gz", true, ErrorCode::ConfigInvalid),
        (
            "https://bundles.example/b.tar.gz",
            false,
            ErrorCode::ConfigInvalid,
        ),
    ] {
        let d = temp("settings");
        let keys = if keys {
            format!("public_keys = {{ k1 = \"{}\" }}\n", s.public)
        } else {
            String::new()
        };
        std::fs::write(
            d.join("agentauthz.toml"),
            format!("[bundle]\nurl = \"{url}\"\n{keys}"),
        )
        .unwrap();
        assert_eq!(Engine::load(&d).unwrap_err().code(), code, "{url}");
    }
    // Nothing listens on port 9 of loopback: unavailable, not a hang.
    let d = local_dir("closed", "http://127.0.0.1:9/b.tar.gz", &s.public, 0);
    assert_eq!(
        Engine::load(&d).unwrap_err().code(),
        ErrorCode::BundleUnavailable
    );
}

/// The child side of the eight-process test: an engine polling the URL of
/// its directory every second, printing its state whenever it changes, until
/// its stdin closes. Runs only when started with AGENTAUTHZ_BUNDLE_CHILD.
#[test]
fn bundle_child_process() {
    let Ok(dir) = std::env::var("AGENTAUTHZ_BUNDLE_CHILD") else {
        return;
    };
    let engine = Engine::load(&dir).unwrap();
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let closed = closed.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {
                line.clear();
            }
            closed.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    }
    let mut last = String::new();
    while !closed.load(std::sync::atomic::Ordering::Relaxed) {
        let st = engine.bundle_status().unwrap();
        let now = serde_json::json!({
            "revision": st.revision, "polls": st.polls, "result": st.last_result,
            "allowed": engine.check(&read_request()).unwrap().allowed(),
        })
        .to_string();
        if now != last {
            println!("@@ {now}");
            last = now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn eight_engine_processes_take_a_signed_bundle_and_none_a_tampered_one() {
    let Some(nginx) = Nginx::start("bundle_url fleet") else {
        return;
    };
    let s = signer();
    let rev1 = publish(&nginx, &variant("f1", &[]), &s.secret);
    let latest: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> =
        std::sync::Arc::new(std::sync::Mutex::new(vec![serde_json::Value::Null; 8]));
    let mut children = Vec::new();
    for i in 0..8 {
        let dir = local_dir(
            &format!("fleet-{i}"),
            &nginx.url("bundle.tar.gz"),
            &s.public,
            1,
        );
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bundle_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AGENTAUTHZ_BUNDLE_CHILD", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let latest = latest.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(json) = line.strip_prefix("@@ ") {
                    latest.lock().unwrap()[i] = serde_json::from_str(json).unwrap();
                }
            }
        });
        children.push((child, dir));
    }
    let wait_all = |what: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let states = latest.lock().unwrap().clone();
            if states.iter().all(f) {
                return states;
            }
            assert!(Instant::now() < deadline, "{what}: {states:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_all("every engine starts on the first revision", &|v| {
        v["revision"] == rev1.as_str() && v["allowed"] == true
    });

    // A signed new revision: every engine takes it by its own poll.
    std::thread::sleep(Duration::from_millis(1100));
    let rev2 = publish(&nginx, &variant("f2", &[("v2.cedar", NO_READS)]), &s.secret);
    let t = Instant::now();
    wait_all("every engine takes the signed revision", &|v| {
        v["revision"] == rev2.as_str() && v["allowed"] == false
    });
    eprintln!(
        "a signed bundle reached 8 engine processes in {:?} (1 s polls)",
        t.elapsed()
    );

    // A tampered one (an allow-all policy under the old signature): every
    // engine polls it at least twice and none takes it.
    std::thread::sleep(Duration::from_millis(1100));
    let tampered = variant(
        "f3",
        &[(
            "all.cedar",
            "@id(\"all\")\npermit (principal, action, resource);\n",
        )],
    );
    nginx.publish("bundle.tar.gz", &tampered.to_archive().unwrap());
    let polls: Vec<u64> = latest
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["polls"].as_u64().unwrap())
        .collect();
    let states = wait_all("every engine polls the tampered bundle twice", &|v| {
        v["result"] == "error"
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while latest
        .lock()
        .unwrap()
        .iter()
        .zip(&polls)
        .any(|(v, p)| v["polls"].as_u64().unwrap() < p + 2)
    {
        assert!(Instant::now() < deadline, "{states:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for v in latest.lock().unwrap().iter() {
        assert_eq!(v["revision"], rev2.as_str(), "{v}");
        assert_eq!(
            v["allowed"], false,
            "the tampered allow-all is not active: {v}"
        );
    }
    for (mut child, dir) in children {
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let _ = std::fs::remove_dir_all(dir);
    }
}
