#!/usr/bin/env bash
# How long a wrong password takes to answer, for each kind of name in one
# user file: bcrypt cost 10, bcrypt cost 13, {SHA}, and a name that does not
# exist; and how long a right one takes. An attacker on the LAN who can tell
# these apart learns which names exist. Each try comes from an address of its
# own (127.0.4.N), so the failed-login limit never answers instead.
#
#   scripts/bench/login-timing.sh [TRIES] [BINARY...]
#
# Each BINARY (a krazybox executable; default: a fresh static build) is
# measured in turn, in the same run: give the previous build and this one to
# compare them.
set -euo pipefail
cd "$(dirname "$0")/../.."
tries=${1:-15}
shift || true
bins=("$@")
((${#bins[@]})) || bins=("$(scripts/build.sh x86_64-unknown-linux-musl)")
base=target/login-timing
rm -rf "$base" && mkdir -p "$base"
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$base"' EXIT

kb=${bins[0]}
{
  "$kb" htpasswd -nbB -C 10 c10 pw | head -1
  "$kb" htpasswd -nbB -C 13 c13 pw | head -1
  "$kb" htpasswd -nbs sha pw | head -1
} >"$base/htpasswd"

for kb in "${bins[@]}"; do
  rm -rf "$base/data" && mkdir -p "$base/data"
  "$kb" rest-server --path "$base/data" --listen 127.0.0.1:0 --htpasswd-file "$base/htpasswd" 2>"$base/log" &
  pid=$!
  for _ in $(seq 200); do grep -q 'Starting server on' "$base/log" 2>/dev/null && break; sleep 0.05; done
  addr=$(grep -oE 'Starting server on [0-9.:]*' "$base/log" | head -1 | awk '{print $4}')
  echo "== $kb (load average $(cut -d' ' -f1 /proc/loadavg))"
  python3 - "$tries" "$addr" "$pid" <<'PY'
import base64, os, signal, socket, statistics, sys, time
tries, addr, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
host, port = addr.rsplit(":", 1)
n = 0
def attempt(user, pw):
    global n
    n += 1
    s = socket.socket()
    s.bind((f"127.0.4.{1 + n % 250}", 0))
    s.connect((host, int(port)))
    auth = base64.b64encode(f"{user}:{pw}".encode()).decode()
    t = time.perf_counter()
    s.sendall(f"GET /keys/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {auth}\r\n\r\n".encode())
    status = s.recv(64).split()[1].decode()
    took = (time.perf_counter() - t) * 1000
    s.close()
    return status, took
kinds = ["c10", "c13", "sha", "unknown"]
times = {k: [] for k in kinds}
for _ in range(tries):
    for k in kinds:
        st, t = attempt(k, "guess")
        assert st == "401", (k, st)
        times[k].append(t)
medians = {}
for k in kinds:
    xs = sorted(times[k])
    medians[k] = statistics.median(xs)
    print(f"  wrong password, {k:<8} median {medians[k]:7.1f} ms  min {xs[0]:7.1f}  max {xs[-1]:7.1f}")
lo, hi = min(medians.values()), max(medians.values())
print(f"  spread of the medians: {hi - lo:.1f} ms (fastest {lo:.1f}, slowest {hi:.1f})")
# Right passwords: SIGHUP empties the cache of remembered logins (and makes the decoy again: wait).
for k in ["c10", "sha"]:
    first, again = [], []
    for _ in range(5):
        os.kill(pid, signal.SIGHUP)
        time.sleep(2)
        a, b = attempt(k, "pw"), attempt(k, "pw")
        assert a[0] == "200" and b[0] == "200"
        first.append(a[1]); again.append(b[1])
    print(f"  right password, {k:<8} median {statistics.median(first):7.1f} ms, then {statistics.median(again):5.1f} ms (remembered)")
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
