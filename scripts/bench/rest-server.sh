#!/usr/bin/env bash
# Upload throughput of the native rest-server with 1, 4 and 8 parallel clients
# posting 8 MiB blobs with correct names (fresh repository per run, --no-auth),
# its CPU time per GiB and peak RSS, next to this machine's own limits measured
# in the same run: SHA-256 speed on one core (openssl speed) and sequential
# write speed with fsync on the disk that holds the data (dd conv=fsync).
# Goals: throughput >= 80% of the lower limit; peak RSS <= 12 MiB with 8 clients.
#
#   scripts/bench/rest-server.sh [--tls] [UPLOADS_PER_RUN] [DATA_DIR]
#
# --tls: the same uploads over plain HTTP and over TLS 1.3 with each cipher, in
# one run: a server that keeps the client's order (AES-256-GCM: Python's client,
# like restic, offers AES-GCM first) and one that prefers ChaCha20-Poly1305 as it
# does on a CPU without AES instructions (KRAZYBOX_TLS_NO_AES=1); plus the
# machine's AES-GCM and ChaCha20-Poly1305 speeds (openssl speed), AES-GCM also
# with the CPU's AES instructions masked, as a Raspberry Pi 4 runs it.
#
# KRAZYBOX=path runs that binary instead of a fresh static build (to compare two builds).
#
#   scripts/bench/rest-server.sh --compare NAME=COMMAND [--compare NAME=COMMAND]...
#                                [--rounds N] [--mib N] [--ranges N] [DATA_DIR]
#
# Several servers side by side (--compare comes first): each COMMAND (a command
# line, split at spaces) is started as `COMMAND --path DIR --listen 127.0.0.1:0
# --no-auth` on a fresh folder under DATA_DIR, one server at a time, and must
# print "start server on ADDRESS" (rest-server does). Each round runs every
# server once, the order rotated by one from round to round; each run measures
# uploads of 8 MiB blobs, downloads of whole 8 MiB objects and downloads of
# 4 KiB ranges at random offsets, each with 1, 4 and 8 connections (one client
# process per connection). --mib is the volume of each upload run (default
# 384); a download run reads those objects 4 times over (their CPU time is
# small, and counted in 10 ms ticks); --ranges is the number of 4 KiB range
# requests of each range run (default 16384), --rounds the number of rounds
# (default 3). Printed: the medians over the rounds of MB/s, of the server's
# CPU seconds per GiB moved (user + system, all its threads) and of its peak
# RSS during the run, and each one's ratio to the first server's. This script
# builds nothing in this mode: give it the binaries, e.g.
#   --compare now="target/x86_64-unknown-linux-musl/release/krazybox rest-server"
#   --compare go=/path/to/rest-server
set -euo pipefail
if [[ ${1:-} == --compare ]]; then
  cd "$(dirname "$0")/../.."
  compare=()
  rounds=3
  mib=384
  ranges=16384
  args=()
  while (($#)); do
    case $1 in
      --compare) [[ ${2:-} == ?*=?* ]] || { echo "--compare needs NAME=COMMAND" >&2; exit 2; }
        compare+=("$2"); shift 2 ;;
      --rounds) rounds=$2; shift 2 ;;
      --mib) mib=$2; shift 2 ;;
      --ranges) ranges=$2; shift 2 ;;
      -*) echo "unknown option $1 with --compare" >&2; exit 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  base=${args[0]:-target/bench-rest-server}
  rm -rf "$base" && mkdir -p "$base"
  trap 'rm -rf "$base"' EXIT
  python3 - "$base" "$rounds" "$mib" "$ranges" "${compare[@]}" <<'PY'
import hashlib, multiprocessing as mp, os, random, re, shlex, signal, socket, statistics
import subprocess, sys, time

base, rounds, mib, nranges = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
servers = []
for spec in sys.argv[5:]:
    name, cmd = spec.split("=", 1)
    servers.append((name, shlex.split(cmd)))
