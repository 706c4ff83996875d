# Sourced by scripts that mount: a scratch folder $tmp with a mount point
# $tmp/mnt, and $loop for the loop device they attach. On exit the mount is
# undone, the loop device detached and the folder removed, even after errors.
tmp=$(mktemp -d)
loop=
mkdir "$tmp/mnt"
cleanup() {
  mountpoint -q "$tmp/mnt" 2>/dev/null && umount "$tmp/mnt"
  [[ -n $loop ]] && losetup -d "$loop"
  rm -rf "$tmp"
}
trap cleanup EXIT
