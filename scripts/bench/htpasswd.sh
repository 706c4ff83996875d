#!/usr/bin/env bash
# Whole-process time of `htpasswd -nbB -C N` for krazybox against Apache's
# htpasswd (apache2-utils), measured in the same run with hyperfine, as a ratio
# ours/theirs (goal: at most 1.0). Uses the static x86_64 release build.
#
#   scripts/bench/htpasswd.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-30}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 1; }
command -v htpasswd >/dev/null || { echo "Apache htpasswd is needed: apt-get install apache2-utils" >&2; exit 1; }
kb=$(scripts/build.sh x86_64-unknown-linux-musl)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-6s %14s %14s %8s\n' cost "krazybox ms" "apache ms" ratio
for cost in 10 12; do
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$tmp/$cost.json" \
    "$kb htpasswd -nbB -C $cost bob correct-horse" "htpasswd -nbB -C $cost bob correct-horse" >/dev/null
  python3 - "$tmp/$cost.json" "$cost" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ours, theirs = (x["median"] * 1000 for x in r)
print(f"{sys.argv[2]:<6} {ours:14.1f} {theirs:14.1f} {ours / theirs:8.2f}")
PY
done
