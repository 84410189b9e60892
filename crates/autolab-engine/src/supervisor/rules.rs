//! The rule-based diagnosis: the error line failed runs share, their exit codes, their
//! timeouts, and advice for the causes that come up most (a missing module or command, memory).

use super::{Diagnosis, Failure};

/// Words that mark a line as the error a run died of.
const ERROR_MARKS: [&str; 15] = [
    "Error",
    "Exception",
    "error:",
    "ERROR",
    "FATAL",
    "fatal:",
    "panicked at",
    "Traceback",
    "Killed",
    "Segmentation fault",
    "command not found",
    ": not found",
    "No such file or directory",
    "Permission denied",
    "Aborted",
];

/// The most of a line a diagnosis quotes.
const LINE_CAP: usize = 300;

/// The line of a log tail that says what the run died of: the last line that looks like an
/// error (a traceback's header is skipped for the exception under it), else the last line.
pub fn error_line(tail: &str) -> Option<String> {
    let lines: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| {
            !l.starts_with("Traceback (most recent call last)")
                && ERROR_MARKS.iter().any(|m| l.contains(m))
        })
        .or(lines.last())?;
    Some(cap(pick))
}

fn cap(line: &str) -> String {
    if line.len() <= LINE_CAP {
        return line.to_string();
    }
    let mut end = LINE_CAP;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// The common cause of `failures` (oldest first) as far as rules can tell.
pub fn rule_diagnosis(trigger: &str, failures: &[Failure]) -> Diagnosis {
    let n = failures.len();
    let experiments: Vec<u32> = failures.iter().map(|f| f.number).collect();
    let mut evidence = Vec::new();
    let timeouts = failures.iter().filter(|f| f.verdict == "timeout").count();
    // The error line most of them share.
    let lines: Vec<Option<String>> = failures.iter().map(|f| error_line(&f.log_tail)).collect();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in lines.iter().flatten() {
        match counts.iter_mut().find(|(s, _)| s == l) {
            Some((_, c)) => *c += 1,
            None => counts.push((l.clone(), 1)),
        }
    }
    // Most shared first; among equals the newest failure's line.
    let shared = counts
        .iter()
        .max_by_key(|(s, c)| (*c, lines.iter().rposition(|l| l.as_deref() == Some(s))))
        .cloned();
    let codes: Vec<i32> = failures.iter().filter_map(|f| f.exit_code).collect();
    let same_code = codes
        .first()
        .filter(|c| codes.len() == n && codes.iter().all(|x| x == *c));
    if let Some(c) = same_code {
        evidence.push(format!("exit code {c} in all {n}"));
    }
    let kind = if timeouts == n {
        "runs timed out"
    } else if timeouts == 0 {
        "runs crashed"
    } else {
        "runs failed"
    };
    if n == 0 {
        return Diagnosis {
            trigger: trigger.into(),
            cause: "no failed run to read".into(),
            advice: None,
            evidence,
            experiments,
            by: "rules".into(),
        };
    }
    let (cause, advice) = match &shared {
        Some((line, count)) if *count >= 2 && timeouts < n => {
            evidence.push(format!("{count} of {n} end with: {line}"));
            let who = if *count == n {
                format!("all {n} {kind}")
            } else {
                format!("{count} of {n} {kind}")
            };
            (format!("{who} with: {line}"), advice_for(line))
        }
        _ if timeouts == n => {
            let reasons: Vec<&str> = failures.iter().map(|f| f.reason.as_str()).collect();
            evidence.extend(reasons.iter().take(3).map(|r| r.to_string()));
            (
                format!("all {n} runs timed out ({})", reasons[0]),
                Some(
                    "a run needs more than `[task] timeout` (or printed nothing for `stall_timeout`): raise it, or shorten the run"
                        .into(),
                ),
            )
        }
        _ => match same_code {
            Some(c) => (
                format!("all {n} {kind} with exit code {c}, each with a different last line"),
                code_advice(*c),
            ),
            None => (
                format!("{n} {kind} in a row with different errors"),
                Some("read their logs: `autolab show N` for each".into()),
            ),
        },
    };
    Diagnosis {
        trigger: trigger.into(),
        cause,
        advice: advice.or_else(|| same_code.and_then(|c| code_advice(*c))),
        evidence,
        experiments,
        by: "rules".into(),
    }
}

/// Advice for an error line autolab recognises.
fn advice_for(line: &str) -> Option<String> {
    if let Some(rest) = line.split("No module named ").nth(1) {
        // `'torch'`, `'torch.nn'`, `'x'; 'x' is not a package`: the name in the first quotes.
        let rest = rest.trim_start_matches(['\'', '"']);
        let name = rest.split(['\'', '"', ';', ' ']).next().unwrap_or(rest);
        let module = name.split('.').next().unwrap_or(name);
        return Some(format!(
            "the environment the runs execute in lacks the Python module `{module}`: install it there (e.g. `pip install {module}` in the lab's venv) or point `[task] command` at the interpreter that has it"
        ));
    }
    let missing_command = line.strip_suffix("command not found").or_else(|| {
        line.strip_suffix("not found")
            .filter(|_| line.starts_with("sh:") || line.starts_with("/bin/sh:"))
    });
    if let Some(before) = missing_command {
        let cmd = before
            .trim_end_matches([':', ' '])
            .rsplit(':')
            .next()
            .unwrap_or("")
            .trim();
        return Some(format!(
            "`{cmd}` is not on the runs' PATH: install it or name it by its full path in `[task] command`"
        ));
    }
    let lower = line.to_lowercase();
    if lower.contains("out of memory") || lower.contains("memoryerror") {
        return Some(
            "the runs run out of memory: make them smaller, or run fewer at once (`parallel`)"
                .into(),
        );
    }
    if lower.contains("no such file or directory") {
        return Some(
            "a file the runs need is missing in their worktree: is it committed, or ignored by git?"
                .into(),
        );
    }
    None
}

fn code_advice(code: i32) -> Option<String> {
    match code {
        137 => {
            Some("exit code 137 is SIGKILL, most often the kernel's out-of-memory killer".into())
        }
        127 => Some("exit code 127: the shell did not find the command".into()),
        126 => Some("exit code 126: the command is not executable".into()),
        _ => None,
    }
}
