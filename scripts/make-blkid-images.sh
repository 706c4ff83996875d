#!/bin/bash
# make-blkid-images.sh DIR: small disk images made by the real mkfs tools, for
# comparing `krazybox blkid` with util-linux blkid on the same bytes.
#
# Every type whose tool is installed gets one or more images, with labels that
# exercise the output encoders (spaces, quotes, backslashes, `$`, tabs, UTF-8,
# maximum lengths) and varied block sizes. Images are sparse files; UUIDs are
# random, which is fine because both blkids always read the same image.
# A type whose tool is missing or fails is reported on stderr and skipped.
# Needs root only for LVM (pvcreate wants a block device: a loop device that is
# detached again before the script ends).
set -u
dir=${1:?usage: make-blkid-images.sh DIR}
mkdir -p "$dir"
cd "$dir" || exit 1
export LC_ALL=C.UTF-8

key=$dir/luks.key
printf 'krazybox-test-key' >"$key"
loops=()
cleanup() {
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	rm -rf "$dir/tree" "$key"
}
trap cleanup EXIT

# img NAME SIZE CMD...: a fresh sparse file NAME.img of SIZE, then CMD with the
# image path in place of the word IMG; the image is removed if CMD fails.
img() {
	local name=$1 size=$2
	shift 2
	local f=$dir/$name.img args=() a
	for a in "$@"; do
		if [ "$a" = IMG ]; then args+=("$f"); else args+=("$a"); fi
	done
	if ! command -v "${args[0]}" >/dev/null; then
		echo "skip $name: ${args[0]} not installed" >&2
		return 1
	fi
	rm -f "$f"
	truncate -s "$size" "$f"
	if ! "${args[@]}" >"$dir/$name.log" 2>&1; then
		echo "skip $name: ${args[*]} failed:" >&2
		sed 's/^/    /' "$dir/$name.log" >&2
		rm -f "$f"
		return 1
	fi
	rm -f "$dir/$name.log"
}

# A small tree for the image-building tools that pack files.
mkdir -p tree/sub
printf 'hello\n' >tree/hello.txt
printf 'x%.0s' $(seq 1 5000) >tree/sub/big.txt

# ext2/3/4 and an external journal, with 1, 2 and 4 KiB blocks.
img ext2 4M mkfs.ext2 -q -F -b 1024 -L 'ext2 label' IMG
img ext3 8M mkfs.ext3 -q -F -b 2048 -L "$(printf 'tab\there')" IMG
img ext4 16M mkfs.ext4 -q -F -b 4096 -L 'a b"c\$' IMG
img ext4-utf8 8M mkfs.ext4 -q -F -b 1024 -L 'Grüße €' IMG
img ext4-maxlabel 8M mkfs.ext4 -q -F -L '0123456789abcdef' IMG
img ext4-shell 8M mkfs.ext4 -q -F -L "\$H 'q' <x> \`b\`" IMG
img ext4-nolabel 8M mkfs.ext4 -q -F IMG
img jbd 4M mke2fs -q -F -O journal_dev -b 1024 -L 'ext journal' IMG

# FAT12, FAT16, FAT32 (32 MiB is the smallest FAT32 mkfs.fat makes without complaint).
img vfat-fat12 2M mkfs.fat -F 12 -n 'FAT12LBL' IMG
img vfat-fat16 20M mkfs.fat -F 16 -n 'MY DISK' -i 1234ABCD IMG
img vfat-fat32 40M mkfs.fat -F 32 -n 'EFI SYS' -S 4096 IMG
img vfat-nolabel 2M mkfs.fat IMG
img exfat 8M mkfs.exfat -L 'exFAT Ü' IMG
img exfat-nolabel 8M mkfs.exfat IMG

# Filesystems with larger minimum sizes (sparse, so they cost little).
img btrfs 128M mkfs.btrfs -q -f -L 'btrfs label with spaces' IMG
img btrfs-maxlabel 128M mkfs.btrfs -q -f -L "$(printf 'L%.0s' $(seq 1 255))" IMG
img xfs 320M mkfs.xfs -q -f -L 'xfs "l\b"' IMG
img xfs-4k 320M mkfs.xfs -q -f -b size=4096 -s size=4096 IMG
img ntfs 8M mkntfs -q -F -f -L 'NTFS Ünïcøde label' IMG
img ntfs-4k 8M mkntfs -q -F -f -s 4096 -c 4096 IMG
img f2fs 64M mkfs.f2fs -q -l 'f2fs label' IMG
img nilfs2 136M mkfs.nilfs2 -q -f -L 'nilfs label' IMG
img jfs 32M mkfs.jfs -q -L 'jfs label' IMG
img reiserfs 40M mkfs.reiserfs -q -f -l 'reiser label' IMG

