#!/usr/bin/env bash
# /health and /status of the native rest-server, against the goals of the
# status page: /health under 5 ms at the 95th percentile while 8 uploads run,
# /status under 50 ms for 20 repositories holding 1,000,000 objects in all.
#
# Makes 20 repositories of OBJECTS/20 empty data objects each (default
# 1,000,000 in all; empty files are made fast, and the figures come from
# memory, so their size does not matter) plus 30 snapshots, an index and a
# key each, and serves them with the static release build (--no-auth). Prints
# - how long the count at start took, and what /health answered meanwhile;
# - latency of GET /status and /status.json (200 each, one keep-alive
#   connection: median, 95th percentile, maximum) and the page's size;
# - latency of GET /health on a new connection each time (as an uptime checker
#   asks), 10 per second for DURATION seconds while 8 clients upload 8 MiB
#   objects in a loop (their throughput is printed too): once as fast as
#   loopback takes them, once paced to PACED_MBPS MB/s in all (default 117,
#   what a gigabit port such as a Raspberry Pi 4's carries), and with no upload;
#   beside each, a GET of a path that names nothing (an immediate 404): what
#   any request costs under that load. The uploading clients run at the
#   lowest priority (in real life they run on other machines);
# - the server's resident memory after the count and at its peak.
# Each figure is printed with its goal and the ratio to it (under 1 meets it).
#
#   scripts/bench/status.sh [OBJECTS] [DATA_DIR] [DURATION]
#
# KRAZYBOX=path runs that binary instead of a fresh static build.
set -euo pipefail
cd "$(dirname "$0")/../.."
objects=${1:-1000000}
base=${2:-target/bench-status}
duration=${3:-20}
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
rm -rf "$base" && mkdir -p "$base/data"
trap 'rm -rf "$base"' EXIT

python3 - "$kb" "$objects" "$base" "$duration" "${PACED_MBPS:-117}" <<'PY'
import hashlib, http.client, json, multiprocessing, os, re, statistics, subprocess, sys, threading, time

kb, objects, base, duration = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
paced_rate = float(sys.argv[5]) * 1e6
data = os.path.join(base, "data")
REPOS = 20
SIZE = 8 << 20

def make_tree():
    per = objects // REPOS
    now = time.time()
    for r in range(REPOS):
        repo = os.path.join(data, f"user{r:02d}", "laptop")
        for t in ["index", "keys", "locks", "snapshots"]:
            os.makedirs(os.path.join(repo, t))
        for i in range(256):
            os.makedirs(os.path.join(repo, "data", f"{i:02x}"))
        with open(os.path.join(repo, "config"), "wb") as f:
            f.write(b"c" * 155)
        for i in range(per):
            name = hashlib.sha256(f"{r}/{i}".encode()).hexdigest()
            os.close(os.open(os.path.join(repo, "data", name[:2], name), os.O_CREAT | os.O_WRONLY, 0o600))
        for kind, n in [("snapshots", 30), ("index", 1), ("keys", 1)]:
            for i in range(n):
                name = hashlib.sha256(f"{r}/{kind}/{i}".encode()).hexdigest()
                path = os.path.join(repo, kind, name)
                with open(path, "wb") as f:
                    f.write(b"s" * 300)
                if kind == "snapshots":
                    # Some repositories stale, the others fresh.
                    age = (r % 4) * 86400 + i * 3600
                    os.utime(path, (now - age, now - age))

def percentiles(xs):
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    return statistics.median(xs) * 1e3, p95 * 1e3, xs[-1] * 1e3

def line(what, xs, goal):
    med, p95, mx = percentiles(xs)
    return (f"{what}: median {med:.2f} ms, p95 {p95:.2f} ms, max {mx:.2f} ms ({len(xs)} requests); "
            f"goal p95 < {goal} ms: ratio {p95 / goal:.2f}")

def proc_status(pid, key):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(key + ":"):
            return int(l.split()[1]) / 1024

def get(host, port, path, conn=None):
    c = conn or http.client.HTTPConnection(host, port, timeout=30)
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    dt = time.perf_counter() - t
    if conn is None:
        c.close()
    return dt, r.status, body

def paced(body, rate):
    """The body in 256 KiB pieces, each sent when `rate` bytes a second allow."""
    piece, t0 = 256 << 10, time.perf_counter()
    for off in range(0, len(body), piece):
        wait = t0 + off / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield body[off:off + piece]

