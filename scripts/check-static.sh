#!/usr/bin/env bash
# Builds the static aarch64 and x86_64 binaries and checks that they run:
# the aarch64 one under qemu-aarch64-static, through a link named after an
# applet, with an htpasswd record that the x86_64 build then verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t bins < <(scripts/build.sh aarch64-unknown-linux-musl x86_64-unknown-linux-musl)
arm=${bins[0]} x86=${bins[1]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for b in "$arm" "$x86"; do
  file -b "$b" | grep -q 'statically linked\|static-pie linked' || { echo "not static: $b: $(file -b "$b")"; exit 1; }
done
qemu=$(command -v qemu-aarch64-static) || { echo "qemu-aarch64-static is needed: apt-get install qemu-user-static"; exit 1; }

list=$("$qemu" "$arm" --list)
grep -qx htpasswd <<<"$list" || { echo "aarch64 --list lacks htpasswd: $list"; exit 1; }
ln -s "$(realpath "$arm")" "$tmp/htpasswd"
"$qemu" "$tmp/htpasswd" -nbB -C 6 pi 'raspberry pie' | head -n 1 >"$tmp/users"
grep -q '^pi:\$2y\$06\$' "$tmp/users" || { echo "unexpected record: $(cat "$tmp/users")"; exit 1; }
"$x86" htpasswd -vb "$tmp/users" pi 'raspberry pie'
if "$x86" htpasswd -vb "$tmp/users" pi 'raspberry pi' 2>/dev/null; then
  echo "a wrong password verified"; exit 1
fi
echo "static builds ok: $(stat -c %s "$arm") bytes aarch64, $(stat -c %s "$x86") bytes x86_64"
