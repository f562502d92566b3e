//! A real nginx serving signed bundles for the bundle-URL tests: Debian's
//! `nginx` package (`make test-deps`), run in the foreground as the current
//! user (no master process) with a temp prefix and config on a free port of
//! 127.0.0.1, ETags on; killed (and the dir removed) when dropped.
//!
//! Without the binary the tests skip loudly, unless
//! `AGENTAUTHZ_REQUIRE_SERVERS` is set (CI), where that is a failure.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub port: u16,
}

fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Nginx {
    pub fn start(test: &str) -> Option<Nginx> {
        let Some(bin) = binary() else {
            if std::env::var_os("AGENTAUTHZ_REQUIRE_SERVERS").is_some() {
                panic!("nginx is not installed and AGENTAUTHZ_REQUIRE_SERVERS is set: run `make test-deps` (Debian package nginx)");
            }
            eprintln!(
                "\n\n!!!!!!!! SKIPPED {test}: nginx is not installed (Debian package nginx; \
                 `make test-deps` installs it). Set AGENTAUTHZ_REQUIRE_SERVERS=1 to make this \
                 a failure. !!!!!!!!\n"
            );
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "agentauthz-nginx-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("www");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // While DIR/fail exists every request answers 500 (`fail(true)`).
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/logs/access.log;\n  client_body_temp_path {d}/tmp-body;\n\
             proxy_temp_path {d}/tmp-proxy;\n  fastcgi_temp_path {d}/tmp-fcgi;\n\
             uwsgi_temp_path {d}/tmp-uwsgi;\n  scgi_temp_path {d}/tmp-scgi;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {r};\n    etag on;\n\
             if (-f {d}/fail) {{ return 500; }}\n  }}\n}}\n",
            d = dir.display(),
            r = root.display(),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let n = Nginx {
            child,
            dir,
            root,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(n)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Replaces a served file atomically (a rename, as a deploy would).
    pub fn publish(&self, name: &str, bytes: &[u8]) {
        let tmp = self.root.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.root.join(name)).unwrap();
    }

    /// Makes every request answer 500 (or not).
    pub fn fail(&self, on: bool) {
        let flag = self.dir.join("fail");
        if on {
            std::fs::write(flag, "").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Requests served so far with this status (from the access log).
    pub fn served(&self, status: u16) -> usize {
        std::fs::read_to_string(self.dir.join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("\" {status} ")))
            .count()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
