#!/usr/bin/env bash
# Regenerates hot-text.ld (at the repository root, where build.rs reads it),
# the linker script that puts the code the small applets run next to each
# other at the start of the executable.
#
# Why: the kernel maps executable pages 64 KiB at a time around each page a
# process touches. Spread over the 2 MB of a build with the native
# rest-server, the few hundred functions that the restic-rest-server wrapper
# or one `blkid -p` run touch would make most of the file resident; packed into
# one region they cost a few of those 64 KiB windows. That keeps the wrapper
# under its 1 MiB resident budget and cuts page faults from every short run.
#
# How: an unstripped static build runs representative commands under
# valgrind's callgrind; every function that ran is listed, wrapper first, then
# blkid, mount/umount, htpasswd, the dispatcher. Symbol hashes and crate
# disambiguators become wildcards, so the script survives rebuilds and
# changes elsewhere: a function that no longer exists matches nothing, a new
# one lands in the ordinary .text (correct, only less packed). Regenerate it
# when the code the small applets run changes a lot; scripts/wrapper-rss.sh
# shows when it has gone stale.
#
# Why a list of functions and not of modules: a dozen module patterns that
# move the rest-server's crates after everything else were measured with
# scripts/wrapper-rss.sh: the wrapper's VmRSS was 1,300 KiB (over its 1 MiB
# budget) against about 660 KiB with this list, because the std, nix and libc
# code the wrapper runs is spread over all of theirs.
#
# Needs root (loop devices, mount), valgrind, mkfs.ext4 and the tools of
# scripts/make-blkid-images.sh.
#
#   scripts/make-hot-text.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "make-hot-text.sh: run as root (it mounts loop devices)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "make-hot-text.sh: valgrind is needed: apt-get install valgrind" >&2; exit 1; }

target=x86_64-unknown-linux-musl
CARGO_TARGET_DIR=target/hot-text-profile CARGO_PROFILE_RELEASE_STRIP=none \
  cargo build --quiet --release --locked --target "$target"
bin=$(realpath target/hot-text-profile/$target/release/krazybox)

# shellcheck source=scripts/lib/scratch.sh
source scripts/lib/scratch.sh
mkdir "$tmp/out" "$tmp/log" "$tmp/bin"
for applet in restic-rest-server blkid mount umount htpasswd; do ln -s "$bin" "$tmp/bin/$applet"; done

# A profile is only as good as its runs: one that failed ran its error path
# (or a panic), not the code to pack. Every run states the exit status it
# must give; a run that gives another is named with its stderr (or, when it
# printed nothing, valgrind's log), and hot-text.ld is left as it was.
failed=0
# check WANT STATUS LOG CMD...: whether CMD, which wrote LOG.err and
# LOG.valgrind, exited with WANT.
check() {
  local want=$1 status=$2 log=$3; shift 3
  ((status == want)) && return 0
  failed=$((failed + 1))
  echo "make-hot-text.sh: exit status $status, not $want: $*" >&2
  if [[ -s $log.err ]]; then sed 's/^/  | /' "$log.err" >&2; else sed 's/^/  valgrind| /' "$log.valgrind" >&2; fi
  return 1
}

# run WANT GROUP CMD...: CMD under callgrind, its profile filed under GROUP;
# it must exit with status WANT.
n=0
run() {
  local want=$1 group=$2 status=0
  shift 2
  n=$((n + 1))
  valgrind --tool=callgrind --demangle=no --log-file="$tmp/log/$n.valgrind" \
    --callgrind-out-file="$tmp/out/$group.$n" "$@" >/dev/null 2>"$tmp/log/$n.err" || status=$?
  check "$want" "$status" "$tmp/log/$n" "$@" || true
}

