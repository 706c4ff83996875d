#!/usr/bin/env bash
# Upload throughput of the native rest-server with 1, 4 and 8 parallel clients
# posting 8 MiB blobs with correct names (fresh repository per run, --no-auth),
# its CPU time per GiB and peak RSS, next to this machine's own limits measured
# in the same run: SHA-256 speed on one core (openssl speed) and sequential
# write speed with fsync on the disk that holds the data (dd conv=fsync).
# Goals: throughput >= 80% of the lower limit; peak RSS <= 12 MiB with 8 clients.
#
#   scripts/bench-rest-server.sh [UPLOADS_PER_RUN] [DATA_DIR]
#
# KRAZYBOX=path runs that binary instead of a fresh static build (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=${1:-64}
base=${2:-target/bench-rest-server}
command -v openssl >/dev/null || { echo "openssl is needed: apt-get install openssl" >&2; exit 1; }
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
rm -rf "$base" && mkdir -p "$base/data"
trap 'kill "$server" 2>/dev/null; rm -rf "$base"' EXIT

"$kb" rest-server --path "$base/data" --listen 127.0.0.1:0 --no-auth 2>"$base/server.log" &
server=$!
for _ in $(seq 100); do grep -qE '[Ss]tart(ing)? server on' "$base/server.log" && break; sleep 0.05; done
addr=$(grep -oE '[Ss]tart(ing)? server on [0-9.:]*' "$base/server.log" | head -1 | awk '{print $4}')

python3 - "$addr" "$server" "$uploads" "$base" <<'PY'
import hashlib, http.client, os, re, subprocess, sys, threading, time

addr, pid, uploads, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
host, port = addr.rsplit(":", 1)
SIZE = 8 << 20
MB = 1e6

def proc_status(key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # MiB
def cpu_seconds():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def sha_limit():
    out = subprocess.run(["openssl", "speed", "-bytes", str(SIZE), "-seconds", "2", "sha256"],
                         capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("sha256")][-1]
    return float(line.split()[-1].rstrip("k")) * 1000 / MB

def disk_limit():
    path = os.path.join(base, "dd.bin")
    t = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=8M", "count=64", "conv=fsync"],
                   check=True, capture_output=True)
    dt = time.perf_counter() - t
    os.remove(path)
    return 64 * SIZE / dt / MB

def request(conn, method, path, body=None):
    conn.request(method, path, body=body)
    r = conn.getresponse()
    r.read()
    return r.status

filler = os.urandom(SIZE - 16)
def blob(run, i):
    return filler + run.to_bytes(8, "big") + i.to_bytes(8, "big")

def run(clients, run_no):
    repo = f"/run{run_no}/"
    c = http.client.HTTPConnection(host, int(port))
    assert request(c, "POST", repo + "?create=true") == 200
    names = [hashlib.sha256(blob(run_no, i)).hexdigest() for i in range(uploads)]
    errors = []
    def worker(k):
        conn = http.client.HTTPConnection(host, int(port))
        for i in range(k, uploads, clients):
            st = request(conn, "POST", f"{repo}data/{names[i]}", blob(run_no, i))
            if st != 200:
                errors.append(st)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    dt, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    assert not errors, errors
    total = uploads * SIZE
    return total / dt / MB, cpu / (total / (1 << 30))

idle = proc_status("VmRSS")
sha, disk = sha_limit(), disk_limit()
limit = min(sha, disk)
print(f"machine: sha256 {sha:.0f} MB/s (one core), sequential write + fsync {disk:.0f} MB/s; lower limit {limit:.0f} MB/s")
def reset_peak():
    # Writing 5 to clear_refs resets VmHWM (Linux 4.0+): a peak per run.
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
print(f"{'clients':>7} {'MB/s':>8} {'of limit':>9} {'CPU s/GiB':>10} {'peak RSS MiB':>13}")
for n, clients in enumerate((1, 4, 8)):
    reset_peak()
    mbps, cpu = run(clients, n)
    print(f"{clients:>7} {mbps:8.0f} {mbps / limit:9.2f} {cpu:10.2f} {proc_status('VmHWM'):13.1f}")
peak = proc_status("VmHWM")
print(f"RSS: {idle:.1f} MiB idle, {peak:.1f} MiB peak with 8 clients (goal < 12 MiB)")
PY