# Swap, with and without label.
img swap 1M mkswap -L 'swap lbl' IMG
img swap-nolabel 1M mkswap IMG

# Read-only and optical formats built from the tree.
img squashfs 0 mksquashfs tree IMG -noappend -quiet
img erofs 0 mkfs.erofs --quiet IMG tree
img iso9660 0 xorriso -as mkisofs -quiet -J -V 'ISO LABEL 1' -o IMG tree
img iso9660-joliet-utf8 0 xorriso -as mkisofs -quiet -J -joliet-long -input-charset utf-8 -V 'Grüße' -o IMG tree
img udf 8M mkudffs --utf8 --media-type=hd --label='UDF label é' IMG
img udf-4k 8M mkudffs --media-type=hd --blocksize=4096 --label='udf4k' IMG

# Older and rarer filesystems (util-linux-extra, genromfs, ocfs2-tools,
# gfs2-utils, mtd-utils, makefs). minix and bfs have no label blkid reports.
img minix-v1 4M mkfs.minix -1 -n 30 IMG
img minix-v2 4M mkfs.minix -2 IMG
img minix-v3 4M mkfs.minix -3 IMG
img bfs 4M mkfs.bfs -V vol -F fsname IMG
img cramfs 0 mkfs.cramfs -n 'cram label' tree IMG
img cramfs-be 0 mkfs.cramfs -N big -n "Big \"endian\"" tree IMG
padded() { # padded SIZE CMD...: CMD makes an image smaller than blkid looks at; pad it
	local size=$1 f=${*: -1}
	"${@:2}" && truncate -s "$size" "$f"
}
img romfs 0 padded 2M genromfs -d tree -V 'rom fs label' -f IMG
img romfs-nolabel 0 padded 2M genromfs -d tree -f IMG
img ocfs2 64M mkfs.ocfs2 -q -F -M local -L 'ocfs2 label' -b 4096 IMG
img ocfs2-1k 64M mkfs.ocfs2 -q -F -M local -N 2 -b 1024 IMG
img gfs2 64M mkfs.gfs2 -O -p lock_nolock -t 'clu:gfs_lbl' -j 1 -J 8 IMG
img ubifs 0 mkfs.ubifs -r tree -m 2048 -e 129024 -c 32 -o IMG
img ufs1 0 makefs -t ffs -o version=1 -s 4m IMG tree
img ufs2-be 0 makefs -t ffs -B be -o version=2 -s 4m IMG tree

