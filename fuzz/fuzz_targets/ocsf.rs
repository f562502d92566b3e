//! The OCSF exporter: any decision record that parses converts to an OCSF
//! event, never a crash.
#![no_main]

use agentauthz::audit::to_ocsf;
use agentauthz::DecisionRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<DecisionRecord>(data) {
        let event = to_ocsf(&record);
        let _ = serde_json::to_string(&event);
    }
});
