#!/usr/bin/env bash
# Listings of big repositories, as a backup appliance meets them:
#  1. cold and slow: a repository of OBJECTS pack files (default 20,000) on an
#     ext4 image whose loop device reads at most IOPS requests a second
#     (default 15, a spun-down USB hard disk; cgroup v1 blkio throttling of the
#     server's process), caches dropped, then `GET /data/` with restic's v2
#     Accept header: the time, the HTTP status and how many entries came;
#  2. big: the peak RSS of the server while it lists BIG objects (default
#     1,000,000, sparse files on the disk of the work folder; goal under 32 MiB).
# With --compare NAME=COMMAND the same is measured for another server in the
# same run (e.g. a Go rest-server binary), started as
# `COMMAND --path DIR --listen 127.0.0.1:0 --no-auth`, and the ratio is printed.
#
#   scripts/bench/listing.sh [--compare NAME=COMMAND]...     (root)
#
# KRAZYBOX=path runs that binary instead of a fresh static build; OBJECTS,
# IOPS and BIG change the sizes (OBJECTS=0 skips part 1, BIG=0 part 2);
# WORK=DIR puts the work folder elsewhere (default under target/).
set -euo pipefail
cd "$(dirname "$0")/../.."
others=()
while (($#)); do
  case $1 in
    --compare) [[ ${2:-} == *=* ]] || { echo "usage: $0 [--compare NAME=COMMAND]..." >&2; exit 2; }; others+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--compare NAME=COMMAND]..." >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "scripts/bench/listing.sh: needs root (loop device, cgroup, drop_caches)" >&2; exit 1; }
