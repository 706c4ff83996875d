#!/usr/bin/env python3
"""Writes an initramfs (newc cpio, uncompressed) from a list on stdin, one entry a line:

    dir PATH
    file PATH SOURCE [MODE]      MODE in octal, default the source's
    link PATH TARGET             a symlink
    nod PATH c|b MAJOR MINOR     a device node (no root needed to write it)

    mkcpio.py OUT < LIST

The kernel unpacks concatenated archives in turn, so a small archive with a
guest's configuration can follow a shared one.
"""
import os
import stat
import sys


def main():
    out = open(sys.argv[1], "wb")
    ino = 1

    def entry(name, mode, data=b"", rdev=(0, 0)):
        nonlocal ino
        name = name.lstrip("/").encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name), 0]
        ino += 1
        out.write(b"070701" + b"".join(b"%08x" % f for f in fields) + name)
        out.write(b"\0" * (-(110 + len(name)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        kind, path = words[0], words[1]
        if kind == "dir":
            entry(path, stat.S_IFDIR | 0o755)
        elif kind == "file":
            mode = int(words[3], 8) if len(words) > 3 else os.stat(words[2]).st_mode & 0o7777
            with open(words[2], "rb") as f:
                entry(path, stat.S_IFREG | mode, f.read())
        elif kind == "link":
            entry(path, stat.S_IFLNK | 0o777, words[2].encode())
        elif kind == "nod":
            kind_bit = stat.S_IFCHR if words[2] == "c" else stat.S_IFBLK
            entry(path, kind_bit | 0o600, rdev=(int(words[3]), int(words[4])))
        else:
            sys.exit(f"mkcpio.py: unknown entry kind {kind!r} in: {line.strip()}")
    entry("TRAILER!!!", 0)
    out.close()


main()
