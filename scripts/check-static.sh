#!/usr/bin/env bash
# Builds the static aarch64 and x86_64 binaries and checks that they run:
# the aarch64 one under qemu-aarch64-static, through a link named after an
# applet, with an htpasswd record that the x86_64 build then verifies.
set -euo pipefail
cd "$(dirname "$0")/.."
# A failed build stops here with build.sh's one-line reason (process
# substitution would hide its exit status).
built=$(scripts/build.sh aarch64-unknown-linux-musl x86_64-unknown-linux-musl) || exit 1
mapfile -t bins <<<"$built"
((${#bins[@]} == 2)) || { echo "scripts/build.sh named ${#bins[@]} binaries, expected 2: $built" >&2; exit 1; }
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
# The native rest-server of the aarch64 build, over TLS (ring's aarch64 code), under qemu.
if "$qemu" "$arm" --list | grep -qx rest-server; then
  mkdir "$tmp/data"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$qemu" "$arm" rest-server --path "$tmp/data" --listen "127.0.0.1:$port" --no-auth --tls \
    --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" 2>"$tmp/server.log" &
  server=$!
  ok=
  for _ in $(seq 100); do
    if curl -sf --cacert "$tmp/cert.pem" -X POST "https://127.0.0.1:$port/r/?create=true" >/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  id=$(printf 'pi' | sha256sum | cut -c1-64)
  got=$( ( [[ -n $ok ]] && curl -sf --cacert "$tmp/cert.pem" --data-binary pi "https://127.0.0.1:$port/r/keys/$id" &&
    curl -sf --cacert "$tmp/cert.pem" "https://127.0.0.1:$port/r/keys/$id" ) || true)
  kill -TERM "$server"; wait "$server" || { echo "aarch64 rest-server did not exit 0"; cat "$tmp/server.log"; exit 1; }
  [[ $got == pi ]] || { echo "aarch64 rest-server over TLS failed: '$got'"; cat "$tmp/server.log"; exit 1; }
fi
echo "static builds ok: $(stat -c %s "$arm") bytes aarch64, $(stat -c %s "$x86") bytes x86_64"
