//! The canonical JSON form records are hashed in (documented in `audit.rs`).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first record of a log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical form of a JSON value: sorted keys, no whitespace, minimal escapes.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    write_value(value, &mut out);
    out
}

/// The hash a record (given as parsed JSON) should carry: SHA-256 hex of the
/// canonical form of the record without its `hash`, `kid` and `mac` members
/// (the MAC covers the hash). `None` if `record` is not an object.
pub fn record_hash(record: &Value) -> Option<String> {
    let Value::Object(map) = record else {
        return None;
    };
    let mut entries: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "hash" | "kid" | "mac"))
        .collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = Vec::with_capacity(512);
    write_entries(&entries, &mut out);
    Some(hex(&Sha256::digest(&out)))
}

pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            write_entries(&entries, out);
        }
    }
}

fn write_entries(entries: &[(&String, &Value)], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(k, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

/// A JSON string with minimal escapes.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most text needs no escape: skip it eight bytes at a time (the
        // last few padded with a byte that needs none).
        let (word, n) = match bytes.get(i..i + 8) {
            Some(chunk) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                (word, 8)
            }
            None => {
                let rest = &bytes[i..];
                let mut word = [b'a'; 8];
                word[..rest.len()].copy_from_slice(rest);
                (word, rest.len())
            }
        };
        if !needs_escape(u64::from_le_bytes(word)) {
            i += n;
            continue;
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\`
/// (exact: the classic "has a byte less than / equal to" bit tricks).
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let bs = w ^ (ONES * u64::from(b'\\'));
    let backslash = bs.wrapping_sub(ONES) & !bs;
    (control | quote | backslash) & HIGH != 0
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for chunk in bytes.chunks(32) {
        let mut buf = [0u8; 64];
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        // Always ASCII.
        s.push_str(std::str::from_utf8(&buf[..chunk.len() * 2]).unwrap_or_default());
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_escapes_minimally() {
        let v =
            json!({"b": [1, -2, 2.5, true, null], "a": {"z": "x\"y\\\n\u{1}é", "é": 0, "Z": "—"}});
        let text = String::from_utf8(canonical_json(&v)).unwrap();
        assert_eq!(
            text,
            r#"{"a":{"Z":"—","z":"x\"y\\\n\u0001é","é":0},"b":[1,-2,2.5,true,null]}"#
        );
        // serde_json reads it back to the same value.
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn hash_ignores_the_hash_member_and_member_order() {
        let a = json!({"seq": 1, "prev_hash": GENESIS_HASH, "x": "y"});
        let b = json!({"x": "y", "hash": "whatever", "prev_hash": GENESIS_HASH, "seq": 1});
        assert_eq!(record_hash(&a), record_hash(&b));
        let c = json!({"x": "z", "prev_hash": GENESIS_HASH, "seq": 1});
        assert_ne!(record_hash(&a), record_hash(&c));
        assert_eq!(record_hash(&json!([1])), None);
    }

    /// The word-at-a-time skip escapes exactly what the byte loop does, at
    /// every position of a word and for every byte value.
    #[test]
    fn escapes_every_byte_at_every_offset() {
        let slow = |s: &str| {
            let mut o = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\u{8}' => o.push_str("\\b"),
                    '\t' => o.push_str("\\t"),
                    '\n' => o.push_str("\\n"),
                    '\u{c}' => o.push_str("\\f"),
                    '\r' => o.push_str("\\r"),
                    c if u32::from(c) < 0x20 => o.push_str(&format!("\\u{:04x}", u32::from(c))),
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        };
        for c in (0u32..0x80).chain([0xe9, 0x2014, 0x1f600]) {
            let c = char::from_u32(c).unwrap();
            for len in 0..20 {
                for at in 0..len {
                    let s: String = (0..len).map(|i| if i == at { c } else { 'a' }).collect();
                    let mut out = Vec::new();
                    write_str(&s, &mut out);
                    assert_eq!(String::from_utf8(out).unwrap(), slow(&s), "{s:?}");
                }
            }
        }
        let mixed = "\u{1}\"\\é—x\n\u{1f}\u{7f}\u{20}z";
        let mut out = Vec::new();
        write_str(mixed, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), slow(mixed));
        // serde_json reads it back.
        let mut out = Vec::new();
        write_str(mixed, &mut out);
        assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), mixed);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        let long: Vec<u8> = (0..=255).collect();
        let expected: String = long.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&long), expected);
    }
}
