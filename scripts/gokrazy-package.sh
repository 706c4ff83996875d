#!/usr/bin/env bash
# Writes a gokrazy Go package that ships krazybox and starts its
# restic-rest-server applet.
#
#   scripts/gokrazy-package.sh [--no-build] MODULE_PATH OUTDIR
#
# gokrazy only runs Go programs, so OUTDIR gets a tiny main.go that replaces
# itself (keeping the supervised PID) with /usr/local/bin/restic-rest-server,
# and the static binaries as extra files, one tar per architecture:
#
#   OUTDIR/go.mod                          module MODULE_PATH
#   OUTDIR/main.go                         syscall.Exec of the applet
#   OUTDIR/_gokrazy/extrafiles_arm64.tar   usr/local/bin/krazybox + a symlink per applet
#   OUTDIR/_gokrazy/extrafiles_amd64.tar   the same for amd64
#
# Tar, not a plain folder: Go module downloads drop the executable bit. The
# archives hold no directories, no hard links and no empty files (gokrazy's
# packer would turn those into empty files), root-owned entries with a fixed
# mtime, so the same binaries give the same bytes.
# --no-build packs the binaries already in target/ (scripts/build.sh).
set -euo pipefail
build=1
if [[ ${1:-} == --no-build ]]; then build=0; shift; fi
(($# == 2)) || { echo "usage: $0 [--no-build] MODULE_PATH OUTDIR" >&2; exit 2; }
module=$1 out=$2
cd "$(dirname "$0")/.."

arm=target/aarch64-unknown-linux-musl/release/krazybox
amd=target/x86_64-unknown-linux-musl/release/krazybox
if ((build)); then
  scripts/build.sh aarch64-unknown-linux-musl x86_64-unknown-linux-musl >/dev/null || exit 1
fi
for b in "$arm" "$amd"; do
  [[ -s $b ]] || { echo "$b is missing: run scripts/build.sh" >&2; exit 1; }
done
# The applet names come from the binary itself; the amd64 one runs here.
list=$("$amd" --list) || { echo "$amd --list failed" >&2; exit 1; }
mapfile -t applets <<<"$list"
((${#applets[@]})) || { echo "$amd --list printed no applets" >&2; exit 1; }

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

python3 - "$out/_gokrazy" "$arm" "$amd" "${applets[@]}" <<'EOF'
import io, sys, tarfile

outdir, arm, amd, applets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
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

for goarch, binary in (("arm64", arm), ("amd64", amd)):
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
