#!/usr/bin/env bash
# Upload throughput of the native rest-server with 1, 4 and 8 parallel clients
# posting 8 MiB blobs with correct names (fresh repository per run, --no-auth),
# its CPU time per GiB and peak RSS, next to this machine's own limits measured
# in the same run: SHA-256 speed on one core (openssl speed) and sequential
# write speed with fsync on the disk that holds the data (dd conv=fsync).
# Goals: throughput >= 80% of the lower limit; peak RSS <= 12 MiB with 8 clients.
#
#   scripts/bench-rest-server.sh [--tls] [UPLOADS_PER_RUN] [DATA_DIR]
#
# --tls: the same uploads over plain HTTP and over TLS 1.3 with each cipher, in
# one run: a server that keeps the client's order (AES-256-GCM: Python's client,
# like restic, offers AES-GCM first) and one that prefers ChaCha20-Poly1305 as it
# does on a CPU without AES instructions (KRAZYBOX_TLS_NO_AES=1); plus the
# machine's AES-GCM and ChaCha20-Poly1305 speeds (openssl speed), AES-GCM also
# with the CPU's AES instructions masked, as a Raspberry Pi 4 runs it.
#
# KRAZYBOX=path runs that binary instead of a fresh static build (to compare two builds).
set -euo pipefail
cd "$(dirname "$0")/.."
tls=
[[ ${1:-} == --tls ]] && { tls=1; shift; }
uploads=${1:-64}
base=${2:-target/bench-rest-server}
command -v openssl >/dev/null || { echo "openssl is needed: apt-get install openssl" >&2; exit 1; }
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
rm -rf "$base" && mkdir -p "$base"
servers=()
trap 'kill "${servers[@]}" 2>/dev/null; rm -rf "$base"' EXIT

start() { # NAME [ENV=VALUE...] -- ARGS...: a server on its own folder; prints "NAME PID ADDR"
  local name=$1 log=$base/$1.log; shift
  local env=()
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  env "${env[@]}" "$kb" rest-server --path "$base/$name" --listen 127.0.0.1:0 --no-auth "$@" >/dev/null 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do grep -qE '[Ss]tart(ing)? server on' "$log" && break; sleep 0.05; done
  echo "$name $pid $(grep -oE '[Ss]tart(ing)? server on [0-9.:]*' "$log" | head -1 | awk '{print $4}')"
}
specs=("$(start http --)")
if [[ -n $tls ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$base/key.pem" -out "$base/cert.pem" 2>/dev/null
  t=(--tls --tls-cert "$base/cert.pem" --tls-key "$base/key.pem")
  specs+=("$(start tls-client-order -- "${t[@]}")" "$(start tls-chacha20 KRAZYBOX_TLS_NO_AES=1 -- "${t[@]}")")
fi
for s in "${specs[@]}"; do read -r _ pid _ <<<"$s"; servers+=("$pid"); done

python3 - "$uploads" "$base" "$tls" "${specs[@]}" <<'PY'
import hashlib, http.client, os, re, ssl, subprocess, sys, threading, time

uploads, base, tls = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
specs = [s.split() for s in sys.argv[4:]]
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

def openssl_speed(alg, env=None):
    out = subprocess.run(["openssl", "speed", "-elapsed", "-seconds", "2", "-bytes", "16384", "-evp", alg],
                         capture_output=True, text=True, env=env).stdout
    return float(out.splitlines()[-1].split()[-1].rstrip("k")) * 1000 / MB

def connect():
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=os.path.join(base, "cert.pem"))
        return http.client.HTTPSConnection(host, int(port), context=ctx)
    return http.client.HTTPConnection(host, int(port))

def cipher():
    c = connect()
    c.connect()
    return c.sock.cipher()[0] if scheme == "https" else "-"

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
    c = connect()
    assert request(c, "POST", repo + "?create=true") == 200
    names = [hashlib.sha256(blob(run_no, i)).hexdigest() for i in range(uploads)]
    errors = []
    def worker(k):
        conn = connect()
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

sha, disk = sha_limit(), disk_limit()
limit = min(sha, disk)
print(f"machine: sha256 {sha:.0f} MB/s (one core), sequential write + fsync {disk:.0f} MB/s; lower limit {limit:.0f} MB/s")
if tls:
    # Masking AES-NI and PCLMULQDQ from OpenSSL: AES as a CPU without AES instructions runs it.
    noaes = dict(os.environ, OPENSSL_ia32cap="~0x200000200000000")
    print(f"machine: AES-128-GCM {openssl_speed('aes-128-gcm'):.0f} MB/s, without AES instructions "
          f"{openssl_speed('aes-128-gcm', noaes):.0f} MB/s; ChaCha20-Poly1305 {openssl_speed('chacha20-poly1305'):.0f} MB/s (one core)")
def reset_peak():
    # Writing 5 to clear_refs resets VmHWM (Linux 4.0+): a peak per run.
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
print(f"{'server':<17} {'cipher':<29} {'clients':>7} {'MB/s':>8} {'of limit':>9} {'CPU s/GiB':>10} {'peak RSS MiB':>13}")
for name, pid, addr in specs:
    pid = int(pid)
    host, port = addr.rsplit(":", 1)
    scheme = "https" if name.startswith("tls") else "http"
    idle = proc_status("VmRSS")
    suite = cipher()
    for n, clients in enumerate((1, 4, 8)):
        reset_peak()
        mbps, cpu = run(clients, n)
        print(f"{name:<17} {suite:<29} {clients:>7} {mbps:8.0f} {mbps / limit:9.2f} {cpu:10.2f} {proc_status('VmHWM'):13.1f}", flush=True)
    peak = proc_status("VmHWM")
    print(f"{name}: RSS {idle:.1f} MiB idle, {peak:.1f} MiB peak with 8 clients (goal < 12 MiB)")
PY
