//! Tool calls: a framework's tool arguments made to fit the type the schema
//! declares for the action's `context.input`, before the ordinary check.
//!
//! Frameworks hand over JSON as a model wrote it: `null` for an unset
//! optional field, `12.5` for an amount the schema types as `decimal`, `3.0`
//! for a count. Cedar's JSON reader refuses all three. Here each is turned
//! into the value Cedar would read from the equivalent hand-written input,
//! or refused with an error naming its path; nothing else is changed, so a
//! value Cedar would reject as a type error is still rejected by Cedar.
//! The types are the per-action context types the snapshot resolved once.

use super::context::{extension_value, AttrType, Extension, RecordType};
use super::snapshot::Snapshot;
use crate::error::{Error, ErrorCode, Result};
use crate::model::Request;
use serde_json::{json, Map, Number, Value};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::RequestInvalid, message)
}

/// Coerces `context.input` of an agent-form request in place. An action the
/// schema does not know, or whose context type is not resolved here, leaves
/// the input as it is (the check then denies or errors as for any request).
pub(super) fn coerce(snapshot: &Snapshot, request: &mut Request) -> Result<()> {
    let Request::Agent(r) = request else {
        return Ok(());
    };
    let Some(input) = r.context.get_mut("input") else {
        return Ok(());
    };
    let Some(record) = snapshot
        .actions
        .get(&r.action)
        .and_then(|a| snapshot.context_types.get(a))
    else {
        return Ok(());
    };
    let Some((ty, _)) = record.attrs.get("input") else {
        return Err(invalid(format!(
            "input: the context of action `{}` declares no `input`",
            r.action
        )));
    };
    let mut path = String::from("input");
    coerce_value(input, ty, &mut path)
}

/// Recursion follows the declared type, whose depth the resolver bounds.
fn coerce_value(value: &mut Value, ty: &AttrType, path: &mut String) -> Result<()> {
    if value.is_null() {
        return Err(invalid(format!(
            "{path}: null where {} is required",
            type_name(ty)
        )));
    }
    let replacement = match (ty, &mut *value) {
        (AttrType::Long, Value::Number(n)) => {
            let long = long_of(n).map_err(|why| invalid(format!("{path}: {n} {why} for Long")))?;
            Value::from(long)
        }
        (AttrType::Extension(Extension::Decimal), Value::Number(n)) => {
            let text =
                decimal_text(n).map_err(|why| invalid(format!("{path}: {n} {why} for decimal")))?;
            json!({"__extn": {"fn": "decimal", "arg": text}})
        }
        (AttrType::Set(element), Value::Array(items)) => {
            let len = path.len();
            for (i, item) in items.iter_mut().enumerate() {
                path.push_str(&format!("[{i}]"));
                coerce_value(item, element, path)?;
                path.truncate(len);
            }
            return Ok(());
        }
        (AttrType::Record(record), Value::Object(o)) if !is_escape(o) => {
            return coerce_record(o, record, path);
        }
        // Anything else is Cedar's to read: strings for extension types go
        // to their constructors, and a mismatch stays Cedar's type error.
        _ => return Ok(()),
    };
    *value = replacement;
    Ok(())
}

/// Cedar reads an object with one of these members as an escape, not a record.
fn is_escape(o: &Map<String, Value>) -> bool {
    ["__extn", "__entity", "__expr"]
        .iter()
        .any(|k| o.contains_key(*k))
}

fn coerce_record(o: &mut Map<String, Value>, record: &RecordType, path: &mut String) -> Result<()> {
    let len = path.len();
    let mut drop = Vec::new();
    for (name, item) in o.iter_mut() {
        path.push('.');
        path.push_str(name);
        let Some((ty, required)) = record.attrs.get(name) else {
            return Err(invalid(format!(
                "{path}: not an attribute of the declared record type"
            )));
        };
        if item.is_null() && !required {
            drop.push(name.clone());
        } else {
            coerce_value(item, ty, path)?;
        }
        path.truncate(len);
    }
    for name in drop {
        o.remove(&name);
    }
    let mut missing: Vec<&String> = record
        .attrs
        .iter()
        .filter(|(name, (_, required))| *required && !o.contains_key(*name))
        .map(|(name, _)| name)
        .collect();
    missing.sort();
    match missing.first() {
        Some(name) => Err(invalid(format!(
            "{path}.{name}: required attribute is missing"
        ))),
        None => Ok(()),
    }
}

fn type_name(ty: &AttrType) -> &'static str {
    match ty {
        AttrType::String => "String",
        AttrType::Long => "Long",
        AttrType::Bool => "Bool",
        AttrType::Entity(_) => "an entity",
        AttrType::Set(_) => "a Set",
        AttrType::Record(_) => "a record",
        AttrType::Extension(Extension::Decimal) => "decimal",
        AttrType::Extension(Extension::Ip) => "ipaddr",
        AttrType::Extension(Extension::Datetime) => "datetime",
        AttrType::Extension(Extension::Duration) => "duration",
    }
}

