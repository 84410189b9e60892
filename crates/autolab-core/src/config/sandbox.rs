//! `[sandbox]`: how local runs are contained.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    pub enabled: bool,
    /// `none`: a network namespace with only loopback; `host`: the machine's network.
    pub network_none: bool,
    pub landlock: bool,
    /// Extra writable directories (absolute, or relative to the lab root).
    pub writable: Vec<String>,
    /// Extra directories runs may read but not write (absolute, or relative to the lab root):
    /// data or a virtualenv under /tmp, which runs otherwise do not see.
    pub visible: Vec<String>,
    pub max_procs: u64,
    pub max_file_bytes: u64,
    pub max_disk_bytes: Option<u64>,
    pub max_memory_bytes: Option<u64>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            network_none: true,
            landlock: true,
            writable: Vec::new(),
            visible: Vec::new(),
            max_procs: 512,
            max_file_bytes: 16 << 30,
            max_disk_bytes: None,
            max_memory_bytes: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    landlock: Option<bool>,
    #[serde(default)]
    writable: Vec<String>,
    #[serde(default)]
    visible: Vec<String>,
    #[serde(default)]
    max_procs: Option<i64>,
    #[serde(default)]
    max_file_mb: Option<f64>,
    #[serde(default)]
    max_disk_mb: Option<f64>,
    #[serde(default)]
    max_memory_mb: Option<f64>,
}

type Problem = (String, String, Option<String>);

fn megabytes(key: &str, v: Option<f64>) -> Result<Option<u64>, Problem> {
    match v {
        None => Ok(None),
        Some(mb) if mb.is_finite() && mb > 0.0 => Ok(Some((mb * 1024.0 * 1024.0) as u64)),
        Some(mb) => Err((
            key.into(),
            format!("`{key} = {mb}` must be a positive number of MB"),
            None,
        )),
    }
}

pub(super) fn validate(raw: Option<RawSandbox>) -> Result<SandboxConfig, Problem> {
    let Some(r) = raw else {
        return Ok(SandboxConfig::default());
    };
    let d = SandboxConfig::default();
    let network_none = match r.network.as_deref() {
        None | Some("none") => true,
        Some("host") => false,
        Some(other) => {
            return Err((
                "network".into(),
                format!("unknown network mode `{other}`"),
                Some("use \"none\" (own namespace, loopback only) or \"host\"".into()),
            ));
        }
    };
    let max_procs = r.max_procs.unwrap_or(d.max_procs as i64);
    if !(8..=1_000_000).contains(&max_procs) {
        return Err((
            "max_procs".into(),
            format!("`max_procs = {max_procs}` must be between 8 and 1000000"),
            None,
        ));
    }
    Ok(SandboxConfig {
        enabled: r.enabled.unwrap_or(true),
        network_none,
        landlock: r.landlock.unwrap_or(true),
        writable: r.writable,
        visible: r.visible,
        max_procs: max_procs as u64,
        max_file_bytes: megabytes("max_file_mb", r.max_file_mb)?.unwrap_or(d.max_file_bytes),
        max_disk_bytes: megabytes("max_disk_mb", r.max_disk_mb)?,
        max_memory_bytes: megabytes("max_memory_mb", r.max_memory_mb)?,
    })
}
