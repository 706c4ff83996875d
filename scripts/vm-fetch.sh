#!/usr/bin/env bash
# Fetches what scripts/system-test.sh boots: qemu 7.2 for x86_64 and aarch64,
# Debian's amd64 and arm64 kernels with the modules the guests load, and
# busybox-static for both, into a cache folder. Idempotent: a rerun with a
# complete cache does nothing.
#
#   scripts/vm-fetch.sh [CACHE]       (root; CACHE defaults to $KRAZYBOX_VM_CACHE
#                                      or /var/cache/krazybox-vm)
#
# Debian 12's qemu-system-x86/-arm (7.2) conflict with a newer qemu-utils from
# backports, so the qemu .debs are unpacked into the cache (`dpkg-deb -x`), not
# installed; only their shared libraries are installed, which conflict with
# nothing. Nothing arm64 is installed on the host: the arm64 kernel and busybox
# are downloaded (`dpkg --add-architecture arm64` lets apt find them) and
# unpacked. The kernel .debs carry no modules.dep: depmod runs on the unpacked
# tree and `modprobe --show-depends` gives the load order.
#
# Layout: CACHE/qemu/usr/bin/qemu-system-{x86_64,aarch64}, CACHE/qemu/usr/share/qemu;
# CACHE/ARCH/{kernel,busybox,release,modules/*.ko,modules/order.ext4,modules/order.btrfs}.
set -euo pipefail
cache=${1:-${KRAZYBOX_VM_CACHE:-/var/cache/krazybox-vm}}
[[ $(id -u) == 0 ]] || { echo "vm-fetch.sh: needs root (apt-get)" >&2; exit 1; }
mkdir -p "$cache"
export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() { [[ -n $updated ]] || { apt-get update -qq; updated=1; }; }

# The modules each guest needs, by what it mounts; dependencies are added by
# modprobe. virtio_rng: rest-server's start waits for the kernel's random pool,
# which a Raspberry Pi's hardware RNG fills at once and an emulated CPU alone
# takes seconds to.
mods_ext4=(virtio_pci virtio_blk virtio_net virtio_rng ext4)
mods_btrfs=("${mods_ext4[@]}" btrfs)

have_libs() { "$cache/qemu/usr/bin/qemu-system-x86_64" --version >/dev/null 2>&1 &&
  "$cache/qemu/usr/bin/qemu-system-aarch64" --version >/dev/null 2>&1; }

# Host tools: depmod/modprobe (kmod); python3 uncompresses the x86 kernel.
command -v depmod >/dev/null || { apt_update; apt-get install -y -qq --no-install-recommends kmod >/dev/null; }

dl=$cache/debs
mkdir -p "$dl"
download() { # PACKAGE... into $dl (apt-get download writes to the current folder)
  local out
  # Quiet when it works (apt warns that root downloads unsandboxed); all of it when not.
  out=$(cd "$dl" && apt-get download -qq "$@" 2>&1) || { echo "$out" >&2; return 1; }
}

if [[ ! -x $cache/qemu/usr/bin/qemu-system-x86_64 || ! -x $cache/qemu/usr/bin/qemu-system-aarch64 ||
  ! -e $cache/qemu/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so ]]; then
  apt_update
  rm -rf "$cache/qemu" "$dl"/qemu-system-*.deb
  download qemu-system-x86 qemu-system-arm qemu-system-common qemu-system-data
  for d in "$dl"/qemu-system-*.deb; do dpkg-deb -x "$d" "$cache/qemu"; done
  rm -f "$dl"/qemu-system-*.deb
fi
if ! have_libs; then
  # Every library the qemu packages depend on, nothing of qemu itself.
  apt_update
  libs=$(apt-cache depends qemu-system-x86 qemu-system-arm qemu-system-common 2>/dev/null |
    awk '/^ *Depends:/ && $2 !~ /^(qemu-|seabios|ipxe|<)/ { print $2 }' | sort -u)
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $libs >/dev/null
  have_libs || { echo "vm-fetch.sh: qemu from $cache/qemu does not run:" >&2
    "$cache/qemu/usr/bin/qemu-system-x86_64" --version >&2; exit 1; }
fi

for arch in amd64 arm64; do
  out=$cache/$arch
  [[ -s $out/release && -s $out/kernel && -x $out/busybox &&
    $(cat "$out/modules/wanted" 2>/dev/null) == "${mods_btrfs[*]}" ]] && continue
  [[ $arch == amd64 ]] || dpkg --print-foreign-architectures | grep -qx arm64 || {
    dpkg --add-architecture arm64; updated=; }
  apt_update
  # The kernel the metapackage names today (linux-image-6.1.0-NN-ARCH).
  kpkg=$(apt-cache depends "linux-image-$arch:$arch" | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  kpkg=${kpkg%:*}
  [[ -n $kpkg ]] || { echo "vm-fetch.sh: no kernel package found for $arch" >&2; exit 1; }
  release=${kpkg#linux-image-}
  rm -rf "$out" "$dl/unpack"
  mkdir -p "$out/modules" "$dl/unpack"
  download "$kpkg:$arch" "busybox-static:$arch"
  dpkg-deb -x "$(ls "$dl"/"${kpkg}"_*_"$arch".deb)" "$dl/unpack/k"
  dpkg-deb -x "$(ls "$dl"/busybox-static_*_"$arch".deb)" "$dl/unpack/b"
  cp "$dl/unpack/b/bin/busybox" "$out/busybox"
  vmlinuz=$dl/unpack/k/boot/vmlinuz-$release
  if [[ $arch == amd64 ]]; then
    # The uncompressed ELF kernel boots straight from qboot (PVH entry),
    # about twice as fast as SeaBIOS and the bzImage.
    python3 - "$vmlinuz" "$out/kernel.tmp" <<'PY'
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
kernel = lzma.LZMADecompressor().decompress(data[start:]) if start >= 0 else b""
if kernel[:4] != b"\x7fELF":
    sys.exit(f"vm-fetch.sh: no xz-compressed ELF kernel in {sys.argv[1]}")
open(sys.argv[2], "wb").write(kernel)
PY
    mv "$out/kernel.tmp" "$out/kernel"
  else
    cp "$vmlinuz" "$out/kernel" # an uncompressed arm64 Image already
  fi
  depmod -b "$dl/unpack/k" "$release"
  for set in ext4 btrfs; do
    declare -n want=mods_$set
    for m in "${want[@]}"; do
      modprobe -d "$dl/unpack/k" -S "$release" --show-depends "$m"
    done | awk '$1 == "insmod" { n = split($2, p, "/"); if (!seen[p[n]]++) print p[n] }' >"$out/modules/order.$set"
    unset -n want
  done
  while read -r ko; do
    find "$dl/unpack/k/lib/modules/$release" -name "$ko" -exec cp {} "$out/modules/" \;
  done <"$out/modules/order.btrfs"
  echo "${mods_btrfs[*]}" >"$out/modules/wanted"
  echo "$release" >"$out/release"
  rm -rf "$dl/unpack" "$dl"/linux-image-*.deb "$dl"/busybox-static_*.deb
done
du -sh "$cache" | awk '{ print "vm-fetch.sh: " $2 " ready (" $1 ")" }'
