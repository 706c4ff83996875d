#!/usr/bin/env bash
# The native rest-server under the attacks a client on the LAN can make, on
# loopback with the static release build. For each: the latency of a normal
# request (valid users from 127.0.0.1) next to the same request with no attack
# in the same run, the server's peak RSS, threads and descriptors. Attackers
# connect from other 127/8 addresses. Goals: answered within 200 ms, peak RSS
# under 32 MiB, idle connections dropped after 60 s.
#
#   scripts/bench/attack-rest-server.sh [SECONDS_PER_ATTACK]
#
# KRAZYBOX=path runs that binary instead of a fresh static build.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
base=target/attack-rest-server
rm -rf "$base" && mkdir -p "$base"/{auth,open,small}
servers=()
trap 'kill "${servers[@]}" 2>/dev/null; rm -rf "$base"' EXIT
ulimit -n "$(ulimit -Hn)"

for u in alice bob $(seq -f 'u%g' 0 39); do
  "$kb" htpasswd -nbB "$u" "pw-$u" | head -1
done >"$base/htpasswd"

start() { # NAME ARGS...: start a server on its own folder, print its pid and address
  local log=$base/$1.log data=$base/$1; shift
  "$kb" rest-server --path "$data" --listen 127.0.0.1:0 "$@" 2>"$log" &
  local pid=$!
  for _ in $(seq 200); do grep -qE '[Ss]tart(ing)? server on' "$log" 2>/dev/null && break; sleep 0.05; done
  echo "$pid $(grep -oE '[Ss]tart(ing)? server on [0-9.:]*' "$log" | head -1 | awk '{print $4}')"
}
read -r auth_pid auth_addr < <(start auth --htpasswd-file "$base/htpasswd")
read -r open_pid open_addr < <(start open --no-auth)
servers=("$auth_pid" "$open_pid")
# Under the usual limit of 1024 descriptors.
read -r small_pid small_addr < <(ulimit -n 1024; start small --no-auth)
servers+=("$small_pid")

python3 - "$secs" "$base" "$auth_pid" "$auth_addr" "$open_pid" "$open_addr" "$small_pid" "$small_addr" <<'PY'
import base64, hashlib, multiprocessing, os, selectors, socket, statistics, sys, threading, time

secs = float(sys.argv[1]); base = sys.argv[2]
auth_pid, auth_addr, open_pid, open_addr, small_pid, small_addr = sys.argv[3:9]
def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)

def status(pid):
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        out[k] = (v.split() or [""])[0]
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return int(out["VmHWM"]) / 1024, int(out["Threads"]), fds

def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")

def auth(user, pw=None):
    pw = pw or f"pw-{user}"
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

def connect(addr, src="127.0.0.1", rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src, 0))
    s.connect(hp(addr))
    return s

def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError
        rest += d
    return int(head.split()[1])

def timed(addr, method, path, headers=(), body=b""):
    t = time.perf_counter()
    s = connect(addr)
    s.settimeout(30)
    h = "".join(f"{k}: {v}\r\n" for k, v in headers)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n{h}\r\n".encode() + body)
    st = read_response(s)
    s.close()
    return st, (time.perf_counter() - t) * 1000

def ms(xs):
    return f"median {statistics.median(xs):6.1f} ms, max {max(xs):6.1f} ms"

fresh = iter(f"u{i}" for i in range(40))
def login(user):
    st, t = timed(auth_addr, "GET", "/keys/", [("Authorization", auth(user))])
    assert st == 200, (user, st)
    return t

# The idle timeout: a connection that sends nothing, watched while the rest runs.
idle = {}
def watch_idle():
    s = connect(open_addr)
    t = time.perf_counter()
    s.settimeout(120)
    try:
        s.recv(1)
    except OSError:
        pass
    idle["s"] = time.perf_counter() - t
threading.Thread(target=watch_idle, daemon=True).start()

st, _ = timed(open_addr, "POST", "/?create=true")
assert st == 200
big = os.urandom(16 << 20)
big_id = hashlib.sha256(big).hexdigest()
st, _ = timed(open_addr, "POST", f"/data/{big_id}", body=big)
assert st == 200
del big
def normal(addr=open_addr):
    if addr != open_addr:
        st, t = timed(addr, "GET", "/keys/")
        assert st == 200, st
        return t
    st, t = timed(addr, "GET", f"/data/{big_id}", [("Range", "bytes=0-4095")])
    assert st == 206, st
    return t

print(f"{'attack':<44} {'normal request during it':<34} {'quiet, same run':<16} peak RSS / threads / fds")
def row(name, during, quiet, pid):
    rss, threads, fds = status(pid)
    print(f"{name:<44} {ms(during):<34} {statistics.median(quiet):6.1f} ms       {rss:5.1f} MiB / {threads} / {fds}", flush=True)

