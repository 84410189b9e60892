#!/usr/bin/env bash
# Runs all of autolab's tests. Installs what they need first (as root, via apt-get; as
# another user it says what is missing): git and python3 for the labs, cargo-nextest as runner.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v python3 >/dev/null || need_apt+=(python3)
command -v cc >/dev/null || need_apt+=(gcc libc6-dev)
command -v find >/dev/null || need_apt+=(findutils)
command -v pgrep >/dev/null || need_apt+=(procps)
command -v setsid >/dev/null || need_apt+=(util-linux)
command -v mount >/dev/null || need_apt+=(mount)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    echo "missing: ${need_apt[*]} (install them, e.g. sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install --locked cargo-nextest
fi

# Git identity is not needed (autolab commits as itself), but tests' own git calls set theirs.
cargo nextest run --workspace --no-fail-fast "$@"
