#!/usr/bin/env bash
# The appliance under a real kernel: boots Debian's kernel in qemu (software
# emulation, TCG) with an initramfs holding the static krazybox and a small
# init that supervises restic-rest-server as gokrazy does (scripts/vm/init),
# gives it image files as virtio disks, and drives the real restic client from
# the host through qemu's user networking on a loopback port.
#
#   scripts/system-test.sh [amd64|arm64|all]      (root; default all)
#
# Scenarios (amd64 runs 1-5, 7 and 8; arm64, the Raspberry Pi's shape, runs 1-3,
# 5 and 8 on a cortex-a72 model, which is scenario 6):
#   1 ext4 by UUID: boot, backup, check --read-data, restore, clean stop (unmounted)
#   2 btrfs over two disks by UUID: power loss (kill -9 of qemu) in a backup,
#     boot with the disks swapped, no committed object lost, no temporary file,
#     unlock + check --read-data clean, a new backup works
#   3 late disk: hot-added 10 s after boot; serving within 2 s of it
#   4 pulled disk (device_del) while serving: noticed within 5 s, the service
#     restarts; plugged back in under a new name, serving again within 5 s
#   5 configuration error (--path outside the mount): exit 125, no restart
#   7 /perm without a file system (amd64): gokrazy's read-only root, its /perm
#     partition unformatted: exit 125 with what to do, no restart; run by hand
#     on a writable root, /perm not mounted is refused only with gokrazy's HOME
#   8 a big repository on a slow disk: 50,000 packs (a real repository, made
#     on the host by scripts/vm/restic-repo.py), the virtual disk throttled by
#     qemu to $BIG_IOPS requests a second, cold boot; restic snapshots, list
#     packs (the listing, timed: once the disk is quiet, after the guest dropped
#     its caches), check and a new backup, none seeing a dropped connection
#     (nor the server dropping one: Go's HTTP client sends a GET again unsaid)
# Each prints one line "PASS|FAIL ARCH N name: timings [reason]"; the last line
# is "N passed, M failed". Exit status 0 only if all passed.
#
# Needs scripts/vm-fetch.sh's cache ($KRAZYBOX_VM_CACHE, default
# /var/cache/krazybox-vm), restic, curl, mkfs.ext4, mkfs.btrfs, losetup, e2fsck,
# python3 (with the cryptography package for scenario 8), and the static builds
# (made here with scripts/build.sh unless KRAZYBOX_VM_NO_BUILD=1).
# KRAZYBOX_VM_KEEP=1 keeps the work folder (logs); KRAZYBOX_VM_ONLY="1 3" runs
# only those scenarios; BIG_PACKS and BIG_IOPS change scenario 8's repository
# and disk.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
which_arch=${1:-all}
case $which_arch in amd64 | arm64 | all) ;; *)
  echo "usage: scripts/system-test.sh [amd64|arm64|all]" >&2
  exit 2
  ;;
esac
[[ $(id -u) == 0 ]] || { echo "system-test.sh: needs root (loop devices for the btrfs image)" >&2; exit 1; }
cache=${KRAZYBOX_VM_CACHE:-/var/cache/krazybox-vm}
qemu=$cache/qemu/usr
[[ -x $qemu/bin/qemu-system-x86_64 && -s $cache/amd64/kernel && -s $cache/arm64/kernel ]] ||
  { echo "system-test.sh: no VM cache in $cache: run scripts/vm-fetch.sh first" >&2; exit 1; }
export QEMU_MODULE_DIR=$qemu/lib/x86_64-linux-gnu/qemu

