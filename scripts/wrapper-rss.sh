#!/usr/bin/env bash
# The restic-rest-server wrapper's own resident memory while rest-server
# runs, for the static x86_64 release build: once without mounting, and (as
# root, with mkfs.ext4) with an ext4 image on a loop device mounted by UUID,
# which also runs the prober. Prints VmRSS, RssAnon and RssFile in KiB.
#
# With the native rest-server (the same executable) the shared pages are split
# between the two processes, and Pss must stay under 1 MiB too.
#
# RssFile is the executable's own pages, clean and shared with the page cache
# (and with the native rest-server, which is the same file). The kernel maps
# the cached pages around every page a process touches, 64 KiB at a time, so
# the code the wrapper runs is packed together by hot-text.ld; when that
# linker script goes stale, VmRSS grows here first. Checks, each under 1 MiB:
# VmRSS of the wrapper in both builds (with and without the native
# rest-server), and Pss with the native rest-server as its child. Exits 1
# otherwise.
#
#   scripts/wrapper-rss.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/x86_64-unknown-linux-musl/release/krazybox}")
[[ -x $bin ]] || { echo "$bin is missing: run scripts/build.sh x86_64-unknown-linux-musl" >&2; exit 1; }
# shellcheck source=scripts/lib/scratch.sh
source scripts/lib/scratch.sh
# rest-server's stand-in: idles until the wrapper forwards SIGTERM.
printf '#!/bin/sh\nexec sleep 60\n' >"$tmp/rest-server"
chmod +x "$tmp/rest-server"

# measure LABEL [VAR=VALUE...]: start the wrapper, read its VmRSS once
# rest-server runs, stop it with SIGTERM.
measure() {
  local label=$1; shift
  if [[ $label == native* ]]; then
    env -i PATH=/usr/bin:/bin "$tmp/restic-rest-server" "${REST_SERVER_ARGS[@]}" 2>"$tmp/log" &
  else
    env -i PATH=/usr/bin:/bin REST_SERVER="$tmp/rest-server" "$@" "$tmp/restic-rest-server" --path "$tmp/mnt/restic" 2>"$tmp/log" &
  fi
  local pid=$! child= i
  for i in $(seq 100); do
    child=$(cat /proc/$pid/task/$pid/children 2>/dev/null || true)
    [[ -n $child ]] && break
    sleep 0.05
  done
  [[ -n $child ]] || { echo "$label: rest-server never started: $(cat "$tmp/log")" >&2; exit 1; }
  # Past the wrapper's first look at the disk (once a second): its steady state.
  sleep 1.3
  local rss anon file pss
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status)
  anon=$(awk '/^RssAnon:/ {print $2}' /proc/$pid/status)
  file=$(awk '/^RssFile:/ {print $2}' /proc/$pid/status)
  pss=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)
  printf '%-44s VmRSS %5s KiB  RssAnon %4s KiB  RssFile %5s KiB  Pss %5s KiB\n' \
    "$label ($variant):" "$rss" "$anon" "$file" "$pss"
  kill -TERM $pid
  wait $pid || { echo "$label: wrapper exited $?: $(cat "$tmp/log")" >&2; exit 1; }
  if [[ $label == native* ]]; then
    ((pss < 1024)) || { echo "$label: Pss ${pss} KiB is not under 1 MiB" >&2; exit 1; }
  else
    ((rss < 1024)) || { echo "$label ($variant): VmRSS ${rss} KiB is not under 1 MiB" >&2; exit 1; }
  fi
}

if [[ $(id -u) == 0 ]] && command -v mkfs.ext4 >/dev/null; then
  truncate -s 32M "$tmp/disk.img"
  mkfs.ext4 -q -F "$tmp/disk.img"
  loop=$(losetup -f --show "$tmp/disk.img")
  uuid=$(blkid -p -o value -s UUID "$loop")
fi

# The same build without the native rest-server (and its HTTP/TLS code).
small_features=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; f=json.load(sys.stdin)["packages"][0]["features"]; print(",".join(sorted(k for k in f if k not in ("default","rest-server"))))')
CARGO_TARGET_DIR=target/size-no-rest-server cargo build --quiet --release --locked \
  --target x86_64-unknown-linux-musl --no-default-features --features "$small_features"
small=$(realpath target/size-no-rest-server/x86_64-unknown-linux-musl/release/krazybox)

# The appliance's one-binary shape: the native rest-server is the same file,
# so the executable's pages are shared and Pss splits them between the two.
variant=complete
ln -sf "$bin" "$tmp/restic-rest-server"
mkdir -p "$tmp/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REST_SERVER_ARGS=(--path "$tmp/data" --listen "127.0.0.1:$port" --no-auth)
measure "native rest-server, no mount"

for variant in complete without-rest-server; do
  exe=$bin
  [[ $variant == without-rest-server ]] && exe=$small
  ln -sf "$exe" "$tmp/restic-rest-server"
  measure "without mounting"
  if [[ -n $loop ]]; then
    measure "ext4 by UUID" MNT_SOURCE="UUID=$uuid" MNT_TARGET="$tmp/mnt"
    grep -q "unmounted $tmp/mnt" "$tmp/log" || { echo "not unmounted: $(cat "$tmp/log")" >&2; exit 1; }
  fi
done