# Two signatures, one written over the unused start of another. Both count
# (cramfs or romfs over ext4 or minix: ambivalent, exit 8), unless the device
# is floppy-sized (the first in libblkid's order wins) or one is crypto (LUKS
# ends the search before minix is looked at).
over() { # over DEST BYTES MKFS...: MKFS makes a second image whose first BYTES go over DEST
	local dest=$1 bytes=$2 src=$1.src
	shift 2
	rm -f "$src" && truncate -s 4M "$src" && "$@" "$src" >/dev/null &&
		dd if="$src" of="$dest" bs="$bytes" count=1 conv=notrunc status=none
	local rc=$?
	rm -f "$src"
	return $rc
}
cramfs_of() { rm -f "$1" && mkfs.cramfs -n 'over' tree "$1"; }
romfs_of() { genromfs -d tree -V 'over' -f "$1"; }
luks_of() { cryptsetup luksFormat -q --key-file "$key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --type luks1 "$1"; }
two_cramfs_ext4() { mkfs.ext4 -q -F -L 'under' "$1" && over "$1" 512 cramfs_of; }
two_romfs_minix() { mkfs.minix -2 "$1" && over "$1" 512 romfs_of; }
two_floppy() { mkfs.minix -1 "$1" && over "$1" 512 cramfs_of; }
two_luks_minix() { mkfs.minix -3 "$1" && over "$1" 592 luks_of; }
img two-cramfs-ext4 8M two_cramfs_ext4 IMG
img two-romfs-minix 4M two_romfs_minix IMG
img two-floppy-cramfs-minix 1M two_floppy IMG
img two-luks-minix 4M two_luks_minix IMG

# LUKS: PBKDF2 with the minimum iterations, so this stays fast.
luks=(cryptsetup luksFormat -q --key-file "$key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000)
img luks1 4M "${luks[@]}" --type luks1 IMG
img luks2 20M "${luks[@]}" --type luks2 --label 'crypt lbl' --subsystem 'my sub' IMG

# LVM2: pvcreate refuses regular files, so go through a loop device.
lvm_pv() {
	local f=$1 l
	l=$(losetup -f --show "$f") || return 1
	loops+=("$l")
	pvcreate -q -ff -y --config 'devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 }' "$l"
	local rc=$?
	losetup -d "$l"
	return $rc
}
img lvm2 8M lvm_pv IMG
# A table written over a PV later (sfdisk keeps the LVM label): libblkid
# drops the PV for a dos table in the area pvcreate wiped, keeps it for an
# empty MBR, and reports both with a protective MBR.
lvm_then_table() { # lvm_then_table IMAGE SFDISK-SCRIPT
	lvm_pv "$1" && printf '%b' "$2" | sfdisk -q --wipe never "$1"
}
img lvm2-then-dos 8M lvm_then_table IMG 'label: dos\nlabel-id: 0x1f2e3d4c\nstart=2048, size=4096, type=83\n'
img lvm2-then-empty-mbr 8M lvm_then_table IMG 'label: dos\nlabel-id: 0x1f2e3d4c\n'
img lvm2-then-pmbr 8M lvm_then_table IMG 'label: dos\nstart=1, type=ee\n'

# Two signatures that conflict: a squashfs superblock written over the unused
# boot area of an ext4 filesystem.
ambivalent() {
	mkfs.ext4 -q -F "$1" && mksquashfs tree "$1.sq" -noappend -quiet &&
		dd if="$1.sq" of="$1" bs=512 count=1 conv=notrunc status=none
	local rc=$?
	rm -f "$1.sq"
	return $rc
}
img ambivalent 8M ambivalent IMG

# Nothing at all.
img empty 1M true

# RAID and volume-manager members. drbdmeta and veritysetup write real
# metadata into files; firmware-RAID metadata has no tool here (mdadm needs
# the kernel's md driver for IMSM and DDF), so its signature is written by hand
# over a real ext4: libblkid reports the RAID member and never the ext4 inside.
img raid-drbd-v08 8M drbdmeta --force 0 v08 IMG internal create-md
img raid-drbd-v09 8M drbdmeta --force 0 v09 IMG internal create-md 2
verity_hash() {
	truncate -s 4M "$1.data" && veritysetup format "$1.data" "$1" --uuid=0b1e55ed-1234-4cde-8f00-0123456789ab
	local rc=$?
	rm -f "$1.data"
	return $rc
}
img raid-verity 0 verity_hash IMG
ubi_image() { # a UBI image padded past floppy size (libblkid skips RAIDs on smaller devices)
	printf 'krazybox' >"$1.vol" &&
		printf '[v]\nmode=ubi\nimage=%s\nvol_id=0\nvol_type=static\nvol_name=kbx\n' "$1.vol" >"$1.ini" &&
		ubinize -o "$1" -m 2048 -p 128KiB -s 512 -Q 4242 "$1.ini" && truncate -s 2M "$1"
	local rc=$?
	rm -f "$1.vol" "$1.ini"
	return $rc
}
img raid-ubi 0 ubi_image IMG
at_end() { # at_end FILE BYTES_FROM_END TEXT: TEXT written that far before the end
	local size
	size=$(stat -c %s "$1") &&
		printf '%b' "$3" | dd of="$1" bs=1 seek=$((size - $2)) conv=notrunc status=none
}
isw_over_ext4() { # isw_over_ext4 IMAGE [LABEL]
	mkfs.ext4 -q -F -L "${2:-inside raid}" "$1" && at_end "$1" 1024 'Intel Raid ISM Cfg Sig. 1.1.00'
}
img raid-isw-ext4 8M isw_over_ext4 IMG
jmicron_over_ext4() {
	mkfs.ext4 -q -F -L 'inside jm' "$1" && at_end "$1" 512 'JM\x01\x02'
}
img raid-jmicron-ext4 8M jmicron_over_ext4 IMG
# Members that do not end the search: a VDO header (usage "other") or a DRBD
# Proxy data log (which libblkid counts as a filesystem) over an ext4 is ambivalent.
over_ext4() { # over_ext4 IMAGE TEXT: TEXT at the start of a fresh ext4
	mkfs.ext4 -q -F "$1" && printf '%b' "$2" | dd of="$1" conv=notrunc status=none
}
img raid-amb-vdo-ext4 8M over_ext4 IMG 'dmvdo001'
img raid-amb-datalog-ext4 8M over_ext4 IMG 'DRBDdlh*\x01'

# Partitioned disks: filesystems are made in separate images and copied into
# their partitions, so no loop devices are needed here. They hold ext
# filesystems and empty partitions; the other types have images of their own.
part_fs() { # part_fs OUT SIZE CMD... : a filesystem image for a partition
	img "$@" && mv "$dir/$1.img" "$dir/$1.part"
}
copy_into() { # copy_into DISK PART START_SECTOR
	[ -f "$2" ] && dd if="$2" of="$1" bs=512 seek="$3" conv=notrunc,sparse status=none
	rm -f "$2"
}
part_fs p-ext4 8M mkfs.ext4 -q -F -L 'gpt root' IMG
part_fs p-ext2 8M mkfs.ext2 -q -F -b 2048 -L 'GPT "2"' IMG
part_fs p-jbd 4M mke2fs -q -F -O journal_dev -L 'gpt journal' IMG
gpt() {
	sfdisk -q "$1" <<-EOF
		label: gpt
		label-id: 4A2F5F63-1D6B-4C8A-9E0B-2B4F3C1D0E5A
		start=2048, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root part", uuid=3F1B2C4D-5E6F-4A8B-9C0D-1E2F3A4B5C6D
		start=18432, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
		start=34816, size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
		start=43008, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, attrs="LegacyBIOSBootable"
	EOF
	# The script syntax has no escape for a quote inside a name.
	sfdisk -q --part-label "$1" 2 'EFI "sys" \ é'
}
if img gpt 24M gpt IMG; then
	copy_into gpt.img p-ext4.part 2048
	copy_into gpt.img p-ext2.part 18432
	copy_into gpt.img p-jbd.part 34816
fi
part_fs m-ext4 8M mkfs.ext4 -q -F -b 1024 -L 'mbr one' IMG
part_fs m-ext3 4M mkfs.ext3 -q -F -L 'logical' IMG
mbr() {
	sfdisk -q "$1" <<-EOF
		label: dos
		label-id: 0x1a2b3c4d
		start=2048, size=16384, type=83, bootable
		start=18432, size=20480, type=5
		start=20480, size=8192, type=6
		start=30720, size=4096, type=82
		start=40960, size=4096, type=83
	EOF
}
if img mbr 24M mbr IMG; then
	copy_into mbr.img m-ext4.part 2048
	copy_into mbr.img m-ext3.part 20480
fi
# The other partition tables parted writes (sun, mac, bsd, atari, and dvh,
# which libblkid calls sgi), each with an ext4 in its first partition at 1 MiB
# (2 MiB for dvh, whose volume header comes first).
part_table() { # part_table IMAGE LABEL PARTED-ARGS...
	local f=$1 label=$2
	shift 2
	parted -s "$f" mklabel "$label" "$@"
}
for t in 'sun:1:mkpart ext2 1MiB 9MiB mkpart linux-swap 9MiB 12MiB' \
	'mac:1:mkpart first ext2 1MiB 9MiB mkpart second ext2 9MiB 12MiB' \
	'bsd:1:mkpart ext2 1MiB 9MiB mkpart ext2 9MiB 12MiB' \
	'atari:1:mkpart primary 1MiB 9MiB mkpart primary 9MiB 12MiB mkpart primary 12MiB 13MiB' \
	'dvh:2:mkpart primary 2MiB 10MiB mkpart primary 10MiB 12MiB'; do
	IFS=: read -r label mib args <<<"$t"
	part_fs "t-$label" 8M mkfs.ext4 -q -F -L "on $label" IMG
	# shellcheck disable=SC2086 # the parted arguments are words
	if img "pt-$label" 16M part_table IMG "$label" $args; then
		copy_into "pt-$label.img" "t-$label.part" $((mib * 2048))
	fi
done
# A floppy-sized disk with both a filesystem and a partition table: `blkid -p`
# on its loop device reports only the table, the cache-based mode both.
small() {
	mkfs.ext2 -q -F -L 'small disk' "$1" &&
		printf 'label: dos\nstart=1, size=100, type=83\n' | sfdisk -q --wipe never "$1"
}
img small-ext2-dos 1M small IMG
# A firmware-RAID member that is partitioned (its table shows through, as on
# RAID1): the whole disk is the RAID member and its table is not reported; the
# partition, which ends in the same signature, is searched for filesystems,
# as libblkid looks for firmware RAID on whole disks only.
part_fs r-ext4 8M isw_over_ext4 IMG 'raid part'
raidpart() {
	printf 'label: dos\nlabel-id: 0x5eed5eed\nstart=2048, size=16384, type=83\n' | sfdisk -q "$1" &&
		at_end "$1" 1024 'Intel Raid ISM Cfg Sig. 1.2.00'
}
if img raidpart 10M raidpart IMG; then
	copy_into raidpart.img r-ext4.part 2048
fi
rm -f ./*.part
ls "$dir"/*.img
