//! Journal files: the input is written as a journal and opened (strict, then
//! with recover). Entries or a coded error, never a crash.
#![no_main]

use agentauthz::{ErrorCode, Journal};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "agentauthz-fuzz-journal-{}.jsonl",
            std::process::id()
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    if std::fs::write(path, data).is_err() {
        return;
    }
    for recover in [false, true] {
        match Journal::open(path, recover) {
            Ok((_journal, entries)) => {
                for e in entries {
                    let _ = serde_json::to_string(&e);
                }
            }
            Err(e) => assert!(
                matches!(
                    e.code(),
                    ErrorCode::JournalCorrupt
                        | ErrorCode::Io
                        | ErrorCode::InputTooDeep
                        | ErrorCode::InputTooLarge
                ),
                "{e}"
            ),
        }
        // `recover` may have cut a torn line off: start from the input again.
        if std::fs::write(path, data).is_err() {
            return;
        }
    }
});
