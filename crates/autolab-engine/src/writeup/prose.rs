//! What the LLM's section text may contain: fences, headings and document commands are
//! stripped; commands that read or write files, or place floats (the ledger's job), are
//! refused; citation keys must be ones the paper's bibliography has.

/// The commands the LLM may write: text styling, lists, citations and references, and math.
/// Anything else (file access, macro definitions, counters, TeX primitives, floats — figures
/// and tables come from the ledger) is refused: an allowlist, so no trick is left unnamed.
const ALLOWED: &[&str] = &[
    "fact",
    "cite",
    "citet",
    "citep",
    "citealp",
    "citealt",
    "citeauthor",
    "citeyear",
    "ref",
    "cref",
    "Cref",
    "eqref",
    "autoref",
    "label",
    "emph",
    "textbf",
    "textit",
    "texttt",
    "textsc",
    "textrm",
    "textsf",
    "underline",
    "item",
    "begin",
    "end",
    "subsection",
    "subsubsection",
    "paragraph",
    "footnote",
    "ldots",
    "dots",
    "cdots",
    "cdot",
    "times",
    "le",
    "leq",
    "ge",
    "geq",
    "ll",
    "gg",
    "approx",
    "sim",
    "simeq",
    "pm",
    "mp",
    "in",
    "notin",
    "subset",
    "subseteq",
    "cup",
    "cap",
    "to",
    "rightarrow",
    "leftarrow",
    "Rightarrow",
    "Leftarrow",
    "leftrightarrow",
    "mapsto",
    "infty",
    "partial",
    "nabla",
    "sum",
    "prod",
    "int",
    "frac",
    "tfrac",
    "dfrac",
    "sqrt",
    "log",
    "ln",
    "exp",
    "min",
    "max",
    "arg",
    "argmin",
    "argmax",
    "sup",
    "inf",
    "lim",
    "det",
    "mathbf",
    "mathcal",
    "mathbb",
    "mathrm",
    "mathit",
    "mathsf",
    "boldsymbol",
    "operatorname",
    "text",
    "textnormal",
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "quad",
    "qquad",
    "hat",
    "bar",
    "tilde",
    "vec",
    "dot",
    "ddot",
    "widehat",
    "overline",
    "neq",
    "ne",
    "equiv",
    "propto",
    "forall",
    "exists",
    "mid",
    "lVert",
    "rVert",
    "lvert",
    "rvert",
    "langle",
    "rangle",
    "lfloor",
    "rfloor",
    "lceil",
    "rceil",
    "ell",
    "top",
    "prime",
    "circ",
    "star",
    "ast",
    "odot",
    "otimes",
    "oplus",
    "cdotp",
    "colon",
    "not",
    "setminus",
    "emptyset",
    "mathbb",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
    "textasciitilde",
    "textbackslash",
    "textasciicircum",
    "ie",
    "eg",
    "etal",
    "noindent",
    "par",
    "newline",
];

/// Environments the LLM may open.
const ENVIRONMENTS: &[&str] = &[
    "itemize",
    "enumerate",
    "description",
    "equation",
    "equation*",
    "align",
    "align*",
    "quote",
    "quotation",
];

/// Escapes (`\` followed by a non-letter) that only print a character or a space.
const ESCAPES: &str = "%&_#${}\\,;:! -/'`\"^~.=|";

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

/// The refused commands `text` contains, as written (`\\input`, `\\begin{figure}`, `^^`).
pub fn refused(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |c: String| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    if text.contains("^^") {
        add("^^".into());
    }
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        if j == start {
            // An escape: `\%`, `\\`, `\,` … or something else (`\@`, a non-ASCII char).
            match text[start..].chars().next() {
                Some(c) if ESCAPES.contains(c) => {}
                Some(c) => add(format!("\\{c}")),
                None => add("\\".into()),
            }
            i = start + text[start..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let name = &text[start..j];
        if !ALLOWED.contains(&name) {
            add(format!("\\{name}"));
        } else if name == "begin" || name == "end" {
            let env = text[j..]
                .strip_prefix('{')
                .and_then(|r| r.split_once('}'))
                .map(|(e, _)| e.trim());
            match env {
                Some(e) if ENVIRONMENTS.contains(&e) => {}
                Some(e) => add(format!("\\{name}{{{e}}}")),
                None => add(format!("\\{name}")),
            }
        }
        i = j;
    }
    out
}

/// The lines of `text` without the refused commands.
pub fn without_refused(text: &str) -> String {
    text.lines()
        .filter(|l| refused(l).is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `text`'s braces balance (escaped ones aside), so it cannot close the template's.
pub fn braces_balance(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
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
    fn only_text_math_and_citation_commands_pass() {
        assert_eq!(refused("\\input{/etc/passwd}"), ["\\input"]);
        assert_eq!(refused("see \\includegraphics{x}"), ["\\includegraphics"]);
        assert_eq!(refused("\\begin{table}[h]"), ["\\begin{table}"]);
        assert_eq!(
            refused("\\immediate\\write18{rm -rf /}"),
            ["\\immediate", "\\write"]
        );
        for trick in [
            "\\def\\x{1}",
            "\\newcommand{\\x}{1}",
            "\\the\\catcode",
            "\\number\\x",
            "\\romannumeral",
            "\\char",
            "\\csname x\\endcsname",
            "\\makeatletter",
            "\\@input",
            "^^r",
            "\\setcounter",
            "\\InputIfFileExists",
            "\\lstinputlisting",
            "\\begin{verbatim}",
            "\\end{document}",
            "\\loop",
            "\\directlua",
            "\\readline",
            "\\inputenc",
        ] {
            assert!(!refused(trick).is_empty(), "{trick} passed");
        }
        assert!(refused("\\textbf{x} and $\\alpha \\le \\frac{a}{b}$, \\citep{k}, 5\\%, a\\_b, \\theta \\begin{itemize}\\item x\\end{itemize}").is_empty());
        assert_eq!(without_refused("a\n\\input{x}\nb"), "a\nb");
    }

    #[test]
    fn braces_balance_aside_from_escaped_ones() {
        assert!(braces_balance("\\textbf{a} \\{ b"));
        assert!(!braces_balance("a} \\input{x"));
        assert!(!braces_balance("\\textbf{a"));
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
