//! Experts: the personas the strategist asks for ideas. The defaults are in `experts.md`
//! beside this file; a lab may bring its own file in the same format.

/// One persona: a name (`hyperparameters`) and the text that tells the model how to think.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expert {
    pub name: String,
    pub persona: String,
}

/// The built-in experts' file.
pub const DEFAULT_EXPERTS_MD: &str = include_str!("experts.md");

/// The ten built-in experts: hyperparameters, architecture, loss, data, compute-efficiency,
/// optimizer, high-risk, literature, bug-hunting and ablation.
pub fn default_experts() -> Vec<Expert> {
    // The built-in file is checked by the tests, so it always parses.
    parse_experts(DEFAULT_EXPERTS_MD).unwrap_or_default()
}

/// Experts from a markdown file: each `## <name>` heading starts an expert, and the text up
/// to the next `## ` heading (trimmed) is its persona. Text before the first such heading (a
/// `# title`, an introduction) is ignored, as are `##` lines inside ``` fences; `###` and
/// deeper headings belong to the persona. Errors name the line: no experts at all, an empty
/// name, an empty persona, or a name used twice (ignoring case).
pub fn parse_experts(markdown: &str) -> Result<Vec<Expert>, String> {
    // (heading line, name, persona lines)
    let mut found: Vec<(usize, String, Vec<&str>)> = Vec::new();
    let mut in_fence = false;
    for (i, raw) in markdown.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let heading = (!in_fence)
            .then(|| line.strip_prefix("##"))
            .flatten()
            .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        match heading {
            Some(rest) => {
                let name = rest.trim().trim_end_matches('#').trim().to_string();
                if name.is_empty() {
                    return Err(format!(
                        "experts file line {}: expected an expert's name after `## `",
                        i + 1
                    ));
                }
                if let Some((first, _, _)) =
                    found.iter().find(|(_, n, _)| n.eq_ignore_ascii_case(&name))
                {
                    return Err(format!(
                        "experts file line {}: expert `{name}` is already defined at line {first}; \
                         give each expert a different name",
                        i + 1
                    ));
                }
                found.push((i + 1, name, Vec::new()));
            }
            None => {
                if let Some((_, _, body)) = found.last_mut() {
                    body.push(line);
                }
            }
        }
    }
    if found.is_empty() {
        return Err(
            "experts file: expected `## <name>` headings, each followed by that expert's \
             persona; found none"
                .into(),
        );
    }
    found
        .into_iter()
        .map(|(line, name, body)| {
            let persona = body.join("\n").trim().to_string();
            if persona.is_empty() {
                Err(format!(
                    "experts file line {line}: expert `{name}` has no persona text under its \
                     heading"
                ))
            } else {
                Ok(Expert { name, persona })
            }
        })
        .collect()
}
