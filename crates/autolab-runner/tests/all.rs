//! autolab-runner's integration tests, one binary (see STYLE.md): the cluster runners against
//! the real one-node SLURM of scripts/cluster-up.sh (and its sshd) and the fake LSF in
//! tests/fake-lsf.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
