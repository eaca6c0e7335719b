//! Unit properties a config asks for itself, with runc's rules: an annotation
//! `org.systemd.property.NAME` whose value is in GVariant text form (`uint64 123456789`,
//! `'inactive-or-failed'`, `true`, `456`) is added to the transient unit as property NAME.
//! CRI-O and podman users set TimeoutStopUSec and CollectMode this way.
//!
//! Only the part of the GVariant text format that unit properties take is parsed (booleans,
//! typed and untyped numbers, strings, arrays of strings): the whole format has tuples,
//! dictionaries and maybe types no property uses, and no maintained Rust crate parses it
//! without GLib.

use super::properties::{PropValue, Property};
use crate::error::{Error, Result};
use std::collections::HashMap;

const PREFIX: &str = "org.systemd.property.";

/// The properties the config's annotations add, sorted by name; a malformed one is an error
/// naming the annotation.
pub fn annotation_properties(
    annotations: Option<&HashMap<String, String>>,
) -> Result<Vec<Property>> {
    let Some(annotations) = annotations else {
        return Ok(Vec::new());
    };
    let mut ours: Vec<(&String, &String)> = annotations
        .iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .collect();
    ours.sort();
    ours.into_iter()
        .map(|(key, text)| {
            property(&key[PREFIX.len()..], text)
                .map_err(|msg| Error::config(format!("annotations.{key}"), msg))
        })
        .collect()
}

fn property(name: &str, text: &str) -> std::result::Result<Property, String> {
    check_name(name)?;
    let value = parse_value(text)?;
    // systemd's documented names end in "Sec" (TimeoutStopSec) where the bus property ends
    // in "USec" and counts microseconds; runc converts, so do we.
    if let Some(stem) = name.strip_suffix("Sec")
        && stem.ends_with(|c: char| c.is_ascii_lowercase())
    {
        let usec = seconds_to_usec(&value)
            .ok_or_else(|| format!("{text:?}: {name} takes a number of seconds"))?;
        return Ok((format!("{stem}USec").into(), PropValue::U64(usec)));
    }
    Ok((name.to_string().into(), value))
}

/// runc's rule for property names: three or more ASCII letters.
fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.len() < 3 {
        return Err(format!("property name {name:?} is too short"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "property name {name:?} has a character other than A-Z, a-z"
        ));
    }
    Ok(())
}

fn seconds_to_usec(v: &PropValue) -> Option<u64> {
    const M: u64 = 1_000_000;
    let whole = |n: i64| u64::try_from(n).ok()?.checked_mul(M);
    match v {
        PropValue::Byte(n) => whole((*n).into()),
        PropValue::I16(n) => whole((*n).into()),
        PropValue::U16(n) => whole((*n).into()),
        PropValue::I32(n) => whole((*n).into()),
        PropValue::U32(n) => whole((*n).into()),
        PropValue::I64(n) => whole(*n),
        PropValue::U64(n) => n.checked_mul(M),
        PropValue::Double(d) if *d >= 0.0 && (*d * 1e6) < u64::MAX as f64 => {
            Some((*d * 1e6) as u64)
        }
        _ => None,
    }
}

/// A value in GVariant text form (the subset described above).
fn parse_value(text: &str) -> std::result::Result<PropValue, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is not a GVariant value corral understands");
    // A type keyword, then the value: `uint64 123`. (A string or array may hold spaces.)
    if let Some((kind, rest)) = t
        .split_once(char::is_whitespace)
        .filter(|(kind, _)| kind.starts_with(|c: char| c.is_ascii_alphabetic() || c == '@'))
    {
        let rest = rest.trim();
        let int = |r: &str| parse_int(r).ok_or_else(bad);
        return match kind {
            "boolean" => parse_value(rest).and_then(|v| match v {
                PropValue::Bool(_) => Ok(v),
                _ => Err(bad()),
            }),
            "byte" => int(rest)?
                .try_into()
                .map(PropValue::Byte)
                .map_err(|_| bad()),
            "int16" => int(rest)?.try_into().map(PropValue::I16).map_err(|_| bad()),
            "uint16" => int(rest)?.try_into().map(PropValue::U16).map_err(|_| bad()),
            "int32" => int(rest)?.try_into().map(PropValue::I32).map_err(|_| bad()),
            "uint32" => int(rest)?.try_into().map(PropValue::U32).map_err(|_| bad()),
            "int64" => int(rest)?.try_into().map(PropValue::I64).map_err(|_| bad()),
            "uint64" => int(rest)?.try_into().map(PropValue::U64).map_err(|_| bad()),
            "double" => rest.parse().map(PropValue::Double).map_err(|_| bad()),
            "string" => parse_string(rest).map(PropValue::Str).ok_or_else(bad),
            "@as" if rest == "[]" => Ok(PropValue::Strs(Vec::new())),
            _ => Err(bad()),
        };
    }
    match t {
        "true" => return Ok(PropValue::Bool(true)),
        "false" => return Ok(PropValue::Bool(false)),
        _ => {}
    }
    if let Some(s) = parse_string(t) {
        return Ok(PropValue::Str(s));
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return parse_string_array(inner)
            .map(PropValue::Strs)
            .ok_or_else(bad);
    }
    // An untyped integer is an int32 in GVariant text, a number with a point a double.
    if let Some(n) = parse_int(t) {
        return i32::try_from(n).map(PropValue::I32).map_err(|_| bad());
    }
    if t.contains(['.', 'e', 'E']) {
        return t.parse().map(PropValue::Double).map_err(|_| bad());
    }
    Err(bad())
}

