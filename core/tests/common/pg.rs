//! A real PostgreSQL for the fleet tests: Debian's `postgresql` package
//! (`make test-deps`), `initdb` in a temp dir, `pg_ctl` on a free port on
//! 127.0.0.1, stopped (and the dir removed) when dropped. PostgreSQL refuses
//! to run as root, so as root it runs as the `postgres` user.
//!
//! Without the server binaries the tests skip loudly, unless
//! `AGENTAUTHZ_REQUIRE_SERVERS` is set (CI), where that is a failure.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Pg {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("pg_ctl").exists() && b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Pg {
    /// A running server, or `None` (after a loud message) when PostgreSQL is
    /// not installed and `AGENTAUTHZ_REQUIRE_SERVERS` is unset.
    pub fn start(test: &str) -> Option<Pg> {
        let Some(bin) = bin_dir() else {
            if std::env::var_os("AGENTAUTHZ_REQUIRE_SERVERS").is_some() {
                panic!("PostgreSQL is not installed and AGENTAUTHZ_REQUIRE_SERVERS is set: run `make test-deps` (Debian package postgresql)");
            }
            eprintln!(
                "\n\n!!!!!!!! SKIPPED {test}: PostgreSQL is not installed (Debian package \
                 postgresql; `make test-deps` installs it). Set AGENTAUTHZ_REQUIRE_SERVERS=1 \
                 to make this a failure. !!!!!!!!\n"
            );
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agentauthz-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown of {} failed", dir.display());
        }
        let pg = Pg {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start_server();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(&self.dir).output().unwrap()
    }

    /// Starts the server (again) on the same port and data.
    pub fn start_server(&self) {
        self.start_server_with("");
    }

    /// Writes `name` into the server's data directory, readable by the
    /// server only (a key must be).
    pub fn put_file(&self, name: &str, contents: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data().join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if self.as_postgres {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&path)
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }

    /// Starts the server with extra `-c` settings (e.g. `-c ssl=on`).
    pub fn start_server_with(&self, extra: &str) {
        // fsync off: the tests kill PostgreSQL's processes, never the
        // machine; a commit is still written to the OS before it is
        // acknowledged, so nothing acknowledged is lost by a server crash.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200 {extra}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `fast` (a clean stop) or `immediate` (a crash: no checkpoint).
    pub fn stop_server(&self, mode: &str) {
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                mode,
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?connect_timeout=5",
            self.port
        )
    }

    /// A superuser connection for the test's own statements.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
