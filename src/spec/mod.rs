//! Loading a bundle's config.json and checking it before anything is created.
//!
//! Errors name the file and the JSON path (`config.json: process.cwd: ...`): a client that
//! hands us a bad bundle must learn which field is wrong without reading our source.

pub mod cpus;
pub mod mempolicy;
pub mod sysctl;
mod validate;

pub use validate::validate;

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// The OCI runtime-spec version corral implements and reports (kept in the leaf `oci_state`,
/// whose JSON carries it, so modules below `spec` can name it).
pub use crate::oci_state::OCI_VERSION;
/// The oldest config.json version we accept.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// A bundle whose config.json parsed and validated.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// Loads `<bundle>/config.json`, parses it with JSON paths in errors, and validates it.
pub fn load_bundle(bundle: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(bundle)
        .map_err(|e| Error::config(bundle.display().to_string(), e.to_string()))?;
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::config(
                format!("bundle {}", dir.display()),
                "not a directory",
            ));
        }
        Err(e) => {
            return Err(Error::config(
                format!("bundle {}", dir.display()),
                crate::error::io_text(&e),
            ));
        }
    }
    let config = dir.join("config.json");
    let text = std::fs::read(&config).map_err(|e| {
        Error::config(
            config.display().to_string(),
            format!("cannot read: {}", crate::error::io_text(&e)),
        )
    })?;
    let spec = parse_config(&text).map_err(|e| match e {
        Error::Config { path, msg } => Error::config(format!("{}: {path}", config.display()), msg),
        other => other,
    })?;
    validate(&spec).map_err(|e| match e {
        Error::Config { path, msg } => Error::config(format!("{}: {path}", config.display()), msg),
        other => other,
    })?;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    let rootfs = if root.is_absolute() {
        root
    } else {
        dir.join(root)
    };
    if !rootfs.is_dir() {
        return Err(Error::config(
            format!("{}: root.path", config.display()),
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    Ok(Bundle { dir, rootfs, spec })
}

/// Parses config.json text; a type error reports the JSON path where it happened.
///
/// Capabilities this build does not know are ignored with one warning, as the runtime-spec
/// asks ("MUST be logged as a warning ... SHOULD NOT fail") and runc does: a config written
/// for a newer kernel must still start here. Only a config that fails the plain parse pays
/// for the second look.
pub fn parse_config(text: &[u8]) -> Result<Spec> {
    parse_spec(text).map(|spec| unset_pids_without_limit(spec, text))
}

fn parse_spec(text: &[u8]) -> Result<Spec> {
    if let Ok(spec) = serde_json::from_slice(text) {
        return Ok(spec);
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(text) {
        let dropped = value
            .pointer_mut("/process/capabilities")
            .map(drop_unknown_capabilities)
            .unwrap_or_default();
        if !dropped.is_empty() {
            if let Ok(spec) = serde_json::from_value(value) {
                warn_unknown_capabilities(&dropped);
                return Ok(spec);
            }
        }
    }
    parse_json_tracked(text).map_err(|(path, msg)| {
        let path = if path == "." || path.is_empty() {
            "(document)".to_string()
        } else {
            path
        };
        Error::config(path, msg)
    })
}

/// Spec 1.3 made `pids.limit` optional: a `pids` object without it leaves the limit alone,
/// and 0 is a limit. oci-spec reads a missing limit as 0, so the text tells them apart; it
/// is read again only when the parsed limit is 0.
fn unset_pids_without_limit(mut spec: Spec, text: &[u8]) -> Spec {
    let zero = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.pids().as_ref())
        .is_some_and(|p| p.limit() == 0);
    if zero
        && !pids_limit_given(text, "/linux/resources/pids")
        && let Some(mut linux) = spec.linux().clone()
        && let Some(mut r) = linux.resources().clone()
    {
        r.set_pids(None);
        linux.set_resources(Some(r));
        spec.set_linux(Some(linux));
    }
    spec
}

/// Whether the `pids` object at `pointer` in the JSON `text` has a `limit` (true when the
/// text cannot say otherwise).
pub fn pids_limit_given(text: &[u8], pointer: &str) -> bool {
    serde_json::from_slice::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.pointer(pointer).map(|p| p.get("limit").is_some()))
        .unwrap_or(true)
}

/// Removes the names a capability set object (`{"bounding": [...], ...}`) holds that are not
/// capabilities this build knows, and returns them, sorted and once each.
pub fn drop_unknown_capabilities(sets: &mut serde_json::Value) -> Vec<String> {
    let mut dropped = std::collections::BTreeSet::new();
    let Some(sets) = sets.as_object_mut() else {
        return Vec::new();
    };
    for list in sets.values_mut() {
        let Some(names) = list.as_array_mut() else {
            continue;
        };
        names.retain(|name| {
            let known = serde_json::from_value::<oci_spec::runtime::Capability>(name.clone())
                .is_ok()
                || !name.is_string();
            if !known {
                dropped.insert(name.as_str().unwrap_or_default().to_string());
            }
            known
        });
    }
    dropped.into_iter().collect()
}

/// The warning runc prints for the same case, in its words.
pub fn warn_unknown_capabilities(names: &[String]) {
    crate::log::warn(format!(
        "ignoring unknown or unavailable capabilities: [{}]",
        names.join(" ")
    ));
}

/// Parses JSON into `T`; an error comes with the JSON path where it happened.
///
/// The plain parse runs first and the path-tracking one only to explain a failure: tracking
/// instantiates every deserializer a second time (~380 KiB of text), and every create ran that
/// copy as well as the plain one, which the state file and the init's config use anyway.
pub fn parse_json_tracked<T: serde::de::DeserializeOwned>(
    text: &[u8],
) -> std::result::Result<T, (String, String)> {
    if let Ok(v) = serde_json::from_slice(text) {
        return Ok(v);
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => Err((e.path().to_string(), e.into_inner().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_error_names_json_path() {
        let err = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":"x","gid":0}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("process.user.uid: "), "{err}");
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(parse_config(b"{not json").is_err());
    }

    #[test]
    fn unknown_capabilities_are_dropped_and_known_ones_kept() {
        let spec = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_KILL","CAP_NOPE"],"effective":["CAP_NOPE"]}}}"#,
        )
        .unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        let bounding: Vec<String> = caps
            .bounding()
            .iter()
            .flatten()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(bounding, ["KILL"]);
        assert!(caps.effective().as_ref().unwrap().is_empty());
    }

    #[test]
    fn a_capability_that_is_not_a_string_is_still_a_type_error() {
        let err = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_NOPE", 7]}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("process.capabilities.bounding"), "{err}");
    }

    #[test]
    fn dropped_names_are_sorted_once_each() {
        let mut sets = serde_json::json!({"bounding": ["CAP_Z", "CAP_KILL", "CAP_A"],
                                          "permitted": ["CAP_Z"]});
        assert_eq!(drop_unknown_capabilities(&mut sets), ["CAP_A", "CAP_Z"]);
        assert_eq!(sets["bounding"], serde_json::json!(["CAP_KILL"]));
    }
}