SIZE = 8 << 20
RANGE = 4096
CONNS = (1, 4, 8)
TICK = os.sysconf("SC_CLK_TCK")
nobj = max(1, (mib << 20) // SIZE)

# Blobs with correct names: a random filler and 16 bytes that make each one unique.
filler = os.urandom(SIZE - 16)
def tail(phase, i):
    return phase.to_bytes(8, "big") + i.to_bytes(8, "big")
names = {}
for phase in range(len(CONNS)):
    for i in range(nobj):
        h = hashlib.sha256(filler)
        h.update(tail(phase, i))
        names[phase, i] = h.hexdigest()

def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK

def peak_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

def reset_peak(pid):
    # Writing 5 to clear_refs resets VmHWM (Linux 4.0+): a peak per run.
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")

class Conn:
    """One keep-alive HTTP/1.1 connection, kept small so the client costs little."""
    def __init__(self, addr):
        self.s = socket.create_connection(addr)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray(1 << 20)
        self.view = memoryview(self.buf)
        self.extra = b""

    def exchange(self, head, *body):
        self._send(head, body)
        # Headers.
        data = self.extra
        while b"\r\n\r\n" not in data:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        head_end = data.index(b"\r\n\r\n") + 4
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        for l in lines[1:]:
            k, _, v = l.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
            elif k.strip().lower() == "transfer-encoding":
                raise ConnectionError("chunked answers are not supported by this client")
        if length is None:
            raise ConnectionError("an answer without Content-Length")
        got = len(data) - head_end
        if got >= length:
            self.extra = data[head_end + length:]
            return status, length
        self.extra = b""
        left = length - got
        while left:
            n = self.s.recv_into(self.view, min(left, len(self.buf)))
            if not n:
                raise ConnectionError("the server closed the connection")
            left -= n
        return status, length

    def _send(self, head, body):
        parts = [memoryview(head)] + [memoryview(b) for b in body]
        while parts:
            n = self.s.sendmsg(parts)
            while n:
                if n >= len(parts[0]):
                    n -= len(parts[0]); parts.pop(0)
                else:
                    parts[0] = parts[0][n:]; n = 0

def post(repo, phase, i):
    head = (f"POST {repo}data/{names[phase, i]} HTTP/1.1\r\nHost: bench\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {SIZE}\r\n\r\n").encode()
    return head, filler, tail(phase, i)

def get(repo, i, rng=None):
    r = f"Range: bytes={rng[0]}-{rng[0] + rng[1] - 1}\r\n" if rng else ""
    return (f"GET {repo}data/{names[0, i]} HTTP/1.1\r\nHost: bench\r\n{r}\r\n").encode(),

def worker(addr, jobs, barrier, out):
    try:
        c = Conn(addr)
        barrier.wait()
        moved = 0
        for job, want in jobs:
            status, n = c.exchange(*job)
            if status != want:
                raise ConnectionError(f"status {status}, expected {want}")
            moved += n
        out.put((None, moved))
    except Exception as e:  # reported by the parent
        out.put((f"{type(e).__name__}: {e}", 0))

def run(pid, addr, conns, jobs_of, moved_bytes):
    """Run the jobs of each connection in parallel; MB/s, CPU s/GiB, peak RSS."""
    barrier, out = mp.Barrier(conns + 1), mp.Queue()
    procs = [mp.Process(target=worker, args=(addr, jobs_of(k), barrier, out)) for k in range(conns)]
    for p in procs:
        p.start()
    reset_peak(pid)
    barrier.wait()
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    results = [out.get() for _ in procs]
    dt, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    for p in procs:
        p.join()
    errors = [e for e, _ in results if e]
    if errors:
        raise SystemExit(f"error: {errors[0]}")
    total = moved_bytes or sum(n for _, n in results)
    return total / dt / 1e6, cpu / (total / (1 << 30)), peak_mib(pid)

def start(name, cmd, folder):
    os.makedirs(folder)
    log = open(os.path.join(folder, "..", f"{os.path.basename(folder)}.log"), "w+")
    p = subprocess.Popen(cmd + ["--path", folder, "--listen", "127.0.0.1:0", "--no-auth"],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        log.seek(0)
        m = re.search(r"[Ss]tart(?:ing)? server on ([0-9.]+):([0-9]+)", log.read())
        if m:
            return p, (m.group(1), int(m.group(2)))
        if p.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    p.kill()
    raise SystemExit(f"{name}: no 'start server on ADDRESS' from {shlex.join(cmd)}:\n{log.read()}")

def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait()

def split(jobs, conns, k):
    return jobs[k::conns]

def measure(name, cmd, rnd):
    folder = os.path.join(base, f"{name}-{rnd}")
    p, addr = start(name, cmd, folder)
    try:
        repo = "/bench/"
        c = Conn(addr)
        st, _ = c.exchange(f"POST {repo}?create=true HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".encode())
        assert st == 200, st
        res = {}
        for phase, n in enumerate(CONNS):
            jobs = [(post(repo, phase, i), 200) for i in range(nobj)]
            res["upload 8 MiB", n] = run(p.pid, addr, n, lambda k: split(jobs, n, k), nobj * SIZE)
        for n in CONNS:
            jobs = [(get(repo, i % nobj), 200) for i in range(4 * nobj)]
            res["download 8 MiB", n] = run(p.pid, addr, n, lambda k: split(jobs, n, k), 4 * nobj * SIZE)
        rng = random.Random(22)
        picks = [(rng.randrange(nobj), rng.randrange(SIZE - RANGE)) for _ in range(nranges)]
        for n in CONNS:
            jobs = [(get(repo, i, (at, RANGE)), 206) for i, at in picks]
            res["download 4 KiB ranges", n] = run(p.pid, addr, n, lambda k: split(jobs, n, k), nranges * RANGE)
        c.s.close()
        return res
    finally:
        stop(p)
        subprocess.run(["rm", "-rf", folder])

def load():
    return open("/proc/loadavg").read().split()[:3]

print(f"{len(servers)} servers, {rounds} rounds (order rotated), {nobj} objects of 8 MiB per upload and "
      f"download run, {nranges} ranges of 4 KiB per range run; load average at start {' '.join(load())}")
for name, cmd in servers:
    print(f"  {name}: {shlex.join(cmd)}")
results = {name: [] for name, _ in servers}
for rnd in range(rounds):
    order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
    for name, cmd in order:
        results[name].append(measure(name, cmd, rnd))
    print(f"round {rnd + 1}: {', '.join(n for n, _ in order)} (load average {' '.join(load())})", flush=True)

first = servers[0][0]
keys = list(results[first][0])
def median(name, key, i):
    return statistics.median(r[key][i] for r in results[name])
for i, (title, fmt) in enumerate((("MB/s", "{:.0f}"), ("server CPU s per GiB", "{:.2f}"),
                                  ("server peak RSS MiB", "{:.1f}"))):
    print(f"\n{title}, median of {rounds} (ratio to {first}):")
    rows = []
    for key in keys:
        ref = median(first, key, i)
        rows.append([fmt.format(median(first, key, i))] +
                    [f"{fmt.format(v)} ({v / ref:.2f})" if ref else fmt.format(v)
                     for v in (median(name, key, i) for name, _ in servers[1:])])
    ws = [max(len(n), *(len(r[j]) for r in rows)) + 2 for j, (n, _) in enumerate(servers)]
    print(f"{'':<22}{'conns':>6}" + "".join(f"{n:>{w}}" for (n, _), w in zip(servers, ws)))
    for key, row in zip(keys, rows):
        print(f"{key[0]:<22}{key[1]:>6}" + "".join(f"{c:>{w}}" for c, w in zip(row, ws)))
print(f"\nload average at the end {' '.join(load())}")
PY
  exit
fi
cd "$(dirname "$0")/../.."
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
