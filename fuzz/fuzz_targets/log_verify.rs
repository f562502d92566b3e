//! `log verify`: the input is written as a decision log and its hash chain
//! verified, and its records read. A report, never a crash; a log the
//! fuzzer wrote is intact only if its hashes really chain.
#![no_main]

use agentauthz::audit::{read_records, verify_files, VerifyOptions};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("agentauthz-fuzz-log-{}.jsonl", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let paths = [path.clone()];
    if let Ok(report) = verify_files(&paths, &VerifyOptions::default()) {
        let _ = report.intact();
    }
    let _ = read_records(&paths);
});