def uploader(host, port, stop, done, rate):
    """8 clients posting 8 MiB objects with correct names until `stop` is set,
    as fast as they can (rate None) or together at `rate` bytes a second.
    Restic's clients run on other machines: here they run at the lowest
    priority, and each posts and deletes the same two objects over and over,
    so that their own hashing does not take the two cores from the server."""
    os.nice(19)
    def client(k):
        blobs = [os.urandom(SIZE) for _ in range(2)]
        names = [hashlib.sha256(b).hexdigest() for b in blobs]
        c = http.client.HTTPConnection(host, port, timeout=60)
        i = 0
        while not stop.is_set():
            body, name = blobs[i % 2], names[i % 2]
            for method, payload in (("POST", body), ("DELETE", None)):
                headers = {}
                if payload is not None and rate:
                    payload, headers = paced(payload, rate / 8), {"Content-Length": str(SIZE)}
                c.request(method, f"/uploads/data/{name}", body=payload, headers=headers)
                r = c.getresponse()
                r.read()
                assert r.status == 200, (method, r.status)
            with done.get_lock():
                done.value += 1
            i += 1
    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()

def health_series(host, port, seconds):
    """GET /health on a new connection, 10 times a second; beside each, a GET
    of a path that names nothing (404 at once, no file work): the floor."""
    lat, floor, words = [], [], {}
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        # Alternating which goes first: the first after a pause pays for waking up.
        if n % 2:
            floor.append(get(host, port, "/nothing")[0])
        dt, st, body = get(host, port, "/health")
        lat.append(dt)
        words[body.decode().strip()] = words.get(body.decode().strip(), 0) + 1
        if n % 2 == 0:
            floor.append(get(host, port, "/nothing")[0])
        n += 1
        time.sleep(0.1)
    return lat, floor, words

t = time.perf_counter()
make_tree()
print(f"made {REPOS} repositories of {objects // REPOS} objects each in {time.perf_counter() - t:.0f} s")
subprocess.run(["sync"])

log = open(os.path.join(base, "server.log"), "w")
p = subprocess.Popen([kb, "rest-server", "--path", data, "--listen", "127.0.0.1:0", "--no-auth"],
                     stderr=subprocess.PIPE, text=True)
for l in p.stderr:
    log.write(l)
    m = re.search(r"Starting server on (\S+)", l)
    if m:
        host, port = m.group(1).rsplit(":", 1)
        port = int(port)
        break
threading.Thread(target=lambda: [log.write(l) for l in p.stderr], daemon=True).start()
try:
    t0 = time.perf_counter()
    seen = {}
    while True:
        dt, st, body = get(host, port, "/health")
        seen[body.decode().strip()] = seen.get(body.decode().strip(), 0) + 1
        if st == 200:
            break
        time.sleep(0.01)
    count = time.perf_counter() - t0
    print(f"count at start: /health said 200 ok {count:.1f} s after the server listened; before that: {seen}")
    rss = proc_status(p.pid, "VmRSS")

    conn = http.client.HTTPConnection(host, port, timeout=30)
    for path in ["/status", "/status.json"]:
        lat = []
        for _ in range(200):
            dt, st, body = get(host, port, path, conn)
            assert st == 200
            lat.append(dt)
        print(line(f"GET {path}", lat, 50) + f"; {len(body)} bytes")
    facts = json.loads(body)
    total = sum(r["size_bytes"] for r in facts["repositories"])
    stale = sum(1 for r in facts["repositories"] if r["problems"])
    print(f"  the JSON: {len(facts['repositories'])} repositories, {total} bytes, {stale} stale")

    lat, floor, words = health_series(host, port, min(duration, 10))
    print(line("GET /health, no upload", lat, 5) + f"; answers {words}")
    print(line("  GET /nothing beside it (404, the floor)", floor, 5))

    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("POST", "/uploads/?create=true")
    assert c.getresponse().status == 200
    for rate, what in [(None, "as fast as loopback takes them"), (paced_rate, f"paced to {paced_rate / 1e6:.0f} MB/s in all")]:
        stop, done = multiprocessing.Event(), multiprocessing.Value("i", 0)
        up = multiprocessing.Process(target=uploader, args=(host, port, stop, done, rate))
        up.start()
        time.sleep(1)
        before, t1 = done.value, time.perf_counter()
        lat, floor, words = health_series(host, port, duration)
        n, dt = done.value - before, time.perf_counter() - t1
        stop.set()
        up.join()
        print(line(f"GET /health, 8 uploads running {what}", lat, 5) + f"; answers {words}")
        print(line("  GET /nothing beside it (404, the floor)", floor, 5))
        print(f"  the uploads meanwhile: {n} of 8 MiB in {dt:.1f} s, {n * SIZE / dt / 1e6:.0f} MB/s")
    print(f"memory: VmRSS {rss:.1f} MiB after the count of {objects} objects, "
          f"peak VmHWM {proc_status(p.pid, 'VmHWM'):.1f} MiB")
finally:
    p.terminate()
    p.wait()
print("load average during the run: " + open("/proc/loadavg").read().split()[0])
PY
