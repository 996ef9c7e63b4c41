//! `verify --format json`: a dist's check as a stable document (docs/plan.md).

use serde::Serialize;

use super::dist::DistCheck;
use crate::farm::VersionFloor;

/// Changes when the document's shape does.
pub const VERIFY_JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonCheck<'a> {
    version: u32,
    dist: &'a str,
    passed: bool,
    layout: &'a str,
    files: usize,
    symlinks: usize,
    binaries: usize,
    needs_checked: usize,
    /// Objects shipped as they are (the record says what they lack).
    as_is: usize,
    glibc_floor: JsonFloor,
    problems: Vec<JsonProblem>,
    /// `/etc/ld.so.cache` could not be read; the needs were resolved without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    ld_cache_error: Option<String>,
}

#[derive(Serialize)]
struct JsonFloor {
    glibc: Option<JsonVersion>,
    glibcxx: Option<JsonVersion>,
    cxxabi: Option<JsonVersion>,
}

#[derive(Serialize)]
struct JsonVersion {
    /// As written (`GLIBC_2.28`).
    name: String,
    /// The number (`2.28`).
    version: String,
    /// The first object, in path order, that needs it.
    needed_by: String,
}

#[derive(Serialize)]
struct JsonProblem {
    code: &'static str,
    severity: &'static str,
    message: String,
    help: String,
}

fn version(v: &Option<VersionFloor>) -> Option<JsonVersion> {
    v.as_ref().map(|v| JsonVersion {
        name: v.name.clone(),
        version: v
            .version
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("."),
        needed_by: v.needed_by.display().to_string(),
    })
}

/// The check as stable JSON; no timings, so the same dist gives the same bytes.
pub fn json(check: &DistCheck) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    let mut text = serde_json::to_string_pretty(&json_value(check)).unwrap_or_default();
    text.push('\n');
    text
}

/// [`json`] as a value, to be embedded (`apply --format json`'s `verified`).
pub fn json_value(check: &DistCheck) -> serde_json::Value {
    let doc = JsonCheck {
        version: VERIFY_JSON_VERSION,
        dist: &check.name,
        passed: check.passed(),
        layout: &check.record.layout,
        files: check.files,
        symlinks: check.links,
        binaries: check.binaries,
        needs_checked: check.resolutions,
        as_is: check.record.as_is.len(),
        glibc_floor: JsonFloor {
            glibc: version(&check.floor.glibc),
            glibcxx: version(&check.floor.glibcxx),
            cxxabi: version(&check.floor.cxxabi),
        },
        problems: check
            .problems
            .iter()
            .map(|p| JsonProblem {
                code: p.code(),
                severity: p.severity_name(),
                message: p.message(),
                help: p.help(),
            })
            .collect(),
        ld_cache_error: check.cache_error.as_ref().map(ToString::to_string),
    };
    serde_json::to_value(&doc).unwrap_or_default()
}
