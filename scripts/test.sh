#!/usr/bin/env bash
# Everything CI checks, in one command: formatting, lints, builds of feature
# subsets, unit and integration tests (as root: some mount loop devices), the
# static cross builds under qemu, and the size budgets.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# Every applet is a feature: a build with only some of them must work.
features=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(" ".join(k for k in json.load(sys.stdin)["packages"][0]["features"] if k != "default"))')
for f in $features; do
  cargo clippy --locked --quiet --no-default-features --features "$f" -- -D warnings
done
cargo test --locked
scripts/check-static.sh
scripts/check-gokrazy-package.sh
scripts/wrapper-rss.sh
scripts/size.sh
