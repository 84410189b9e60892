//! The incumbent line: the changes that lead from a campaign's base commit to its incumbent,
//! each an experiment whose parent commit is the one before it.

use autolab_core::experiment::Experiment;

/// One step of the incumbent line: experiment `number` changed `parent` into `commit`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub number: u32,
    pub title: String,
    pub parent: String,
    pub commit: String,
}

/// The changes from `base` to experiment `incumbent`, oldest first. Each step's parent must be
/// the commit of an earlier experiment of the campaign (or `base`).
pub fn incumbent_line(
    experiments: &[Experiment],
    incumbent: u32,
    base: &str,
) -> Result<Vec<Change>, String> {
    let find = |n: u32| experiments.iter().find(|e| e.number == n);
    let mut line = Vec::new();
    let mut current =
        find(incumbent).ok_or_else(|| format!("#{incumbent} is not in the ledger"))?;
    loop {
        let Some(commit) = current.commit.clone() else {
            return Err(format!("#{} has no commit", current.number));
        };
        if current.number == 0 || commit == base {
            break;
        }
        line.push(Change {
            number: current.number,
            title: current.title.clone(),
            parent: current.parent.clone(),
            commit,
        });
        if current.parent == base {
            break;
        }
        // The newest earlier experiment that holds the parent commit and moved the line.
        current = experiments
            .iter()
            .filter(|e| e.number < current.number && e.commit.as_deref() == Some(&current.parent))
            .max_by_key(|e| (e.state.keeps(), e.number))
            .ok_or_else(|| {
                format!(
                    "#{}'s parent {} is no earlier experiment of the campaign",
                    current.number,
                    &current.parent[..current.parent.len().min(12)]
                )
            })?;
    }
    line.reverse();
    Ok(line)
}