work=$(mktemp -d /tmp/krazybox-vm.XXXXXX)
qpids=()
cleanup() {
  for p in "${qpids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  jobs -p | xargs -r kill 2>/dev/null || true
  if [[ -n ${KRAZYBOX_VM_KEEP:-} ]]; then echo "system-test.sh: logs in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

targets=()
[[ $which_arch != arm64 ]] && targets+=(x86_64-unknown-linux-musl)
[[ $which_arch != amd64 ]] && targets+=(aarch64-unknown-linux-musl)
[[ -n ${KRAZYBOX_VM_NO_BUILD:-} ]] || scripts/build.sh "${targets[@]}" >/dev/null

export RESTIC_PASSWORD=system-test RESTIC_CACHE_DIR=$work/restic-cache
user=alice
pass=secret-$RANDOM
uuid_ext4=5a0c1e3d-2b4f-4e6a-8c9d-0e1f2a3b4c5d
# A new one each run: the host's kernel remembers btrfs UUIDs it has seen.
uuid_btrfs=$(cat /proc/sys/kernel/random/uuid)

# --- host-side helpers ------------------------------------------------------

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Data to back up: random (incompressible, no dedup) files under $work/data-NAME.
make_data() { # NAME MiB FILES
  local d=$work/data-$1 i
  mkdir -p "$d"
  for ((i = 0; i < $3; i++)); do head -c $(($2 * 1024 * 1024 / $3)) /dev/urandom >"$d/f$i"; done
  echo "$d"
}

# The folder every disk carries: restic/ with an .htpasswd for $user (bcrypt,
# cost 5: the emulated CPU checks it once a minute at most).
make_tree() {
  local d=$work/tree
  if [[ ! -d $d ]]; then
    mkdir -p "$d/restic"
    "$root/target/x86_64-unknown-linux-musl/release/krazybox" htpasswd -bcB -C 5 "$d/restic/.htpasswd" "$user" "$pass" 2>/dev/null ||
      "$root/target/debug/krazybox" htpasswd -bcB -C 5 "$d/restic/.htpasswd" "$user" "$pass" 2>/dev/null
  fi
  echo "$d"
}

make_ext4() { # IMAGE
  rm -f "$1"
  mkfs.ext4 -q -F -U "$uuid_ext4" -L backup -d "$(make_tree)" "$1" 64M >/dev/null
}

# Two 160 MiB disks, one btrfs (data single, metadata raid1). mkfs.btrfs -r
# takes one device, so the tree is copied in through a mount, under the lock
# the Rust tests hold for loop devices and btrfs registration.
make_btrfs() { # IMAGE1 IMAGE2
  local tree
  tree=$(make_tree)
  rm -f "$1" "$2"
  truncate -s 160M "$1" "$2"
  mkdir -p /run/lock
  flock /run/lock/krazybox-devices.lock bash -euo pipefail -c '
    l1=$(losetup -f --show "$1"); l2=$(losetup -f --show "$2"); m=$(mktemp -d)
    trap "set +e; umount -q \"\$m\"; rmdir \"\$m\"; btrfs device scan -u \"\$l1\" \"\$l2\" 2>/dev/null; losetup -d \"\$l1\" \"\$l2\"" EXIT
    mkfs.btrfs -q -f -U "$3" -L backup -d single -m raid1 "$l1" "$l2" >/dev/null
    mount -t btrfs -o "device=$l1,device=$l2" "$l1" "$m"
    cp -a "$4/." "$m/"' _ "$1" "$2" "$uuid_btrfs" "$tree"
}

# The shared part of a guest's initramfs, once per architecture.
base_cpio() { # ARCH -> path
  local arch=$1 out=$work/base-$1.cpio kb f a
  [[ -s $out ]] && { echo "$out"; return; }
  case $arch in amd64) kb=target/x86_64-unknown-linux-musl/release/krazybox ;; arm64) kb=target/aarch64-unknown-linux-musl/release/krazybox ;; esac
  {
    for d in bin dev proc sys run perm tmp etc etc/gokrazy user usr usr/local usr/local/bin modules; do echo "dir /$d"; done
    echo "nod /dev/console c 5 1"
    echo "file /bin/busybox $cache/$arch/busybox 755"
    echo "link /bin/sh busybox"
    echo "file /init $root/scripts/vm/init 755"
    # As the gokrazy package lays it out: the binary and a link per applet in
    # /usr/local/bin; /user/restic-rest-server stands in for the Go program
    # that execs it. No /user/rest-server: the wrapper runs the native one.
    echo "file /usr/local/bin/krazybox $root/$kb 755"
    for a in restic-rest-server rest-server blkid mount umount htpasswd; do echo "link /usr/local/bin/$a krazybox"; done
    echo "link /user/restic-rest-server /usr/local/bin/restic-rest-server"
    for f in "$cache/$arch"/modules/*.ko "$cache/$arch"/modules/order.*; do echo "file /modules/${f##*/} $f 644"; done
  } | python3 scripts/vm/mkcpio.py "$out"
  echo "$out"
}

# --- one guest --------------------------------------------------------------
# A guest is a folder $g with the console log ($g/console), the monitor's
# output ($g/monitor), fds to the console's and the monitor's input, the qemu
# pid and the forwarded port.

