#!/usr/bin/env bash
# The restic-rest-server wrapper's own resident memory while rest-server
# runs, for the static x86_64 release build (scripts/build.sh): once without
# mounting, and (as root, with mkfs.ext4) with an ext4 image on a loop device
# mounted by UUID, which also runs the prober. Prints VmRSS in KiB; exits 1
# if either is 1 MiB or more.
#
#   scripts/wrapper-rss.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/x86_64-unknown-linux-musl/release/krazybox}")
[[ -x $bin ]] || { echo "$bin is missing: run scripts/build.sh x86_64-unknown-linux-musl" >&2; exit 1; }
tmp=$(mktemp -d)
loop=
cleanup() {
  mountpoint -q "$tmp/mnt" 2>/dev/null && umount "$tmp/mnt"
  [[ -n $loop ]] && losetup -d "$loop"
  rm -rf "$tmp"
}
trap cleanup EXIT
ln -s "$bin" "$tmp/restic-rest-server"
# rest-server's stand-in: idles until the wrapper forwards SIGTERM.
printf '#!/bin/sh\nexec sleep 60\n' >"$tmp/rest-server"
chmod +x "$tmp/rest-server"

# measure LABEL [VAR=VALUE...]: start the wrapper, read its VmRSS once
# rest-server runs, stop it with SIGTERM.
measure() {
  local label=$1; shift
  env -i REST_SERVER="$tmp/rest-server" "$@" "$tmp/restic-rest-server" --path "$tmp/mnt/restic" 2>"$tmp/log" &
  local pid=$! child= i
  for i in $(seq 100); do
    child=$(cat /proc/$pid/task/$pid/children 2>/dev/null || true)
    [[ -n $child ]] && break
    sleep 0.05
  done
  [[ -n $child ]] || { echo "$label: rest-server never started: $(cat "$tmp/log")" >&2; exit 1; }
  sleep 0.3
  local rss
  rss=$(awk '/^VmRSS:/ {print $2}' /proc/$pid/status)
  echo "$label: wrapper VmRSS ${rss} KiB ($(grep -E '^Rss(Anon|File):' /proc/$pid/status | tr -s '\t ' ' ' | tr '\n' ' '))"
  kill -TERM $pid
  wait $pid || { echo "$label: wrapper exited $?: $(cat "$tmp/log")" >&2; exit 1; }
  ((rss < 1024)) || { echo "$label: ${rss} KiB is not under 1 MiB" >&2; exit 1; }
}

mkdir "$tmp/mnt"
measure "without mounting"
if [[ $(id -u) == 0 ]] && command -v mkfs.ext4 >/dev/null; then
  truncate -s 32M "$tmp/disk.img"
  mkfs.ext4 -q -F "$tmp/disk.img"
  loop=$(losetup -f --show "$tmp/disk.img")
  uuid=$(blkid -p -o value -s UUID "$loop")
  measure "ext4 by UUID" MNT_SOURCE="UUID=$uuid" MNT_TARGET="$tmp/mnt"
  grep -q "unmounted $tmp/mnt" "$tmp/log" || { echo "not unmounted: $(cat "$tmp/log")" >&2; exit 1; }
fi
