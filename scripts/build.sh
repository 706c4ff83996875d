#!/usr/bin/env bash
# Static release builds of krazybox for the Raspberry Pi (aarch64) and amd64.
#
#   scripts/build.sh [--features LIST] [TARGET...]
#
# TARGET defaults to aarch64-unknown-linux-musl and x86_64-unknown-linux-musl.
# --features builds only those applets (comma-separated; no default features).
# Binaries land in target/TARGET/release/krazybox; rust-lld (shipped with the
# toolchain, see .cargo/config.toml) links them. The rest-server feature's TLS
# (ring) compiles some C: gcc, and gcc-aarch64-linux-gnu for the Pi.
set -euo pipefail
cd "$(dirname "$0")/.."

features=()
targets=()
while (($#)); do
  case $1 in
    --features) features=(--no-default-features --features "$2"); shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(aarch64-unknown-linux-musl x86_64-unknown-linux-musl)
. scripts/lib/toolchain.sh
check_static_toolchain "${targets[@]}" || exit 1

for t in "${targets[@]}"; do
  if ! cargo build --quiet --release --locked --target "$t" "${features[@]}"; then
    echo "scripts/build.sh: the release build for $t failed (cargo's error is above)" >&2
    exit 1
  fi
  [[ -s target/$t/release/krazybox ]] || { echo "scripts/build.sh: cargo left no target/$t/release/krazybox" >&2; exit 1; }
  echo "target/$t/release/krazybox"
done