cg_root=/sys/fs/cgroup/blkio
[[ -w $cg_root/cgroup.procs ]] || { echo "scripts/bench/listing.sh: no cgroup v1 blkio hierarchy at $cg_root" >&2; exit 1; }
objects=${OBJECTS:-20000} iops=${IOPS:-15} big=${BIG:-1000000}
kb=${KRAZYBOX:-$(scripts/build.sh x86_64-unknown-linux-musl)}
work=${WORK:-target/bench-listing}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
cg=$cg_root/krazybox-bench-listing-$$
pid= lo=
cleanup() {
  set +e
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  mountpoint -q "$work/mnt" && umount "$work/mnt"
  [[ -n $lo ]] && losetup -d "$lo"
  [[ -d $cg ]] && rmdir "$cg"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$cg"

# A repository's layout with N objects in data/xx/ (sparse files of 4-16 MiB,
# as restic's packs are), names that look like restic's: the SHA-256 of a counter.
make_repo() { # DIR N
  python3 - "$1" "$2" <<'PY'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
for d in ["index", "keys", "locks", "snapshots"]:
    os.makedirs(os.path.join(root, d), exist_ok=True)
for i in range(256):
    os.makedirs(os.path.join(root, "data", f"{i:02x}"), exist_ok=True)
open(os.path.join(root, "config"), "w").write("not encrypted: only listed\n")
for i in range(n):
    name = hashlib.sha256(i.to_bytes(8, "little")).hexdigest()
    fd = os.open(os.path.join(root, "data", name[:2], name), os.O_CREAT | os.O_WRONLY, 0o600)
    os.ftruncate(fd, (4 << 20) + (i * 7919) % (12 << 20))
    os.close(fd)
PY
}

# start NAME COMMAND...: start a server on $work/mnt inside the cgroup; sets $pid and $addr.
start() {
  local log=$work/$1.log
  shift
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@" \
    --path "$work/mnt" --listen 127.0.0.1:0 --no-auth 2>"$log" &
  pid=$!
  for _ in $(seq 200); do grep -qE '[Ss]tart(ing)? server on' "$log" 2>/dev/null && break; sleep 0.05; done
  addr=$(grep -oE '[Ss]tart(ing)? server on [0-9.:]+' "$log" | head -1 | awk '{print $4}')
  [[ -n $addr ]] || { echo "scripts/bench/listing.sh: $1 did not start: $(tail -3 "$log")" >&2; exit 1; }
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=; }

# list NAME OUT: GET /data/ (v2); prints "SECONDS STATUS ENTRIES FIRST_BYTE_SECONDS" (ENTRIES "cut" when the body is no JSON array).
list() {
  local w rc=0
  w=$(curl -s -o "$2" --max-time 1800 -H 'Accept: application/vnd.x.restic.rest.v2' \
    -w '%{time_total} %{http_code} %{time_starttransfer}' "http://$addr/data/") || rc=$?
  local entries
  entries=$(python3 -c 'import json, sys
try: print(len(json.load(open(sys.argv[1], "rb"))))
except Exception: print("cut")' "$2")
  set -- $w
  echo "$1 $2 $entries $3 curl-exit-$rc"
}

# --- 1. cold and slow -------------------------------------------------------
cold_part() {
  echo "making a repository of $objects objects on an ext4 image..."
  make_repo "$work/tree" "$objects"
  truncate -s 1G "$work/disk.img"
  mkfs.ext4 -q -F -N $((objects + 4096)) -d "$work/tree" "$work/disk.img"
  rm -rf "$work/tree"
  mkdir -p "$work/mnt" /run/lock
  exec {lockfd}>/run/lock/krazybox-devices.lock
  flock "$lockfd" # the tests' lock for loop devices, held while this one is attached
  lo=$(losetup -f --show "$work/disk.img")
  mount -o noatime "$lo" "$work/mnt"
  # The first walk of a fresh file system reads less than later ones: one
  # untimed walk first, so that every server meets the same.
  touch "$work/mnt/.rest-server.lock"
  find "$work/mnt" -ls >/dev/null
  echo "$(cat "/sys/block/${lo#/dev/}/dev") $iops" >"$cg/blkio.throttle.read_iops_device"

  declare -A cold
  # Read requests the cgroup made of the loop device so far.
  reads() { awk -v d="$(cat "/sys/block/${lo#/dev/}/dev")" '$1 == d && $2 == "Read" { print $3 }' "$cg/blkio.throttle.io_serviced" | grep . || echo 0; }
  cold_run() { # NAME COMMAND...
    local name=$1
    start "$@"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    local before after
    before=$(reads)
    cold[$name]=$(list "$name" "$work/$name.json")
    after=$(reads)
    stop
    read -r secs status entries first rc <<<"${cold[$name]}"
    printf '%-12s %7.1f s  status %s  %s entries (of %s)  first byte after %.1f s  %s read requests  %s\n' \
      "$name" "$secs" "$status" "$entries" "$objects" "$first" "$((after - before))" "$rc"
  }
  echo "cold listing of $objects objects at $iops reads/s:"
  cold_run krazybox "$kb" rest-server
  for o in "${others[@]}"; do
    cold_run "${o%%=*}" ${o#*=}
  done
  umount "$work/mnt"
  losetup -d "$lo"
  lo=
  flock -u "$lockfd"
  for o in "${others[@]}"; do
    read -r ours ours_status ours_n _ <<<"${cold[krazybox]}"
    read -r theirs theirs_status theirs_n _ <<<"${cold[${o%%=*}]}"
    if [[ $ours_status$ours_n != "200$objects" || $theirs_status$theirs_n != "200$objects" ]]; then
      echo "ratio krazybox/${o%%=*}: none, not both listed all $objects objects"
    else
      awk -v a="$ours" -v b="$theirs" -v n="${o%%=*}" 'BEGIN { printf "ratio krazybox/%s: %.2f (below 1: krazybox is faster)\n", n, a / b }'
    fi
  done
}
((objects > 0)) && cold_part

# --- 2. big -------------------------------------------------------------------
((big > 0)) || exit 0
echo "making a repository of $big objects (sparse files)..."
make_repo "$work/mnt" "$big"
rss_run() { # NAME COMMAND...
  local name=$1 t0 t1 hwm
  start "$@"
  t0=$EPOCHREALTIME
  read -r _ status entries _ <<<"$(list "$name" "$work/$name.json")"
  t1=$EPOCHREALTIME
  hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
  stop
  printf '%-12s peak RSS %6s MiB listing %s objects (status %s, %s entries, %.1f s warm)\n' \
    "$name" "$hwm" "$big" "$status" "$entries" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}
rss_run krazybox "$kb" rest-server
for o in "${others[@]}"; do
  rss_run "${o%%=*}" ${o#*=}
done
