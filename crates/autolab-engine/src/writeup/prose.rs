//! What the LLM's section text may contain: fences, headings and document commands are
//! stripped; commands that read or write files, or place floats (the ledger's job), are
//! refused; citation keys must be ones the paper's bibliography has.

/// Commands the LLM may not write: file access, TeX internals, and floats (figures and
/// tables come from the ledger).
const REFUSED: [&str; 17] = [
    "\\input",
    "\\include",
    "\\write",
    "\\immediate",
    "\\openin",
    "\\openout",
    "\\read",
    "\\catcode",
    "\\usepackage",
    "\\documentclass",
    "\\includegraphics",
    "\\begin{figure",
    "\\begin{table",
    "\\begin{tabular",
    "\\special",
    "\\directlua",
    "\\pdfobj",
];

/// The section's text without code fences and document-level commands.
pub fn clean(reply: &str) -> String {
    let mut text = reply.trim();
    if let Some(rest) = text.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        text = rest.rsplit_once("```").map_or(rest, |(body, _)| body);
    }
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            ![
                "\\section",
                "\\begin{abstract}",
                "\\end{abstract}",
                "\\begin{document}",
                "\\end{document}",
                "\\title{",
                "\\maketitle",
            ]
            .iter()
            .any(|p| t.starts_with(p))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The refused commands `text` contains.
pub fn refused(text: &str) -> Vec<&'static str> {
    REFUSED
        .iter()
        .filter(|c| {
            text.match_indices(**c).any(|(i, m)| {
                // `\input` must not match `\inputenc`; `\read` not `\readme`.
                let next = text[i + m.len()..].chars().next();
                c.ends_with('{') || !next.is_some_and(|n| n.is_ascii_alphabetic())
            })
        })
        .copied()
        .collect()
}

/// The lines of `text` without the refused commands.
pub fn without_refused(text: &str) -> String {
    text.lines()
        .filter(|l| refused(l).is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every key cited in `text` (`\cite{a,b}`, `\citep[p.~2]{c}`, `\citet*{d}`).
pub fn cited(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\cite") {
        let after = &rest[i + 5..];
        let Some(open) = after.find('{') else { break };
        // Only letters, `*` and optional arguments may stand between \cite… and `{`.
        let between = &after[..open];
        let plain = between
            .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '*')
            .chars()
            .all(|c| c != '{' && c != '\\');
        let Some(close) = after[open..].find('}') else {
            break;
        };
        if plain {
            keys.extend(
                after[open + 1..open + close]
                    .split(',')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty()),
            );
        }
        rest = &after[open + close..];
    }
    keys
}

/// `text` with unknown keys dropped from its citations (a citation left empty goes away).
pub fn drop_unknown_citations(text: &str, known: &[String]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\cite") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let (Some(open), Some(close)) = (after.find('{'), after.find('}')) else {
            out.push_str(after);
            return out;
        };
        if close < open {
            out.push_str(&after[..=close]);
            rest = &after[close + 1..];
            continue;
        }
        let keep: Vec<&str> = after[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|k| known.iter().any(|x| x == k))
            .collect();
        if !keep.is_empty() {
            out.push_str(&after[..=open]);
            out.push_str(&keep.join(","));
            out.push('}');
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The keys of a BibTeX text's entries.
pub fn bib_keys(bib: &str) -> Vec<String> {
    bib.match_indices('@')
        .filter_map(|(i, _)| {
            let rest = &bib[i + 1..];
            let open = rest.find('{')?;
            let comma = rest[open..].find(',')?;
            let kind = &rest[..open];
            (kind.chars().all(|c| c.is_ascii_alphabetic()) && !kind.is_empty())
                .then(|| rest[open + 1..open + comma].trim().to_string())
        })
        .filter(|k| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_document_commands_are_stripped() {
        let r = "```latex\n\\section{Results}\nWe did it.\n\\end{document}\n```";
        assert_eq!(clean(r), "We did it.");
        assert_eq!(clean("Plain text."), "Plain text.");
    }

    #[test]
    fn file_access_and_floats_are_refused_but_lookalikes_are_not() {
        assert_eq!(refused("\\input{/etc/passwd}"), ["\\input"]);
        assert_eq!(refused("see \\includegraphics{x}"), ["\\includegraphics"]);
        assert!(refused("\\begin{table}[h]").contains(&"\\begin{table"));
        assert!(refused("\\immediate\\write18{rm -rf /}").len() >= 2);
        assert!(refused("\\inputenc and \\readme and \\textbf{x}").is_empty());
        assert_eq!(without_refused("a\n\\input{x}\nb"), "a\nb");
    }

    #[test]
    fn citations_are_read_and_unknown_keys_dropped() {
        let t = "As in \\citep{a, zz} and \\citet[p.~2]{b}, also \\cite{zz}.";
        assert_eq!(cited(t), ["a", "zz", "b", "zz"]);
        let known = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            drop_unknown_citations(t, &known),
            "As in \\citep{a} and \\citet[p.~2]{b}, also ."
        );
    }

    #[test]
    fn bib_keys_are_read() {
        assert_eq!(
            bib_keys("@article{lu2024,\n title={x}}\n\n@misc{ b2 , title={@y}}"),
            ["lu2024", "b2"]
        );
    }
}
