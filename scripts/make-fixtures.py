#!/usr/bin/env python3
"""Write small synthetic images of signatures no tool here can make.

Usage: make-fixtures.py OUTDIR [PREFIX...]   (only the images whose names start so)

Each image is laid out from the on-disk format (md, ZFS, HFS, HFS+, APFS);
util-linux blkid must recognise every one of them, which is what makes them
valid evidence: tests/blkid/volumes.rs compares krazybox's prober with blkid on
each. File names start with the expected TYPE. Standard library only.
"""
import os
import struct
import sys

MD_MAGIC = 0xA92B4EFC


def image(size):
    return bytearray(size)


def put(buf, off, data):
    buf[off:off + len(data)] = data


# --- Linux md -----------------------------------------------------------------

def md_v0(size, big_endian, minor=90):
    """0.90 superblock at the last 64 KiB boundary minus 64 KiB."""
    buf = image(size)
    off = (size & ~0xFFFF) - 0x10000
    e = ">" if big_endian else "<"
    words = [0] * 32
    words[0] = MD_MAGIC
    words[1], words[2], words[3] = 0, minor, 2  # major, minor, patch
    words[5] = 0x0A1B2C3D  # set_uuid0
    words[7] = 1  # level
    words[8] = (off // 1024) - 64  # array size in KiB, leaves room before the superblock
    words[9] = words[10] = 2  # nr_disks, raid_disks
    words[13], words[14], words[15] = 0x11223344, 0x55667788, 0x99AABBCC  # set_uuid1..3
    put(buf, off, struct.pack(e + "32I", *words))
    return buf


def md_v1(size, where, name=b"fixturehost:md0"):
    """1.x superblock: 1.0 near the end, 1.1 at 0, 1.2 at 4 KiB."""
    buf = image(size)
    off = {"1.0": (size & ~0xFFF) - 0x2000, "1.1": 0, "1.2": 0x1000}[where]
    sb = bytearray(256)
    struct.pack_into("<IIII", sb, 0, MD_MAGIC, 1, 0, 0)
    put(sb, 16, bytes(range(0x10, 0x20)))  # set_uuid
    put(sb, 32, name.ljust(32, b"\0"))
    struct.pack_into("<QII", sb, 64, 0, 1, 0)  # ctime, level, layout
    struct.pack_into("<Q", sb, 144, off >> 9)  # super_offset, in sectors
    put(sb, 168, bytes(range(0xA0, 0xB0)))  # device_uuid
    put(buf, off, sb)
    return buf


# --- ZFS ----------------------------------------------------------------------

def xdr_string(s):
    b = s.encode()
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def nvpair(name, value):
    body = xdr_string(name) + value
    return struct.pack(">II", 8 + len(body), 0) + body


def nv_u64(v):
    return struct.pack(">IIQ", 8, 1, v)


def nv_str(s):
    return struct.pack(">II", 9, 1) + xdr_string(s)


def nv_list(pairs):
    # type, nelem, then the embedded list's version and flags, pairs, end mark
    return struct.pack(">IIII", 19, 1, 0, 1) + b"".join(pairs) + b"\0" * 8


def zfs(big_endian, size=64 << 20, labels=(0, 1, 2, 3), names=("fixturepool",)):
    buf = image(size)
    pool_guid, guid = 0x1234567890ABCDEF, 0x0FEDCBA987654321
    pairs = [
        nvpair("version", nv_u64(5000)),
        *(nvpair("name", nv_str(n)) for n in names),
        nvpair("state", nv_u64(0)),
        nvpair("txg", nv_u64(4)),
        nvpair("pool_guid", nv_u64(pool_guid)),
        nvpair("hostname", nv_str("fixture")),
        nvpair("top_guid", nv_u64(guid)),
        nvpair("guid", nv_u64(guid)),
        nvpair("vdev_children", nv_u64(1)),
        nvpair("vdev_tree", nv_list([
            nvpair("type", nv_str("disk")),
            nvpair("id", nv_u64(0)),
            nvpair("guid", nv_u64(guid)),
            nvpair("path", nv_str("/dev/fixture")),
            nvpair("ashift", nv_u64(12)),
        ])),
    ]
    nvlist = struct.pack(">BBBBII", 1, 1, 0, 0, 0, 1) + b"".join(pairs) + b"\0" * 8
    e = ">" if big_endian else "<"
    label = 256 << 10
    # the end labels sit on a 256 KiB boundary, whatever the device size
    align = size % label
    offsets = (0, label, size - 2 * label - align, size - label - align)
    for base in (offsets[i] for i in labels):
        put(buf, base + (16 << 10), nvlist)
        # ashift 12: uberblock slots are 4 KiB apart; two written in each label
        for slot in (0, 3):
            put(buf, base + (128 << 10) + slot * 4096, struct.pack(e + "QQQ", 0x00BAB10C, 5000, 4 + slot))
    return buf


# --- High Sierra ----------------------------------------------------------------

def high_sierra():
    """The CD format before ISO 9660: "CDROM" at 32 KiB + 9."""
    buf = image(64 << 10)
    d = bytearray(2048)
    struct.pack_into("<I", d, 0, 16)  # the descriptor's own logical block
    d[8] = 1
    put(d, 9, b"CDROM")
    d[14] = 1
    put(d, 16, b"FIXTURE SYSTEM".ljust(32))
    put(d, 48, b"HIGH_SIERRA_VOL".ljust(32))
    put(buf, 0x8000, d)
    d = bytearray(2048)
    d[8] = 0xFF
    put(d, 9, b"CDROM")
    put(buf, 0x8800, d)
    return buf


# --- HFS and HFS+ -------------------------------------------------------------

def hfs_mdb(label, finder_id, embed_sig=b"\0\0", al_bl_st=0, al_blk_size=4096, embed_start=0, embed_count=0):
    mdb = bytearray(162)
    put(mdb, 0, b"BD")
    struct.pack_into(">I", mdb, 20, al_blk_size)
    struct.pack_into(">H", mdb, 28, al_bl_st)
    mdb[36] = len(label)
    put(mdb, 37, label)
    put(mdb, 116, finder_id)
    put(mdb, 124, embed_sig)
    struct.pack_into(">HH", mdb, 126, embed_start, embed_count)
    return mdb


def hfs():
    buf = image(1 << 20)
    put(buf, 1024, hfs_mdb(b"Fixture HFS", bytes.fromhex("0123456789abcdef"), al_bl_st=16, al_blk_size=512))
    return buf


def hfsplus_volume(name, blocksize=4096, node_size=4096, total_blocks=256):
    """An HFS+ volume: header at 1 KiB, the catalog B-tree at block 4 with a
    header node and one leaf whose first record is the root folder's thread."""
    buf = image(total_blocks * blocksize)
    vh = bytearray(512)
    put(vh, 0, b"H+")
    struct.pack_into(">HI", vh, 2, 4, 0x100)  # version, attributes
    struct.pack_into(">III", vh, 40, blocksize, total_blocks, total_blocks - 16)
    put(vh, 104, bytes.fromhex("feedfacecafebeef"))  # Finder info volume id
    cat_start, cat_blocks = 4, 4
    struct.pack_into(">QII", vh, 272, cat_blocks * blocksize, blocksize, cat_blocks)
    struct.pack_into(">II", vh, 288, cat_start, cat_blocks)
    put(buf, 1024, vh)

    cat = cat_start * blocksize
    # header node: descriptor, then the header record
    put(buf, cat, struct.pack(">IIbBHH", 0, 0, 1, 0, 3, 0))
    put(buf, cat + 14, struct.pack(">HIIIIHHII", 1, 1, 1, 1, 1, node_size, 516, cat_blocks, cat_blocks - 2))
    # leaf node 1: the root folder's thread record, keyed by parent id 1
    leaf = cat + node_size
    put(buf, leaf, struct.pack(">IIbBHH", 0, 0, -1, 1, 1, 0))
    units = name.encode("utf-16-be")
    put(buf, leaf + 14, struct.pack(">HIH", 6 + len(units), 1, len(units) // 2) + units)
    return buf


def hfsplus_wrapped():
    """HFS+ embedded in an HFS wrapper, as older Mac OS formatted it."""
    inner = hfsplus_volume("Wrapped Plus")
    al_bl_st, al_blk_size, embed_start = 8, 4096, 2
    off = al_bl_st * 512 + embed_start * al_blk_size
    buf = image(off + len(inner))
    put(buf, off, inner)
    put(buf, 1024, hfs_mdb(b"Wrapper", bytes(8), b"H+", al_bl_st, al_blk_size, embed_start, len(inner) // al_blk_size))
    return buf


# --- APFS ---------------------------------------------------------------------

def apfs():
    buf = image(1 << 20)
    sb = bytearray(4096)
    struct.pack_into("<QQQIII", sb, 0, 0, 1, 1, 0x80000001, 0, 0)  # cksum, oid, xid, type, subtype
    put(sb, 32, b"NXSB")
    struct.pack_into("<IQ", sb, 36, 4096, 256)
    put(sb, 72, bytes.fromhex("5a9e2c1b7d3f4e60a1b2c3d4e5f60718"))
    put(buf, 0, sb)
    return buf


FIXTURES = {
    "linux_raid_member-0.90-le.img": lambda: md_v0((4 << 20) + 0x3000, False),
    "linux_raid_member-0.90-be.img": lambda: md_v0(4 << 20, True),
    "linux_raid_member-0.89.img": lambda: md_v0(4 << 20, False, minor=89),
    "linux_raid_member-1.0.img": lambda: md_v1((4 << 20) + 0x1800, "1.0"),
    "linux_raid_member-1.1.img": lambda: md_v1(4 << 20, "1.1"),
    "linux_raid_member-1.2.img": lambda: md_v1(4 << 20, "1.2", b"  spaced name  "),
    "zfs_member-le.img": lambda: zfs(False),
    "zfs_member-be.img": lambda: zfs(True),
    # only the two labels at the end, on a device not a multiple of 256 KiB
    "zfs_member-end.img": lambda: zfs(False, (64 << 20) + (100 << 10), labels=(2, 3)),
    # blkid reports every top-level "name" pair, trailing blanks trimmed
    "zfs_member-twonames.img": lambda: zfs(False, names=("first", "second  ")),
    "iso9660-highsierra.img": high_sierra,
    "hfs.img": hfs,
    "hfsplus.img": lambda: hfsplus_volume("Fixture Plus \u00e9t\u00e9"),
    "hfsplus-wrapped.img": hfsplus_wrapped,
    "apfs.img": apfs,
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, prefixes = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name, make in FIXTURES.items():
        if prefixes and not any(name.startswith(p) for p in prefixes):
            continue
        with open(os.path.join(out, name), "wb") as f:
            f.write(make())


if __name__ == "__main__":
    main()