# 1. Password flood: keep-alive connections re-sending a wrong password.
quiet_cached = [login("bob") for _ in range(5)]
quiet_fresh = [login(next(fresh))]
def flood(n, seconds):
    sel = selectors.DefaultSelector()
    req = f"GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {auth('alice', 'guess')}\r\n\r\n".encode()
    counts = {"answers": 0, "429": 0}
    bufs = {}
    for _ in range(n):
        s = connect(auth_addr, "127.0.0.2")
        s.setblocking(False)
        s.send(req)
        bufs[s] = b""
        sel.register(s, selectors.EVENT_READ)
    end = time.time() + seconds
    while time.time() < end:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(s); s.close(); continue
            bufs[s] += d
            while b"\r\n\r\n" in bufs[s]:
                head, rest = bufs[s].split(b"\r\n\r\n", 1)
                n_body = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in head.lower() else 0
                if len(rest) < n_body:
                    break
                bufs[s] = rest[n_body:]
                counts["answers"] += 1
                counts["429"] += head.startswith(b"HTTP/1.1 429") and b"retry-after:" in head.lower()
                s.send(req)
    for s in list(bufs):
        s.close()
    return counts
# The attacker runs in a process of its own, so it does not slow the measuring client down.
res = multiprocessing.Manager().dict()
ft = multiprocessing.Process(target=lambda: res.update(flood(700, secs)))
ft.start()
time.sleep(1)
cached, uncached = [], []
while ft.is_alive():
    cached.append(login("bob"))
    uncached.append(login(next(fresh)))
    time.sleep(0.5)
ft.join()
row("700 keep-alive wrong passwords: cached login", cached, quiet_cached, auth_pid)
row("  the same: uncached login", uncached, quiet_fresh, auth_pid)
print(f"  attacker: {res['answers']} answers in {secs:.0f} s, {res['429']} of them 429 with Retry-After")
print(f"  after it: cached login {login('bob'):.1f} ms")

# 2. Clients that hang up: 600 wrong passwords from 60 addresses, closed at once.
conns = []
req = f"GET /keys/ HTTP/1.1\r\nHost: x\r\nAuthorization: {auth('alice', 'guess')}\r\n\r\n".encode()
for i in range(600):
    s = connect(auth_addr, f"127.0.1.{10 + i // 10}")
    s.send(req)
    conns.append(s)
time.sleep(0.1)
for s in conns:
    s.close()
time.sleep(0.1)
after = [login(next(fresh)) for _ in range(2)]
row("600 wrong passwords hung up: uncached login", after, quiet_fresh, auth_pid)

# 3. Slow readers: GETs of a 16 MiB object through a 4 KiB window, 4 KiB a second.
def slow(n, make, tick, seconds, name):
    quiet = [normal() for _ in range(5)]
    reset_peak(open_pid)
    socks = [make(i) for i in range(n)]
    during = []
    end = time.time() + seconds
    while time.time() < end:
        for s in socks:
            tick(s)
        during.append(normal())
        time.sleep(max(0, 1 - (time.time() % 1)))
    row(name, during, quiet, open_pid)
    for s in socks:
        s.close()
    time.sleep(1)

def reader(i):
    s = connect(open_addr, "127.0.0.4", rcvbuf=4096)
    s.send(f"GET /data/{big_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.setblocking(False)
    return s
def read_some(s):
    try:
        s.recv(4096)
    except BlockingIOError:
        pass
slow(1000, reader, read_some, secs, "1000 slow readers (4 KiB window, 4 KiB/s)")

# 4. Slow uploaders: a byte a second.
def uploader(i):
    s = connect(open_addr, "127.0.0.5")
    name = hashlib.sha256(str(i).encode()).hexdigest()
    s.send(f"POST /data/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n".encode())
    return s
slow(1000, uploader, lambda s: s.send(b"x"), secs, "1000 uploads trickling a byte a second")

# 5. Descriptors: 1,100 silent connections to a server started under a limit of 1024.
limits = [l for l in open(f"/proc/{small_pid}/limits") if l.startswith("Max open files")][0].split()
quiet = [normal(small_addr) for _ in range(5)]
silent = [connect(small_addr, "127.0.0.6") for _ in range(1100)]
time.sleep(0.5)
during = [normal(small_addr) for _ in range(5)]
row(f"1100 silent connections (limit 1024, now {limits[3]})", during, quiet, small_pid)
for s in silent:
    s.close()

# 6. The idle timeout.
while "s" not in idle:
    time.sleep(0.5)
print(f"an idle connection was dropped after {idle['s']:.2f} s (goal 60 s)")
PY
