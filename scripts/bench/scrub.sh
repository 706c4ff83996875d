#!/usr/bin/env bash
# The scrub's figures, measured in one run with the static release build:
# - its read rate on an idle server against --scrub-rate (20 MB/s, the
#   default), over a repository of 75 objects of 4 MiB, next to this machine's
#   own sequential read speed of the same files (dd, O_DIRECT): goal >= 0.9;
# - 8 parallel uploads of 8 MiB objects (64 per run) with a pass over that
#   repository running at the default rate, against the same uploads with
#   --scrub-interval off, runs alternating (5 each, medians): goal >= 0.9;
# - the server's peak RSS (VmHWM) after a pass over 10,000 and over 100,000
#   objects of 1 KiB (data/xx/ as restic lays them out), and with an empty
#   tree: goal, the same with ten times the objects.
#
#   scripts/bench/scrub.sh [DATA_DIR]
#
# KRAZYBOX=path runs that binary instead of a fresh static build.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-target/bench-scrub}
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
rm -rf "$base" && mkdir -p "$base"
trap 'rm -rf "$base"' EXIT

python3 - "$kb" "$base" <<'PY'
import hashlib, http.client, os, re, shutil, statistics, subprocess, sys, threading, time

kb, base = sys.argv[1], sys.argv[2]
MB = 1e6
RATE = 20_000_000

def put_objects(root, repo, n, size, seed):
    """n objects of `size` bytes named by their SHA-256, in data/xx/."""
    total = 0
    for i in range(n):
        blob = hashlib.sha256(f"{seed}-{i}".encode()).digest() * (size // 32)
        blob = os.urandom(16) + blob[16:] if size >= 4096 else blob
        name = hashlib.sha256(blob).hexdigest()
        folder = os.path.join(root, repo, "data", name[:2])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(blob)
        total += len(blob)
    with open(os.path.join(root, repo, "config"), "wb") as f:
        f.write(b"c" * 155)
    return total

class Server:
    def __init__(self, path, *flags):
        self.log = []
        self.p = subprocess.Popen([kb, "rest-server", "--path", path, "--listen", "127.0.0.1:0",
                                   "--no-auth", *flags], stderr=subprocess.PIPE, text=True)
        self.addr = None
        for line in self.p.stderr:
            self.log.append(line)
            m = re.search(r"Starting server on (\S+)", line)
            if m:
                self.addr = m.group(1)
                break
        threading.Thread(target=self._read, daemon=True).start()
    def _read(self):
        for line in self.p.stderr:
            self.log.append(line)
    def metrics(self):
        c = http.client.HTTPConnection(*self.addr.rsplit(":", 1))
        c.request("GET", "/metrics")
        return c.getresponse().read().decode()
    def value(self, name):
        m = re.search(rf"^{name} (\d+)$", self.metrics(), re.M)
        return int(m.group(1)) if m else None
    def wait_log(self, pattern, limit=600):
        t = time.time()
        while time.time() - t < limit:
            if any(re.search(pattern, l) for l in self.log):
                return
            time.sleep(0.05)
        raise SystemExit(f"no {pattern!r} in the server's log within {limit}s")
    def status(self, key):
        for line in open(f"/proc/{self.p.pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    def stop(self):
        self.p.terminate()
        self.p.wait()

def drop_caches():
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
    except OSError:
        pass

# 1. The read rate on an idle server.
big = os.path.join(base, "big")
total = put_objects(big, "laptop", 75, 4 << 20, "big")
drop_caches()
t = time.perf_counter()
for dirpath, _, files in os.walk(os.path.join(big, "laptop", "data")):
    for f in files:
        subprocess.run(["dd", f"if={os.path.join(dirpath, f)}", "of=/dev/null", "bs=4M", "iflag=direct"],
                       check=True, capture_output=True)
disk = total / (time.perf_counter() - t) / MB
s = Server(big, "--prometheus", "--scrub-rate", str(RATE))
# From the first byte the scrub read to the last, sampled every 50 ms.
first = None
while True:
    read = s.value("rest_server_scrub_read_bytes_total") or 0
    now = time.perf_counter()
    if first is None and read > 0:
        first = (now, read)
    if s.value("rest_server_scrub_last_pass_end_timestamp_seconds") is not None:
        break
    last = (now, read)
    time.sleep(0.05)
rate = (last[1] - first[1]) / (last[0] - first[0])
s.stop()
print(f"machine: sequential read (dd, O_DIRECT) {disk:.0f} MB/s")
print(f"idle: the scrub read {total / MB:.0f} MB at {rate / MB:.1f} MB/s with --scrub-rate {RATE / MB:.0f} MB/s: "
      f"{rate / RATE:.2f} of the rate (goal >= 0.90)")

# 2. 8 parallel uploads, with and without a pass running.
SIZE, UPLOADS, CLIENTS = 8 << 20, 64, 8
filler = os.urandom(SIZE - 16)
def blob(run, i):
    return filler + run.to_bytes(8, "big") + i.to_bytes(8, "big")
def upload_run(server, run_no):
    host, port = server.addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port))
    repo = f"/up{run_no}/"
    c.request("POST", repo + "?create=true"); c.getresponse().read()
    names = [hashlib.sha256(blob(run_no, i)).hexdigest() for i in range(UPLOADS)]
    errors = []
    def worker(k):
        conn = http.client.HTTPConnection(host, int(port))
        for i in range(k, UPLOADS, CLIENTS):
            conn.request("POST", f"{repo}data/{names[i]}", body=blob(run_no, i))
            r = conn.getresponse(); r.read()
            if r.status != 200:
                errors.append(r.status)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
    t = time.perf_counter()
    for th in threads: th.start()
    for th in threads: th.join()
    dt = time.perf_counter() - t
    assert not errors, errors
    return UPLOADS * SIZE / dt / MB
