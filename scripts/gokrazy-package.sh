#!/usr/bin/env bash
# Writes a gokrazy Go package that ships krazybox and starts its
# restic-rest-server applet.
#
#   scripts/gokrazy-package.sh [--no-build] [--arch arm64|amd64] MODULE_PATH OUTDIR
#
# gokrazy only runs Go programs, so OUTDIR gets a tiny main.go that replaces
# itself (keeping the supervised PID) with /usr/local/bin/restic-rest-server,
# and the static binaries as extra files, one tar per architecture asked for
# (--arch, repeated or comma-separated; both by default):
#
#   OUTDIR/go.mod                          module MODULE_PATH
#   OUTDIR/main.go                         syscall.Exec of the applet
#   OUTDIR/_gokrazy/extrafiles_arm64.tar   usr/local/bin/krazybox + a symlink per applet
#   OUTDIR/_gokrazy/extrafiles_amd64.tar   the same for amd64
#
# A tar of an architecture not asked for is removed from OUTDIR: an image for
# that architecture fails to build instead of shipping an old binary.
#
# Tar, not a plain folder: Go module downloads drop the executable bit. The
# archives hold no directories, no hard links and no empty files (gokrazy's
# packer would turn those into empty files), root-owned entries with a fixed
# mtime, so the same binaries give the same bytes.
# --no-build packs the binaries already in target/ (scripts/build.sh).
set -euo pipefail
usage="usage: $0 [--no-build] [--arch arm64|amd64] MODULE_PATH OUTDIR"
build=1
archs=()
while (($#)); do
  case $1 in
    --no-build) build=0; shift ;;
    --arch)
      (($# >= 2)) || { echo "$usage" >&2; exit 2; }
      IFS=, read -ra words <<<"$2"
      for a in "${words[@]}"; do
        case $a in arm64 | amd64) [[ " ${archs[*]} " == *" $a "* ]] || archs+=("$a") ;;
          *) echo "gokrazy-package.sh: unknown architecture '$a': arm64 or amd64" >&2; exit 2 ;;
        esac
      done
      shift 2 ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# == 2)) || { echo "$usage" >&2; exit 2; }
((${#archs[@]})) || archs=(arm64 amd64)
module=$1 out=$2
cd "$(dirname "$0")/.."

declare -A rust_target=([arm64]=aarch64-unknown-linux-musl [amd64]=x86_64-unknown-linux-musl)
targets=() binaries=()
for a in "${archs[@]}"; do
  targets+=("${rust_target[$a]}")
  binaries+=("target/${rust_target[$a]}/release/krazybox")
done
if ((build)); then
  scripts/build.sh "${targets[@]}" >/dev/null || exit 1
fi
for b in "${binaries[@]}"; do
  [[ -s $b ]] || { echo "$b is missing: run scripts/build.sh ${targets[*]}" >&2; exit 1; }
done
# The applet names come from the binary itself: one that runs here, directly
# or through qemu-user (an arm64-only package made on a PC).
list=
for b in "${binaries[@]}"; do
  list=$("$b" --list 2>/dev/null) && break
  q=$(command -v qemu-aarch64-static || command -v qemu-aarch64) &&
    [[ $b == *aarch64* ]] && list=$("$q" "$b" --list 2>/dev/null) && break
done
[[ -n $list ]] || { echo "cannot run ${binaries[*]} here to list its applets (qemu-user-static for arm64)" >&2; exit 1; }
mapfile -t applets <<<"$list"

mkdir -p "$out/_gokrazy"
cat >"$out/go.mod" <<EOF
module $module

go 1.19
EOF

cat >"$out/main.go" <<'EOF'
// Command restic-rest-server starts krazybox's restic-rest-server applet
// under gokrazy: it mounts the backup disk named in MNT_SOURCE on MNT_TARGET,
// runs rest-server with this program's flags, and unmounts when it stops.
//
// gokrazy supervises Go programs only; this one replaces itself with the
// static krazybox binary shipped in _gokrazy/extrafiles_<GOARCH>.tar, which
// keeps the supervised PID, the flags and the environment.
package main

import (
	"fmt"
	"os"
	"syscall"
)

const applet = "/usr/local/bin/restic-rest-server"

func main() {
	argv := append([]string{"restic-rest-server"}, os.Args[1:]...)
	err := syscall.Exec(applet, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "restic-rest-server: exec %s: %v\n", applet, err)
	// 125 stops gokrazy from restarting: the package is broken, not the disk.
	os.Exit(125)
}
EOF

for a in arm64 amd64; do
  [[ " ${archs[*]} " == *" $a "* ]] || rm -f "$out/_gokrazy/extrafiles_$a.tar"
done
pairs=()
for i in "${!archs[@]}"; do pairs+=("${archs[$i]}=${binaries[$i]}"); done
python3 - "$out/_gokrazy" "${#pairs[@]}" "${pairs[@]}" "${applets[@]}" <<'EOF'
import io, sys, tarfile

outdir, n = sys.argv[1], int(sys.argv[2])
pairs, applets = [p.split("=", 1) for p in sys.argv[3 : 3 + n]], sys.argv[3 + n :]
MTIME = 946684800  # 2000-01-01: fixed, so that equal binaries give equal archives
BIN = "usr/local/bin/"

def entry(name, **kw):
    t = tarfile.TarInfo(name)
    t.uid = t.gid = 0
    t.uname = t.gname = "root"
    t.mtime = MTIME
    for k, v in kw.items():
        setattr(t, k, v)
    return t

for goarch, binary in pairs:
    data = open(binary, "rb").read()
    path = f"{outdir}/extrafiles_{goarch}.tar"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(entry(BIN + "krazybox", size=len(data), mode=0o755), io.BytesIO(data))
        for name in applets:
            if name == "krazybox" or "/" in name:
                sys.exit(f"bad applet name {name!r}")
            tar.addfile(entry(BIN + name, type=tarfile.SYMTYPE, linkname="krazybox", mode=0o777))
    print(path)
EOF
echo "$out/go.mod"
echo "$out/main.go"