fn parse_int(t: &str) -> Option<i128> {
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t),
    };
    let n = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        None => return None,
    };
    Some(if neg { -n } else { n })
}

/// `'text'` or `"text"`, with backslash escapes; None when `t` is not one whole string.
fn parse_string(t: &str) -> Option<String> {
    let quote = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut chars = t[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'n' => '\n',
                't' => '\t',
                other => other,
            }),
            c if c == quote => return chars.next().is_none().then_some(out),
            c => out.push(c),
        }
    }
    None
}

/// The inside of `['a', 'b']`.
fn parse_string_array(inner: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let quote = rest.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        // The end of this string: the first unescaped closing quote.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == quote => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        out.push(parse_string(&rest[..=end])?);
        rest = rest[end + 1..].trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> std::result::Result<Property, String> {
        property(name, value)
    }

    #[test]
    fn sec_names_become_usec_in_microseconds() {
        for (text, want) in [
            ("uint64 234", 234_000_000),
            ("456", 456_000_000),
            ("byte 234", 234_000_000),
            ("int16 234", 234_000_000),
            ("uint32 234", 234_000_000),
            ("234.789", 234_789_000),
        ] {
            let (name, value) = one("TimeoutStopSec", text).unwrap();
            assert_eq!(name, "TimeoutStopUSec", "{text}");
            assert_eq!(value, PropValue::U64(want), "{text}");
        }
        assert!(one("TimeoutStopSec", "false").is_err());
        assert!(one("TimeoutStopSec", "'covfefe'").is_err());
        assert!(one("TimeoutStopSec", "-5").is_err());
    }

    #[test]
    fn usec_names_and_other_values_pass_as_typed() {
        assert_eq!(
            one("TimeoutStopUSec", "uint64 123456789").unwrap(),
            ("TimeoutStopUSec".into(), PropValue::U64(123456789))
        );
        assert_eq!(
            one("CollectMode", "'inactive-or-failed'").unwrap(),
            (
                "CollectMode".into(),
                PropValue::Str("inactive-or-failed".into())
            )
        );
        // An upper-case letter before "Sec" is not systemd's naming: no conversion.
        assert_eq!(
            one("FOOSec", "123").unwrap(),
            ("FOOSec".into(), PropValue::I32(123))
        );
        assert_eq!(one("Sec", "123").unwrap().1, PropValue::I32(123));
        assert_eq!(one("Delegate", "true").unwrap().1, PropValue::Bool(true));
        assert_eq!(
            one("Description", "'two words'").unwrap().1,
            PropValue::Str("two words".into())
        );
        assert_eq!(
            one("Wants", "['a.service', \"b\\\"c\"]").unwrap().1,
            PropValue::Strs(vec!["a.service".into(), "b\"c".into()])
        );
    }

    #[test]
    fn bad_names_and_values_are_errors() {
        assert!(one("Xo", "1").is_err());
        assert!(one("Number1", "1").is_err());
        assert!(one("ValidName", "invalid-value").is_err());
        assert!(one("ValidName", "'unterminated").is_err());
        assert!(one("ValidName", "uint16 70000").is_err());
        assert!(one("ValidName", "[1, 2]").is_err());
    }

    #[test]
    fn only_prefixed_annotations_count_and_errors_name_them() {
        let mut a = HashMap::new();
        a.insert("some.other".to_string(), "0".to_string());
        a.insert(
            "org.systemd.property.CollectMode".to_string(),
            "'inactive-or-failed'".to_string(),
        );
        assert_eq!(annotation_properties(Some(&a)).unwrap().len(), 1);
        a.insert("org.systemd.property.Bad1".to_string(), "1".to_string());
        let err = annotation_properties(Some(&a)).unwrap_err().to_string();
        assert!(
            err.starts_with("annotations.org.systemd.property.Bad1: "),
            "{err}"
        );
        assert!(annotation_properties(None).unwrap().is_empty());
    }
}