g= gport= gpid= gcon= gmon= garch= gdrive=
declare -a genv=() gflags=() gconf=()

# boot ARCH NAME MODULES DISK... (DISK: IMAGE or "-" for none); uses genv/gflags,
# gconf's lines for init.conf (PERM=, ROOT=; see scripts/vm/init), and gdrive
# (more -drive options, e.g. ",throttling.iops-total=20") for every disk.
boot() {
  garch=$1
  local name=$2 modules=$3 i=0 img
  shift 3
  g=$work/$garch-$name
  mkdir -p "$g"
  printf '%s\n' "${genv[@]}" >"$g/env.txt"
  printf '%s\n' "${gflags[@]}" >"$g/flags.txt"
  printf 'MODULES=%s\nGRACE=20\n' "$modules" >"$g/init.conf"
  printf '%s\n' "${gconf[@]}" >>"$g/init.conf"
  printf 'file /etc/gokrazy/%s %s 644\n' env.txt "$g/env.txt" flags.txt "$g/flags.txt" init.conf "$g/init.conf" |
    python3 scripts/vm/mkcpio.py "$g/conf.cpio"
  cat "$(base_cpio "$garch")" "$g/conf.cpio" >"$g/initrd"
  gport=$(free_port)
  local args=(-m 512 -nodefaults -display none -no-reboot -initrd "$g/initrd"
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$gport-:8000"
    -device virtio-net-pci,netdev=n0,romfile= -device virtio-rng-pci
    -chardev "pipe,id=con,path=$g/con" -serial chardev:con -monitor "pipe:$g/mon")
  case $garch in
    amd64)
      # qboot and the uncompressed kernel (PVH entry): twice as fast as SeaBIOS.
      args=("$qemu/bin/qemu-system-x86_64" -L "$qemu/share/qemu" -M pc,accel=tcg -bios qboot.rom
        -kernel "$cache/amd64/kernel" -append "console=ttyS0 quiet panic=-1" "${args[@]}") ;;
    arm64)
      # Hot-pluggable disks on virt need PCIe root ports made at start.
      args=("$qemu/bin/qemu-system-aarch64" -M virt,accel=tcg -cpu cortex-a72
        -kernel "$cache/arm64/kernel" -append "console=ttyAMA0 quiet panic=-1" "${args[@]}"
        -device pcie-root-port,id=rp1,chassis=1,slot=1 -device pcie-root-port,id=rp2,chassis=2,slot=2
        -device pcie-root-port,id=rp3,chassis=3,slot=3) ;;
  esac
  for img in "$@"; do
    [[ $img == - ]] && continue
    args+=(-drive "file=$img,if=none,id=d$i,format=raw,file.locking=off$gdrive" -device "virtio-blk-pci,drive=d$i,id=vd$i$(bus $((i + 1)))")
    i=$((i + 1))
  done
  rm -f "$g"/con.* "$g"/mon.*
  mkfifo "$g/con.in" "$g/con.out" "$g/mon.in" "$g/mon.out"
  exec {gcon}<>"$g/con.in" {gmon}<>"$g/mon.in"
  cat "$g/con.out" >>"$g/console" &
  cat "$g/mon.out" >>"$g/monitor" &
  "${args[@]}" >"$g/qemu.log" 2>&1 &
  gpid=$!
  qpids+=("$gpid")
}
bus() { [[ $garch == arm64 ]] && echo ",bus=rp$1" || true; } # N -> the root port on arm64

