/// Variables an experiment may see from autolab's own environment.
const ALWAYS: [&str; 4] = ["PATH", "HOME", "LANG", "TERM"];

/// The allow-listed part of this process's environment: PATH, HOME, LANG, TERM plus `extra`
/// (exact names, or prefixes ending in `*`). Everything else, API keys included, stays out.
pub fn allowed_env(extra: &[String]) -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| {
            ALWAYS.contains(&k.as_str())
                || extra.iter().any(|pat| match pat.strip_suffix('*') {
                    Some(prefix) => k.starts_with(prefix),
                    None => pat == k,
                })
        })
        .collect()
}
