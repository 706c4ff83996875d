#!/usr/bin/env bash
# The per-repository figures on a large repository: a repository of OBJECTS
# data objects (default 100,000, 1 KiB each, in data/xx/ as restic stores
# them) plus 500 snapshots, index and key files, served by the static release
# build with --prometheus. Prints
# - the time from spawning the server to its first HTTP answer (GET of the
#   config), next to the same server on an empty --path and on the same tree
#   without --prometheus (counted all the same now, for /status), measured in the same run: the
#   count at start runs beside the serving, so it should add nothing much;
# - how long the count at start took (until rest_server_repo_scan_complete 1);
# - scrape latencies of GET /metrics while the count runs and after it
#   (median, 99th percentile, maximum over 200 scrapes). Goal: under 50 ms.
#
#   scripts/bench/repo-metrics.sh [OBJECTS] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-100000}
base=${2:-target/bench-repo-metrics}
kb=$(scripts/build.sh x86_64-unknown-linux-musl)
rm -rf "$base" && mkdir -p "$base/empty" "$base/full"
trap 'rm -rf "$base"' EXIT

python3 - "$kb" "$objects" "$base" <<'PY'
import hashlib, http.client, os, re, socket, statistics, subprocess, sys, time

kb, objects, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
repo = os.path.join(base, "full", "big")

def make_repo():
    for t in ["data", "index", "keys", "locks", "snapshots"]:
        os.makedirs(os.path.join(repo, t))
    for i in range(256):
        os.makedirs(os.path.join(repo, "data", f"{i:02x}"))
    with open(os.path.join(repo, "config"), "wb") as f:
        f.write(b"c" * 155)
    body = b"x" * 1024
    def put(kind, i):
        name = hashlib.sha256(f"{kind}{i}".encode()).hexdigest()
        folder = os.path.join(repo, kind, name[:2]) if kind == "data" else os.path.join(repo, kind)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(body)
    for i in range(objects):
        put("data", i)
    for kind, n in [("snapshots", 500), ("index", 200), ("keys", 1)]:
        for i in range(n):
            put(kind, i)

def start(path, flags=("--prometheus",)):
    """Spawn the server on `path`; return it and the seconds until its first answer."""
    log = open(os.path.join(base, "server.log"), "w")
    t0 = time.perf_counter()
    # The objects' contents are not their hashes: no scrub, which would read and report them all.
    p = subprocess.Popen([kb, "rest-server", "--path", path, "--listen", "127.0.0.1:0",
                          "--no-auth", "--scrub-interval", "off", *flags], stderr=subprocess.PIPE, text=True)
    addr = None
    for line in p.stderr:
        log.write(line)
        m = re.search(r"Starting server on (\S+)", line)
        if m:
            addr = m.group(1)
            break
    host, port = addr.rsplit(":", 1)
    while True:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=10)
            c.request("GET", "/big/config")
            c.getresponse().read()
            break
        except OSError:
            time.sleep(0.0005)
    return p, time.perf_counter() - t0, host, int(port)

def scrape(c):
    t = time.perf_counter()
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    return time.perf_counter() - t, text

def summary(xs):
    xs = sorted(xs)
    if not xs:
        return "none"
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"median {statistics.median(xs)*1e3:.2f} ms, p99 {p99*1e3:.2f} ms, max {xs[-1]*1e3:.2f} ms ({len(xs)} scrapes)"

def stop(p):
    p.terminate()
    p.wait()

t = time.perf_counter()
make_repo()
print(f"made a repository of {objects} data objects in {time.perf_counter() - t:.1f} s")

empty_times, plain_times, full_times = [], [], []
for _ in range(5):
    p, dt, _, _ = start(os.path.join(base, "empty"))
    empty_times.append(dt)
    stop(p)
    p, dt, _, _ = start(os.path.join(base, "full"), ())
    plain_times.append(dt)
    stop(p)
during, after = [], []
for run in range(5):
    p, dt, host, port = start(os.path.join(base, "full"))
    full_times.append(dt)
    c = http.client.HTTPConnection(host, port, timeout=10)
    t0 = time.perf_counter()
    while True:
        lat, text = scrape(c)
        if "\nrest_server_repo_scan_complete 1\n" in text:
            scan = time.perf_counter() - t0
            break
        during.append(lat)
        time.sleep(0.002)
    for _ in range(200 if run == 0 else 40):
        lat, text = scrape(c)
        after.append(lat)
    size = re.search(r'rest_server_repo_size_bytes\{repo="/big"\} (\d+)', text).group(1)
    snaps = re.search(r'rest_server_repo_snapshots\{repo="/big"\} (\d+)', text).group(1)
    stop(p)
    print(f"run {run + 1}: first answer {dt*1e3:.1f} ms, count done {scan*1e3:.0f} ms after it, "
          f"size {size} bytes, {snaps} snapshots")
med = lambda xs: statistics.median(xs) * 1e3
print(f"time to first answer (median of 5): empty --path {med(empty_times):.1f} ms; "
      f"{objects}-object repository without --prometheus {med(plain_times):.1f} ms, "
      f"with --prometheus {med(full_times):.1f} ms (ratio to without {med(full_times)/med(plain_times):.2f})")
print(f"scrape while counting: {summary(during)}")
print(f"scrape after counting: {summary(after)}")
print("load average during the run: " + open("/proc/loadavg").read().split()[0])
PY