results = {"off": [], "on": []}
for run_no in range(10):
    mode = "off" if run_no % 2 == 0 else "on"
    # A fresh pass each time: the state of the last one goes.
    for f in (".rest-server.scrub",):
        try: os.remove(os.path.join(big, f))
        except FileNotFoundError: pass
    flags = ["--prometheus"] + (["--scrub-interval", "off"] if mode == "off" else [])
    s = Server(big, *flags)
    if mode == "on":
        while not s.value("rest_server_scrub_read_bytes_total"):
            time.sleep(0.05)
    mbps = upload_run(s, run_no)
    running = s.value("rest_server_scrub_running") if mode == "on" else None
    s.stop()
    shutil.rmtree(os.path.join(big, f"up{run_no}"))
    if mode == "on":
        assert running == 1, "the pass ended before the uploads did: make the repository larger"
    results[mode].append(mbps)
    print(f"  uploads, scrub {mode:>3}: {mbps:.0f} MB/s")
off, on = statistics.median(results["off"]), statistics.median(results["on"])
print(f"8 parallel uploads: {on:.0f} MB/s with a pass running at the default rate, {off:.0f} MB/s without: "
      f"{on / off:.2f} (goal >= 0.90)")

# 3. Memory after a pass over many small objects.
def peak_after_pass(n):
    root = os.path.join(base, f"small{n}")
    os.makedirs(root)
    if n:
        put_objects(root, "r", n, 1024, f"small{n}")
    s = Server(root, "--scrub-rate", "1000000000")
    s.wait_log(r"scrub: pass 1 done")
    peak = s.status("VmHWM")
    s.stop()
    shutil.rmtree(root)
    return peak
peaks = {n: peak_after_pass(n) for n in (0, 10_000, 100_000)}
print(f"peak RSS after a pass: {peaks[0]:.1f} MiB with no object, {peaks[10_000]:.1f} MiB over 10,000, "
      f"{peaks[100_000]:.1f} MiB over 100,000 objects: {peaks[100_000] / peaks[10_000]:.2f} (goal: about 1.00)")
PY