/// 2^63 as f64: the first value past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// A JSON number as a Long: integral and within i64 (`3.0` is 3).
fn long_of(n: &Number) -> std::result::Result<i64, &'static str> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.is_u64() {
        return Err("is out of range");
    }
    let f = n.as_f64().ok_or("is not a finite number")?;
    if !f.is_finite() {
        return Err("is not a finite number");
    }
    if f.fract() != 0.0 {
        return Err("is not an integer");
    }
    if !(-TWO_POW_63..TWO_POW_63).contains(&f) {
        return Err("is out of range");
    }
    // Exact: integral and within range.
    #[allow(clippy::cast_possible_truncation)]
    Ok(f as i64)
}

/// Cedar's decimal: a signed 64-bit count of ten-thousandths.
const DECIMAL_DIGITS: usize = 4;

/// The decimal literal of a JSON number: its shortest round-trip text,
/// exact or refused (more than 4 fraction digits, outside Cedar's range);
/// never rounded. The text is checked by Cedar's own constructor.
fn decimal_text(n: &Number) -> std::result::Result<String, &'static str> {
    let text = if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        let f = n.as_f64().ok_or("is not a finite number")?;
        if !f.is_finite() {
            return Err("is not a finite number");
        }
        // Rust prints the shortest text that reads back as `f`, never with an exponent.
        format!("{f}")
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if frac.len() > DECIMAL_DIGITS {
        return Err("has more than 4 fraction digits");
    }
    // 20 digits already exceed i64; shorter texts fit i128 exactly.
    if int.len() > 19 || int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is out of range");
    }
    let int: i128 = int.parse().map_err(|_| "is out of range")?;
    let mut scaled_frac: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| "is out of range")?
    };
    for _ in frac.len()..DECIMAL_DIGITS {
        scaled_frac *= 10;
    }
    let magnitude = int * 10_000 + scaled_frac;
    let scaled = if negative { -magnitude } else { magnitude };
    if scaled < i128::from(i64::MIN) || scaled > i128::from(i64::MAX) {
        return Err("is out of range");
    }
    let literal = if magnitude == 0 {
        // -0.0 is zero.
        "0.0".to_string()
    } else {
        let frac = format!("{:04}", magnitude % 10_000);
        let frac = frac.trim_end_matches('0');
        let frac = if frac.is_empty() { "0" } else { frac };
        let sign = if negative { "-" } else { "" };
        format!("{sign}{}.{frac}", magnitude / 10_000)
    };
    // Cedar's constructor has the last word on its own range.
    extension_value(Extension::Decimal, &literal)
        .map(|_| literal)
        .ok_or("is out of range")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn num(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        let ok = [
            ("12.5", "12.5"),
            ("12.3456", "12.3456"),
            ("12.345", "12.345"),
            ("1e3", "1000.0"),
            ("-0.0", "0.0"),
            ("0", "0.0"),
            ("-7", "-7.0"),
            ("0.0001", "0.0001"),
            ("922337203685477", "922337203685477.0"),
            ("-922337203685477", "-922337203685477.0"),
        ];
        for (input, want) in ok {
            assert_eq!(decimal_text(&num(input)).as_deref(), Ok(want), "{input}");
        }
        let refused = [
            ("12.34567", "has more than 4 fraction digits"),
            ("12.30001", "has more than 4 fraction digits"),
            ("0.00001", "has more than 4 fraction digits"),
            ("1e-5", "has more than 4 fraction digits"),
            ("0.1e-4", "has more than 4 fraction digits"),
            ("922337203685478", "is out of range"),
            ("18446744073709551615", "is out of range"),
            ("-9223372036854775808", "is out of range"),
            ("1e300", "is out of range"),
            ("0.30000000000000004", "has more than 4 fraction digits"),
        ];
        for (input, why) in refused {
            assert_eq!(decimal_text(&num(input)), Err(why), "{input}");
        }
    }

    #[test]
    fn longs_are_integral_and_in_range() {
        assert_eq!(long_of(&num("3.0")), Ok(3));
        assert_eq!(long_of(&num("-0.0")), Ok(0));
        assert_eq!(long_of(&num("-9223372036854775808")), Ok(i64::MIN));
        assert_eq!(long_of(&num("1e3")), Ok(1000));
        assert_eq!(long_of(&num("3.5")), Err("is not an integer"));
        assert_eq!(long_of(&num("9223372036854775808")), Err("is out of range"));
        assert_eq!(long_of(&num("9.3e18")), Err("is out of range"));
        assert_eq!(long_of(&num("1e300")), Err("is out of range"));
    }
}