# Seconds until rest-server gives an HTTP answer (any status), or fails after $1 s.
wait_serving() { # TIMEOUT
  local t0 code
  t0=$(now)
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$gport/" 2>/dev/null) || true
    [[ $code != 000 ]] && { since "$t0"; return 0; }
    le "$1" "$(since "$t0")" && return 1
    kill -0 "$gpid" 2>/dev/null || return 1
    sleep 0.1
  done
}
# Seconds until rest-server no longer answers (connection refused or reset).
wait_gone() { # TIMEOUT
  local t0 code
  t0=$(now)
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$gport/" 2>/dev/null) || true
    [[ $code == 000 ]] && { since "$t0"; return 0; }
    le "$1" "$(since "$t0")" && return 1
    sleep 0.1
  done
}
# Waits until the console log has a line matching PATTERN (ERE), after byte OFFSET.
wait_log() { # PATTERN TIMEOUT [OFFSET]
  local t0
  t0=$(now)
  until tail -c +$((${3:-0} + 1)) "$g/console" 2>/dev/null | grep -Eq "$1"; do
    le "$2" "$(since "$t0")" && return 1
    sleep 0.1
  done
}
logsize() { stat -c %s "$g/console" 2>/dev/null || echo 0; }
# Runs a shell command in the guest; prints its output.
grun() { # CMD
  local off
  off=$(logsize)
  echo "run $1" >&"$gcon"
  wait_log '^@@rc [0-9]+' 20 "$off" || return 1
  tail -c +$((off + 1)) "$g/console" | tr -d '\r' | sed '/^@@rc /q' | grep -v '^@@rc \|^init\[\|^INFO \|^WARN \|^ERROR '
}
monitor() { echo "$*" >&"$gmon"; }
# Clean stop: init's shutdown, then qemu's exit.
stop_guest() { # -> 0 when qemu exited within 40 s
  echo stop >&"$gcon"
  local i
  for ((i = 0; i < 400; i++)); do
    kill -0 "$gpid" 2>/dev/null || { wait "$gpid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}
kill_guest() { kill -9 "$gpid" 2>/dev/null || true; wait "$gpid" 2>/dev/null || true; }
close_guest() {
  [[ -n $gpid ]] || return 0
  kill_guest
  exec {gcon}>&- {gmon}>&-
  gpid=
  sleep 0.2
}

repo() { echo "rest:http://$user:$pass@127.0.0.1:$gport/$user/"; }
# restic, bounded: 0.14 retries for 15 minutes when the server is gone.
r() { timeout "${RT:-240}" restic -q -r "$(repo)" "$@" >>"$g/restic.log" 2>&1; }
# The names of the objects of one type in the repository, as the server lists them.
list() { curl -sf --max-time 10 "http://$user:$pass@127.0.0.1:$gport/$user/$1/" | grep -Eo '[0-9a-f]{64}' | sort; }

# The running service's environment, sorted, one variable a line.
service_env() { grun 'tr "\0" "\n" </proc/$(cat /run/service.pid)/environ' | sort; }
# What gokrazy's supervisor gives it: init's own environment (the kernel's
# HOME=/ and TERM=linux), the package's, GOKRAZY_FIRST_START=1 on the first
# start only, then HOME (replacing the kernel's), PATH and USER.
check_env() { # FIRST(1|0)
  local want got
  want=$(printf '%s\n' TERM=linux "${genv[@]}" HOME=/perm/home/restic-rest-server PATH=/user:/gokrazy USER=root)
  [[ $1 == 1 ]] && want+=$'\nGOKRAZY_FIRST_START=1'
  got=$(service_env) || { fail "guest did not answer"; return; }
  [[ $got == "$(sort <<<"$want")" ]] || fail "the service's environment is not gokrazy's: $(tr '\n' ' ' <<<"$got")"
}

# --- scenarios --------------------------------------------------------------

passed=0
failed=0
report() { # RESULT ARCH N NAME DETAILS
  printf '%s %s %s %s: %s\n' "$1" "$2" "$3" "$4" "$5"
  if [[ $1 == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# Runs scenario function $3 for arch $1; it sets $times and, on failure, $why.
run() { # ARCH N FUNCTION NAME
  local t0
  [[ -z ${KRAZYBOX_VM_ONLY:-} || " $KRAZYBOX_VM_ONLY " == *" ${2#6/} "* ]] || return 0
  t0=$(now)
  times= why=
  if "$3" "$1"; then
    report PASS "$1" "$2" "$4" "$times${times:+, }total $(since "$t0") s"
  else
    report FAIL "$1" "$2" "$4" "${why:-failed}; $times${times:+, }total $(since "$t0") s"
    [[ -n $g && -s $g/console ]] && tail -n 15 "$g/console" | sed 's/^/    | /'
  fi
  close_guest 2>/dev/null || true
}
fail() { why="$*"; return 1; }
t() { times+="${times:+, }$1 $2 s"; }

gokrazy_config() { # SOURCE [MORE ENV...]: the configuration of docs/gokrazy.md
  genv=("MNT_SOURCE=$1" "MNT_TARGET=/perm/rest-server" "MNT_DATA=noatime" "MNT_WAIT=60" "${@:2}")
  gflags=(--path /perm/rest-server/restic --private-repos)
}

s_ext4() { # 1
  local img=$work/$1-ext4.img s data
  make_ext4 "$img"
  data=$(make_data small 8 4)
  gokrazy_config "UUID=$uuid_ext4"
  boot "$1" ext4 ext4 "$img"
  s=$(wait_serving 60) || { fail "not serving 60 s after boot"; return; }
  t boot-to-serving "$s"
  wait_log 'mounted /dev/vda .*ext4.* on /perm/rest-server' 1 || { fail "no 'mounted /dev/vda (ext4)' line"; return; }
  check_env 1 || return
  local t0
  t0=$(now)
  r init && r backup "$data" || { fail "restic init/backup failed: $(tail -1 "$g/restic.log")"; return; }
  t backup "$(since "$t0")"
  t0=$(now)
  r check --read-data || { fail "restic check --read-data failed: $(tail -1 "$g/restic.log")"; return; }
  r restore latest --target "$g/restore" && diff -r "$data" "$g/restore$data" >/dev/null ||
    { fail "restore differs from the data"; return; }
  t check+restore "$(since "$t0")"
  t0=$(now)
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
  t stop "$(since "$t0")"
  grep -q 'restic-rest-server exited with status 0' "$g/console" || { fail "the service did not exit 0 on SIGTERM"; return; }
  grep -q 'unmounted /perm/rest-server' "$g/console" && grep -q 'nothing mounted under /perm' "$g/console" ||
    { fail "disk still mounted at power off"; return; }
  e2fsck -fn "$img" >/dev/null 2>&1 || { fail "e2fsck finds the filesystem unclean after the stop"; return; }
}

s_btrfs() { # 2
  local a=$work/$1-btrfs-a.img b=$work/$1-btrfs-b.img s data committed t0 rpid n i
  make_btrfs "$a" "$b" || { fail "could not make the btrfs images"; return; }
  data=$(make_data big "${BIG_MIB:-96}" 6)
  gokrazy_config "UUID=$uuid_btrfs"
  boot "$1" btrfs-1 btrfs "$a" "$b"
  s=$(wait_serving 60) || { fail "not serving 60 s after boot"; return; }
  t boot-to-serving "$s"
  r init || { fail "restic init failed: $(tail -1 "$g/restic.log")"; return; }
  r backup "$(make_data small2 2 2)" || { fail "first backup failed"; return; }
  # The power loss: kill -9 of qemu once the backup has stored a few packs.
  # The client goes with the power: restic itself, killed with qemu.
  (exec restic -q -r "$(repo)" backup "$data" >>"$g/restic.log" 2>&1) &
  rpid=$!
  t0=$(now)
  until (($(list data | wc -l) >= 4)); do
    kill -0 "$rpid" 2>/dev/null || { fail "the backup ended before the power loss could hit it (BIG_MIB too small)"; return; }
    le 120 "$(since "$t0")" && { fail "fewer than 4 packs after 120 s of backup"; return; }
    sleep 0.2
  done
  committed=$(for k in keys data index snapshots; do list "$k" | sed "s|^|$k/|"; done)
  kill_guest
  t backup-until-power-loss "$(since "$t0")"
  kill -9 "$rpid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  close_guest
  # Boot again, the disks in the other order (vda and vdb swap names).
  boot "$1" btrfs-2 btrfs "$b" "$a"
  s=$(wait_serving 60) || { fail "not serving 60 s after the second boot"; return; }
  t boot-to-serving "$s"
  n=$(comm -23 <(echo "$committed") <(for k in keys data index snapshots; do list "$k" | sed "s|^|$k/|"; done) | wc -l)
  ((n == 0)) || { fail "$n committed objects lost after the power loss"; return; }
  # rest-server removes what interrupted uploads left, beside serving: give it 5 s.
  for ((i = 0; i < 10; i++)); do
    n=$(grun 'find /perm/rest-server -name "*.rest-server-temp*" | wc -l') || { fail "guest did not answer"; return; }
    ((n == 0)) && break
    sleep 0.5
  done
  ((n == 0)) || { fail "$n temporary files left after the power loss"; return; }
  t0=$(now)
  r unlock && r check --read-data || { fail "restic check --read-data after the power loss: $(tail -1 "$g/restic.log")"; return; }
  t unlock+check "$(since "$t0")"
  t0=$(now)
  r backup "$(make_data small3 4 2)" && r check || { fail "a backup after the power loss failed"; return; }
  t new-backup "$(since "$t0")"
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
  grep -q 'nothing mounted under /perm' "$g/console" || { fail "disk still mounted at power off"; return; }
}

s_late() { # 3
  local img=$work/$1-late.img s t0 off
  make_ext4 "$img"
  gokrazy_config "UUID=$uuid_ext4"
  boot "$1" late ext4 -
  wait_log 'waiting up to 60s for' 60 || { fail "the wrapper is not waiting for the disk"; return; }
  t0=$(now)
  sleep 10
  off=$(logsize)
  t0=$(now)
  monitor "drive_add 0 file=$img,if=none,id=late,format=raw,file.locking=off"
  monitor "device_add virtio-blk-pci,drive=late,id=vdlate$(bus 1)"
  s=$(wait_serving 30) || { fail "not serving 30 s after the hot-add"; return; }
  t disk-to-serving "$s"
  le "$s" 2 || { fail "serving $s s after the disk appeared (goal 2 s)"; return; }
  wait_log 'mounted /dev/vd' 1 "$off" || { fail "no mount line after the hot-add"; return; }
  r init && r backup "$(make_data small 8 4)" || { fail "restic init/backup on the late disk failed"; return; }
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
  grep -q 'nothing mounted under /perm' "$g/console" || { fail "disk still mounted at power off"; return; }
}

s_pulled() { # 4
  local img=$work/$1-pulled.img s off t0
  make_ext4 "$img"
  gokrazy_config "UUID=$uuid_ext4"
  boot "$1" pulled ext4 "$img"
  s=$(wait_serving 60) || { fail "not serving 60 s after boot"; return; }
  t boot-to-serving "$s"
  r init && r backup "$(make_data small 8 4)" || { fail "restic init/backup failed"; return; }
  off=$(logsize)
  t0=$(now)
  monitor "device_del vd0"
  # Noticed: the service exits 1 (gokrazy restarts it) and rest-server stops answering.
  wait_log 'restic-rest-server exited with status 1' 10 "$off" ||
    { fail "the service did not exit within 10 s of the disk being pulled"; return; }
  s=$(since "$t0")
  t pull-to-exit "$s"
  le "$s" 5 || { fail "the service exited $s s after the disk was pulled (goal 5 s)"; return; }
  wait_gone 3 >/dev/null || { fail "rest-server still answers after the pull"; return; }
  tail -c +$((off + 1)) "$g/console" | grep -q 'vda' || { fail "no log line names the pulled device"; return; }
  grun 'grep -c " /perm/rest-server " /proc/mounts' | grep -qx 0 || { fail "the dead mount is still attached"; return; }
  # Plugged back in, under a new name: a blank disk plugged in first takes vda.
  truncate -s 8M "$work/$1-blank.img"
  monitor "drive_add 0 file=$work/$1-blank.img,if=none,id=blank,format=raw,file.locking=off"
  monitor "device_add virtio-blk-pci,drive=blank,id=vdblank"
  sleep 2
  off=$(logsize)
  t0=$(now)
  monitor "drive_add 0 file=$img,if=none,id=back,format=raw,file.locking=off"
  monitor "device_add virtio-blk-pci,drive=back,id=vdback"
  until curl -sf --max-time 1 -o "$g/config" "http://$user:$pass@127.0.0.1:$gport/$user/config" && [[ -s $g/config ]]; do
    le 30 "$(since "$t0")" && { fail "the repository is not served 30 s after the disk came back"; return; }
    sleep 0.1
  done
  s=$(since "$t0")
  t back-to-serving "$s"
  le "$s" 5 || { fail "serving $s s after the disk came back (goal 5 s)"; return; }
  wait_log 'mounted /dev/vdb ' 1 "$off" || { fail "no 'mounted /dev/vdb' line: the disk did not come back under a new name"; return; }
  check_env 0 || return
  r check && r backup "$(make_data small4 2 2)" || { fail "restic check/backup after the disk came back failed"; return; }
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
}

s_config() { # 5
  local img=$work/$1-config.img t0 n
  make_ext4 "$img"
  gokrazy_config "UUID=$uuid_ext4"
  gflags=(--path /perm/elsewhere --private-repos)
  t0=$(now)
  boot "$1" config ext4 "$img"
  wait_log 'restic-rest-server exited with status' 60 || { fail "the service did not exit within 60 s"; return; }
  t boot-to-exit "$(since "$t0")"
  wait_log 'not restarting restic-rest-server \(status 125\)' 1 || { fail "the service did not exit 125"; return; }
  grep -E '^(ERROR|restic-rest-server:).*--path' "$g/console" >/dev/null || { fail "no log line about --path"; return; }
  sleep 3
  n=$(grep -c 'started restic-rest-server' "$g/console")
  ((n == 1)) || { fail "started $n times"; return; }
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
  grep -q 'nothing mounted under /perm' "$g/console" || { fail "disk still mounted at power off"; return; }
}

s_perm() { # 7
  local perm=$work/$1-perm-partition.img img=$work/$1-perm-disk.img t0 n out
  # The SD card's fourth partition as `gok overwrite --full` leaves it.
  rm -f "$perm"
  truncate -s 16M "$perm"
  make_ext4 "$img"
  gokrazy_config "UUID=$uuid_ext4"
  gconf=(PERM=/dev/vda ROOT=ro)
  t0=$(now)
  boot "$1" perm ext4 "$perm" "$img"
  gconf=()
  wait_log 'restic-rest-server exited with status' 60 || { fail "the service did not exit within 60 s"; return; }
  t boot-to-exit "$(since "$t0")"
  grep -q 'could not mount permanent storage partition /dev/vda as ext4' "$g/console" || { fail "/perm was mounted"; return; }
  wait_log 'not restarting restic-rest-server \(status 125\)' 1 || { fail "the service did not exit 125"; return; }
  grep -q '^restic-rest-server: MNT_TARGET /perm/rest-server cannot be made: nothing is mounted on /perm and /perm is read-only .*format the /perm partition (gokrazy.s mkfs package, or mkfs.ext4 .*) or choose another MNT_TARGET' "$g/console" ||
    { fail "no line saying to format /perm"; return; }
  sleep 3
  n=$(grep -c 'started restic-rest-server' "$g/console")
  ((n == 1)) || { fail "started $n times"; return; }
  # A writable root (as an initramfs gives), /perm still not mounted: gokrazy's
  # HOME says /perm will not come; without it another init may mount it later.
  local run_by_hand='env -i MNT_SOURCE=UUID=0b3c1f0e-6a4e-4c1a-9d1e-000000000000 MNT_TARGET=/perm/rest-server MNT_WAIT=0 PATH=/user:/gokrazy'
  out=$(grun "mount -o remount,rw / && $run_by_hand HOME=/perm/home/restic-rest-server /user/restic-rest-server --path /perm/rest-server/restic; echo status \$?") ||
    { fail "guest did not answer"; return; }
  grep -q 'nothing is mounted on /perm (its partition has no file system?): format the /perm partition' <<<"$out" && grep -qx 'status 125' <<<"$out" ||
    { fail "with gokrazy's HOME, /perm not mounted was not refused: $out"; return; }
  out=$(grun "$run_by_hand HOME=/ /user/restic-rest-server --path /perm/rest-server/restic; echo status \$?") || { fail "guest did not answer"; return; }
  grep -q 'gave up after 0s waiting' <<<"$out" && grep -qx 'status 1' <<<"$out" ||
    { fail "without gokrazy's HOME, /perm not mounted was refused: $out"; return; }
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
}

# The image of scenario 8: the usual tree with alice's repository of $BIG_PACKS
# extra packs, made once a run; each architecture boots a copy.
make_big_ext4() { # IMAGE
  local master=$work/bigrepo.img tree=$work/bigtree
  if [[ ! -s $master ]]; then
    rm -rf "$tree" && cp -a "$(make_tree)" "$tree"
    # Debian's python3-cryptography (.ci/run) where the python3 first on PATH lacks the package.
    local py=python3
    "$py" -c 'import cryptography' 2>/dev/null || py=/usr/bin/python3
    "$py" scripts/vm/restic-repo.py "$tree/restic/$user" "$BIG_PACKS" || return 1
    mkfs.ext4 -q -F -U "$uuid_ext4" -L backup -N $((BIG_PACKS + 30000)) -d "$tree" "$master" 1G >/dev/null || return 1
    rm -rf "$tree"
  fi
  cp --sparse=always "$master" "$1"
}

BIG_PACKS=${BIG_PACKS:-50000} BIG_IOPS=${BIG_IOPS:-20}
s_bigrepo() { # 8
  local img=$work/$1-bigrepo.img s t0 n q
  local -x RESTIC_CACHE_DIR=$work/$1-bigrepo-cache
  t0=$(now)
  make_big_ext4 "$img" || { fail "could not make the repository (python3's cryptography package?)"; return; }
  t make-repository "$(since "$t0")"
  gokrazy_config "UUID=$uuid_ext4"
  # --debug: the server says when it drops a connection. restic would not always:
  # Go's HTTP client silently sends a GET again when a reused connection closes.
  # No scrub: it would read every pack at once (a server that never scrubbed
  # starts at start), and the disk would never be quiet for the cold listing.
  gflags+=(--debug --scrub-interval off)
  gdrive=",throttling.iops-total=$BIG_IOPS"
  boot "$1" bigrepo ext4 "$img"
  gdrive=
  s=$(wait_serving 120) || { fail "not serving 120 s after boot"; return; }
  t boot-to-serving "$s"
  t0=$(now)
  RT=600 r snapshots || { fail "restic snapshots failed: $(tail -1 "$g/restic.log")"; return; }
  t snapshots "$(since "$t0")"
  # The server's walk at start (for what interrupted uploads left) reads the
  # folders: once the disk is quiet, restic's listing runs alone, and cold.
  t0=$(now)
  n=0 q=0
  until ((q >= 3)); do
    s=$(grun 'read -r r _ </sys/block/vda/stat && echo "reads $r"' | sed -n 's/^reads //p')
    [[ -n $s && $s == "$n" ]] && q=$((q + 1)) || q=0
    n=$s
    le 600 "$(since "$t0")" && { fail "the disk is still busy 600 s after boot"; return; }
    sleep 1
  done
  t quiet "$(since "$t0")"
  grun 'echo 3 >/proc/sys/vm/drop_caches && echo dropped' | grep -qx dropped || { fail "the guest did not drop its caches"; return; }
  # restic's own listing of data/: what the idle watchdog once cut at 60 s.
  t0=$(now)
  timeout 900 restic -q -r "$(repo)" list packs >"$g/packs" 2>>"$g/restic.log" ||
    { fail "restic list packs failed: $(tail -1 "$g/restic.log")"; return; }
  t cold-listing "$(since "$t0")"
  n=$(wc -l <"$g/packs")
  ((n > BIG_PACKS)) || { fail "restic listed $n packs, not the $BIG_PACKS and more there are"; return; }
  t0=$(now)
  RT=900 r check || { fail "restic check failed: $(tail -1 "$g/restic.log")"; return; }
  t check "$(since "$t0")"
  t0=$(now)
  RT=900 r backup "$(make_data small5 4 4)" || { fail "a new backup failed: $(tail -1 "$g/restic.log")"; return; }
  t backup "$(since "$t0")"
  # restic retries what fails (a cut connection, a short listing) and says so.
  if grep -Ei 'retrying|connection reset|EOF|broken pipe' "$g/restic.log" >"$g/dropped"; then
    fail "restic saw a dropped connection: $(head -1 "$g/dropped")"
    return
  fi
  if grep -E 'dropping a connection' "$g/console" >"$g/dropped"; then
    fail "the server dropped a connection of restic's: $(head -1 "$g/dropped" | tr -d '\r')"
    return
  fi
  stop_guest || { fail "qemu still running 40 s after stop"; return; }
}

suite_t0=$(now)
if [[ $which_arch != arm64 ]]; then
  run amd64 1 s_ext4 "ext4 by UUID"
  run amd64 2 s_btrfs "btrfs over two disks, power loss, disks swapped"
  run amd64 3 s_late "late disk"
  run amd64 4 s_pulled "pulled disk, plugged back"
  run amd64 5 s_config "configuration error"
  run amd64 7 s_perm "/perm without a file system"
  run amd64 8 s_bigrepo "big repository on a slow disk"
fi
if [[ $which_arch != amd64 ]]; then
  # 6: the Raspberry Pi's shape (aarch64, cortex-a72) runs 1-3, 5 and 8.
  run arm64 6/1 s_ext4 "ext4 by UUID"
  run arm64 6/2 s_btrfs "btrfs over two disks, power loss, disks swapped"
  run arm64 6/3 s_late "late disk"
  run arm64 6/5 s_config "configuration error"
  run arm64 6/8 s_bigrepo "big repository on a slow disk"
fi
echo "suite time $(since "$suite_t0") s"
echo "$passed passed, $failed failed"
((failed == 0))
