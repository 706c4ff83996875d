#!/usr/bin/env python3
"""Make a restic repository of many pack files, fast, for a test of big listings.

Usage: restic-repo.py DIR PACKS   (RESTIC_PASSWORD set; restic on PATH)

restic itself makes the repository (`init`) and one small snapshot; then PACKS
more pack files are written here as restic writes them (one encrypted data
blob each, behind its encrypted header), with index files that list every one
of them. So the repository is one restic accepts whole: `snapshots`, `check`
(also `--read-data`: the blobs' contents match their IDs) and new backups.
The extra blobs belong to no snapshot, as after a `forget` before its prune.

The format (restic's doc/design.rst): an encrypted piece is IV (16 bytes) +
AES-256-CTR ciphertext + Poly1305-AES MAC (16 bytes) of the ciphertext; a pack
is its blobs, the encrypted header (one entry per blob: type, length, ID) and
the header's length (uint32, little endian); files are named by the SHA-256
of their bytes, blobs by the SHA-256 of their plaintext. Index files are
encrypted JSON, which restic reads uncompressed in repositories of version 2 too.
Needs python's cryptography package (Debian: python3-cryptography).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

PACKS_PER_INDEX = 10000


def seal(key, plaintext):
    """restic's crypto.Key.Seal, with a fresh random IV in front."""
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(key["encrypt"]), modes.CTR(iv)).encryptor()
    ct = enc.update(plaintext) + enc.finalize()
    # Poly1305-AES: r from the key, s = AES-128_k(IV).
    s = Cipher(algorithms.AES(key["mac_k"]), modes.ECB()).encryptor().update(iv)
    mac = Poly1305.generate_tag(key["mac_r"] + s, ct)
    return iv + ct + mac


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: restic-repo.py DIR PACKS")
    repo, packs = sys.argv[1], int(sys.argv[2])
    restic = ["restic", "--no-cache", "-q", "--repo", repo]
    subprocess.run(restic + ["init"], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as small:
        for i in range(3):
            write(os.path.join(small, f"file{i}"), os.urandom(20000))
        subprocess.run(restic + ["backup", small], check=True, stdout=subprocess.DEVNULL)
    raw = json.loads(subprocess.run(restic + ["cat", "masterkey"], check=True, capture_output=True).stdout)
    key = {
        "encrypt": base64.b64decode(raw["encrypt"]),
        "mac_k": base64.b64decode(raw["mac"]["k"]),
        # The MAC key's r as Poly1305 uses it (restic masks it the same way).
        "mac_r": base64.b64decode(raw["mac"]["r"]),
    }
    index = []
    for n in range(packs):
        blob = os.urandom(64 + n % 449)
        blob_id = hashlib.sha256(blob).digest()
        sealed = seal(key, blob)
        header = bytes([0]) + len(sealed).to_bytes(4, "little") + blob_id
        sealed_header = seal(key, header)
        pack = sealed + sealed_header + len(sealed_header).to_bytes(4, "little")
        pack_id = hashlib.sha256(pack).hexdigest()
        write(os.path.join(repo, "data", pack_id[:2], pack_id), pack)
        index.append({"id": pack_id, "blobs": [
            {"id": blob_id.hex(), "type": "data", "offset": 0, "length": len(sealed)}]})
        if len(index) == PACKS_PER_INDEX or n == packs - 1:
            data = seal(key, json.dumps({"packs": index}, separators=(",", ":")).encode())
            write(os.path.join(repo, "index", hashlib.sha256(data).hexdigest()), data)
            index = []


if __name__ == "__main__":
    main()
