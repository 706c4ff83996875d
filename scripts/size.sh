#!/usr/bin/env bash
# Prints the stripped size of each static build and checks the budgets:
# the aarch64 binary with every applet but the native rest-server under 1 MiB
# (the static util-linux blkid it replaces is 2.4 MB alone), and the complete
# aarch64 binary under 4 MiB. Exits 1 when a budget is exceeded.
set -euo pipefail
cd "$(dirname "$0")/.."

size() { stat -c %s "$1"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.0f KiB", b / 1024 }'; }
fail=0

all_but_server=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; f=json.load(sys.stdin)["packages"][0]["features"]; print(",".join(sorted(k for k in f if k not in ("default","rest-server"))))')

# Each feature set gets its own target dir so the builds do not overwrite each other.
build() { # TARGET FEATURES-or-empty DIR
  local args=(--quiet --release --locked --target "$1")
  [[ -n $2 ]] && args+=(--no-default-features --features "$2")
  if ! CARGO_TARGET_DIR=$3 cargo build "${args[@]}"; then
    echo "scripts/size.sh: the release build for $1 failed (cargo's error is above)" >&2
    return 1
  fi
  echo "$3/$1/release/krazybox"
}
. scripts/lib/toolchain.sh
check_static_toolchain aarch64-unknown-linux-musl x86_64-unknown-linux-musl || exit 1

printf '%-28s %-40s %10s %10s\n' target applets bytes budget
for t in aarch64-unknown-linux-musl x86_64-unknown-linux-musl; do
  full=$(build "$t" "" target) || exit 1
  printf '%-28s %-40s %10s %10s\n' "$t" "all" "$(size "$full")" "$([[ $t == aarch64* ]] && echo 4194304 || echo -)"
  if [[ $t == aarch64* ]] && (($(size "$full") > 4 * 1024 * 1024)); then
    echo "over budget: complete aarch64 binary is $(kib "$(size "$full")")"; fail=1
  fi
done
small=$(build aarch64-unknown-linux-musl "$all_but_server" target/size-no-rest-server) || exit 1
printf '%-28s %-40s %10s %10s\n' aarch64-unknown-linux-musl "$all_but_server" "$(size "$small")" 1048576
if (($(size "$small") > 1024 * 1024)); then
  echo "over budget: aarch64 without rest-server is $(kib "$(size "$small")")"; fail=1
fi
exit $fail