# The wrapper: find an ext4 image by UUID, mount it, run a stand-in
# rest-server, stop on SIGTERM, sync and unmount.
truncate -s 32M "$tmp/disk.img"
mkfs.ext4 -q -F -L backup "$tmp/disk.img"
loop=$(losetup -f --show "$tmp/disk.img")
uuid=$(blkid -p -o value -s UUID "$loop")
printf '#!/bin/sh\nexec sleep 30\n' >"$tmp/rest-server"
chmod +x "$tmp/rest-server"
env -i PATH=/usr/bin:/bin REST_SERVER="$tmp/rest-server" MNT_SOURCE="UUID=$uuid" MNT_TARGET="$tmp/mnt" \
  valgrind --tool=callgrind --demangle=no --log-file="$tmp/log/wrapper.0.valgrind" \
  --callgrind-out-file="$tmp/out/wrapper.0" \
  "$tmp/bin/restic-rest-server" --path "$tmp/mnt/restic" >/dev/null 2>"$tmp/log/wrapper.0.err" &
wrapper=$!
for _ in $(seq 200); do
  [[ -n $(cat /proc/$wrapper/task/$wrapper/children 2>/dev/null) ]] && break
  sleep 0.05
done
# Past the first look at the disk under rest-server (once a second).
sleep 1.5
kill -TERM $wrapper 2>/dev/null || true # gone already: its status says why
status=0
wait $wrapper || status=$?
# SIGTERM, forwarded to rest-server, is a clean stop: 0.
check 0 $status "$tmp/log/wrapper.0" restic-rest-server, stopped by SIGTERM || true
# And a restart that finds the filesystem mounted already, with a rest-server
# that exits 3 at once: the wrapper exits with rest-server's status.
mount "$loop" "$tmp/mnt"
printf '#!/bin/sh\nexit 3\n' >"$tmp/rest-server"
status=0
env -i PATH=/usr/bin:/bin REST_SERVER="$tmp/rest-server" MNT_SOURCE="UUID=$uuid" MNT_TARGET="$tmp/mnt" \
  valgrind --tool=callgrind --demangle=no --log-file="$tmp/log/wrapper.1.valgrind" \
  --callgrind-out-file="$tmp/out/wrapper.1" \
  "$tmp/bin/restic-rest-server" --path "$tmp/mnt/restic" >/dev/null 2>"$tmp/log/wrapper.1.err" || status=$?
check 3 $status "$tmp/log/wrapper.1" restic-rest-server, rest-server exiting 3 || true
mountpoint -q "$tmp/mnt" && umount "$tmp/mnt"

# blkid over the differential test images, in the common output modes.
scripts/make-blkid-images.sh "$tmp/images" >/dev/null 2>"$tmp/log/images.err" ||
  { echo "make-hot-text.sh: scripts/make-blkid-images.sh failed:" >&2; cat "$tmp/log/images.err" >&2; exit 1; }
for img in "$tmp"/images/*.img; do
  # Each image's status is util-linux's for it, which tests/blkid/diff.rs
  # holds ours to: 0 found, 2 nothing found (the empty image), 8 ambivalent.
  want=0
  /usr/sbin/blkid -p "$img" >/dev/null 2>&1 || want=$?
  run "$want" blkid "$tmp/bin/blkid" -p "$img"
done
run 0 blkid "$tmp/bin/blkid" "$loop"
run 0 blkid "$tmp/bin/blkid" -o export "$loop"
run 0 blkid "$tmp/bin/blkid" -o udev -p "$loop"
run 0 blkid "$tmp/bin/blkid" -U "$uuid"
run 0 blkid "$tmp/bin/blkid"

run 0 mount "$tmp/bin/mount" UUID="$uuid" "$tmp/mnt"
run 0 mount "$tmp/bin/mount"
run 0 mount "$tmp/bin/umount" "$tmp/mnt"
run 0 mount "$tmp/bin/mount" -o loop,ro "$tmp/disk.img" "$tmp/mnt"
run 0 mount "$tmp/bin/umount" -d "$tmp/mnt"

run 0 htpasswd "$tmp/bin/htpasswd" -nbB -C 4 alice secret
run 0 htpasswd "$tmp/bin/htpasswd" -cbB -C 4 "$tmp/htpasswd" alice secret
run 0 htpasswd "$tmp/bin/htpasswd" -bB -C 4 "$tmp/htpasswd" bob secret
run 0 htpasswd "$tmp/bin/htpasswd" -vb "$tmp/htpasswd" alice secret
run 0 htpasswd "$tmp/bin/htpasswd" -D "$tmp/htpasswd" bob

run 0 dispatch "$bin" --list
run 0 dispatch "$bin" --help

((failed == 0)) || { echo "make-hot-text.sh: $failed runs failed; hot-text.ld is unchanged" >&2; exit 1; }

python3 - "$tmp/out" hot-text.ld <<'PY'
import os, re, sys

out_dir, ld = sys.argv[1], sys.argv[2]
groups = ["wrapper", "blkid", "mount", "htpasswd", "dispatch"]
names = {g: set() for g in groups}
fn = re.compile(r"^c?fn=\(\d+\) (\S+)")
for f in os.listdir(out_dir):
    group = f.split(".")[0]
    for line in open(os.path.join(out_dir, f), errors="replace"):
        m = fn.match(line)
        if m:
            names[group].add(re.sub(r"'\d+$", "", m.group(1)))

def glob(name):
    """The symbol with its build-specific parts as wildcards, or None."""
    if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", name):
        return None  # addresses, "(below main)"
    # Legacy mangling ends in a hash of the instance: 17h<16 hex digits>E.
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h*E", name)
    if name.startswith("_R"):
        # v0 mangling: crate disambiguators, and back-references whose
        # offsets move when a disambiguator's length does.
        name = re.sub(r"Cs[0-9A-Za-z]*_(?=\d)", "Cs*_", name)
        name = re.sub(r"(?<![0-9])B[0-9A-Za-z]*_", "B*_", name)
    # A local symbol made unique by LLVM (".347") is numbered anew each build.
    return re.sub(r"\.\d+$", "*", name)

def idents(name):
    """Every identifier the symbol's path may hold: the name itself, and what
    follows each run of digits, read as its length (v0 may put a _ between)."""
    found = {name}
    for m in re.finditer(r"(?<![0-9])[0-9]+", name):
        n, rest = int(m.group()), name[m.end() :]
        found.update([rest[:n], rest[1 : n + 1]] if rest.startswith("_") else [rest[:n]])
    return found

def shown(name):
    """A legacy-mangled symbol as its path, a::b::c; any other as it is."""
    parts, i = [], 3
    while name.startswith("_ZN") and i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        parts.append(name[j : j + int(name[i:j])])
        i = j + int(name[i:j])
    return "::".join(parts) or name

# What only runs once something has panicked: the panic hook and handler, the
# backtrace printer, unwrap's and expect's failures. A run that printed a
# panic profiled these instead of its own work (with the exit status it was
# told, even: panic=abort kills with SIGABRT, which a caller may expect).
PANIC_MODULES = {"panicking", "backtrace", "backtrace_rs"}
PANIC_FUNCTIONS = {"rust_panic", "__rust_start_panic", "rust_begin_unwind", "unwrap_failed", "expect_failed"}
# The frame marker every main and every thread start runs through.
NOT_PANIC = {"__rust_begin_short_backtrace"}

def panic_machinery(name):
    found = idents(name)
    return not NOT_PANIC & found and bool((PANIC_MODULES | PANIC_FUNCTIONS) & found)

panics = [(g, shown(name)) for g in groups for name in sorted(names[g]) if panic_machinery(name)]
if panics:
    print(f"make-hot-text.sh: the profile holds functions of the panic machinery ({len(panics)}),"
          " the sign of a run that panicked; hot-text.ld is unchanged:", file=sys.stderr)
    for g, p in panics:
        print(f"  {g}: {p}", file=sys.stderr)
    sys.exit(1)

seen, lines = set(), []
for g in groups:
    for name in sorted(names[g]):
        pattern = glob(name)
        if pattern and pattern not in seen:
            seen.add(pattern)
            # LLVM puts functions it deems cold (#[cold]) in .text.unlikely.*.
            lines.append(f"    *(.text.{pattern} .text.unlikely.{pattern})\n")
with open(ld, "w") as f:
    f.write("/* Generated by scripts/make-hot-text.sh: the functions the small applets\n")
    f.write("   run, packed before the rest of the code. Do not edit by hand. */\n")
    f.write("SECTIONS\n{\n  .text.hot : {\n")
    # musl's entry point, which has no section of its own.
    f.write("    *crt1.o(.text)\n")
    f.writelines(lines)
    f.write("  }\n}\nINSERT BEFORE .text;\n")
print(f"{ld}: {len(lines)} functions", file=sys.stderr)
PY
