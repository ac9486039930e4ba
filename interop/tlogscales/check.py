#!/usr/bin/env python3
"""Check a C2SP tlog-tiles directory with tlog-scales, a tree implementation nobody here wrote.

Where it comes from: ``tlog-scales==0.0.3`` from PyPI (Florian Larysch, Apache-2.0; source
florolf/tlog-scales on GitHub, a library extracted from his sigmon and cross-examination
monitors). It needs Python >= 3.11, ``cryptography`` and ``requests``. trailseal's tests
install it in a venv (``crates/testkit/src/tlog_scales.rs``).

Usage::

    check.py DIR --vkey VKEY [--witness VKEY]... [--root SIZE]...
             [--inclusion SIZE:INDEX]... [--consistency OLD:NEW]...

DIR holds ``checkpoint``, ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]`` exactly as
C2SP tlog-tiles lays them out; who wrote it does not matter. Every tree computation below is
tlog-scales' own (``TilesReader``, ``InclusionProof.check``, ``ConsistencyProof.check``,
``tiles.*``, ``Checkpoint``, ``Vkey``); this script only glues the calls together:

1. ``checkpoint``: parsed by ``Checkpoint.from_text``; it must re-serialise to exactly the
   file's bytes (``Checkpoint.serialize``), so nothing tlog-scales skips over goes unseen; its
   signature by VKEY (Ed25519 note key, type 0x01) verified by ``Checkpoint.verify``; each
   ``--witness`` (Ed25519 cosignature key, type 0x04) must have a cosignature that
   ``VkeySet.verify`` accepts, and none that it refuses. Key ids in the vkeys are recomputed
   by ``Vkey`` and must match (tlog-scales itself trusts the key id written in a vkey).
2. The tile files the tree of the checkpoint's size has (``tiles.level_tiles`` /
   ``tiles.tile_path``) must all exist, hash tiles with exactly 32 bytes per hash and entry
   bundles with exactly their width of entries. Files no reader asks for are listed
   (``unread``), not refused (stale partial tiles may stay, C2SP allows it).
3. The root ``TilesReader.calculate_root_hash`` computes from the tiles equals the
   checkpoint's. That reads only the right edge of the tree, so also: every full hash tile,
   read as the bottom row of a 256-leaf tree, hashes (``TilesReader.mth``) to the entry its
   parent tile holds (checked by ``InclusionProof.check`` of its two halves), and every entry
   of every bundle has the leaf hash (``tiles.leaf_hash``) its level-0 tile holds.
4. ``--root SIZE``: the root of the tree of SIZE (<= the checkpoint's), from the tiles.
   ``--inclusion SIZE:INDEX``: ``get_inclusion_proof(INDEX, SIZE)``, checked with
   ``InclusionProof.check`` against the entry's leaf hash and that root.
   ``--consistency OLD:NEW``: ``get_consistency_proof(OLD, NEW)``, checked with
   ``ConsistencyProof.check`` against both roots.

Output: one JSON object on stdout. Exit 0 with ``{"ok": true, ...}`` (roots and proof hashes
in standard base64) when every check passed; exit 1 with ``{"ok": false, "stage": S,
"error": E}`` when one did not (S is ``checkpoint``, ``signature``, ``witness``, ``files``,
``root``, ``tiles``, ``entries``, ``inclusion`` or ``consistency``); exit 2 on bad usage.

What tlog-scales 0.0.3 cannot do (or does loosely), as read in its source:

- it cannot parse a checkpoint with extension lines: ``Checkpoint.from_text`` takes lines 1-3
  as the body and every line from the 5th on as a signature, so an extension line makes it
  fail (and it never checks that the 4th line is blank: step 1's re-serialisation does);
- it verifies signatures over the body it re-serialises from the parsed origin, size and
  root, not over the bytes read (step 1 closes that gap too);
- ``get_inclusion_proof`` asserts ``index <= size``, not ``<`` (for ``index == size`` it
  returns a proof, which ``InclusionProof.check`` then refuses); ``get_consistency_proof``
  cannot prove from size 0 (an assertion in its split); both use ``assert``, so they must not
  run under ``python -O`` (this script refuses to);
- ``TilesReader`` only ever reads the right edge of the tree (the root's subtrees) and never
  checks a full tile against its parent, nor a partial tile's length: step 2 and 3 add those
  checks from its own primitives;
- it has no tile-path parser, so unread files are only listed.
"""

import argparse
import json
import sys
from pathlib import Path

from tlog_scales import backend, reader, signing, tiles, tlog
from tlog_scales.utils import b64enc


class Refused(Exception):
    def __init__(self, stage, error):
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


def size_pair(text):
    a, sep, b = text.partition(":")
    if not sep or not a.isdigit() or not b.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected A:B (decimal)")
    return int(a), int(b)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path)
    p.add_argument("--vkey", required=True, help="the log's note verifier key")
    p.add_argument("--witness", action="append", default=[], help="a witness vkey (0x04)")
    p.add_argument("--root", action="append", default=[], type=int, metavar="SIZE")
    p.add_argument("--inclusion", action="append", default=[], type=size_pair,
                   metavar="SIZE:INDEX")
    p.add_argument("--consistency", action="append", default=[], type=size_pair,
                   metavar="OLD:NEW")
    return p.parse_args(argv)


def vkey(text, sig_type, what):
    """A tlog-scales Vkey, its key id recomputed by tlog-scales and compared."""
    try:
        key = signing.Vkey.from_string(text)
    except Exception as e:
        raise Refused(what, f"vkey {text!r} does not parse: {e!r}")
    if key.sig_type != sig_type:
        raise Refused(what, f"vkey {key.name}: signature type {key.sig_type}, want {sig_type}")
    if signing.Vkey(key.name, None, key.sig_type, key.pubkey).key_id != key.key_id:
        raise Refused(what, f"vkey {key.name}: the key id does not match the key")
    return key


def open_checkpoint(tile_reader, text, log_key, witness_keys):
    try:
        cp = tile_reader.get_checkpoint()
    except Exception as e:
        raise Refused("checkpoint", f"tlog-scales cannot parse it: {e!r}")
    if cp.serialize() != text:
        raise Refused("checkpoint", "not in canonical form (tlog-scales re-serialises it "
                      "differently: extra lines, a non-blank separator or non-canonical text)")
    try:
        cp.verify(log_key)
    except Exception as e:
        raise Refused("signature", f"no valid signature by {log_key.name}: {e!r}")
    witnesses = []
    for key in witness_keys:
        mine = [s for s in cp.signatures if key.match(s)]
        if not mine:
            raise Refused("witness", f"{key.name}: no cosignature")
        for sig in mine:
            if not signing.VkeySet(key).verify([sig], cp):
                raise Refused("witness", f"{key.name}: a cosignature does not verify")
        times = sorted(signing.Ed25519CosignatureVerifier.get_timestamp(s.payload)
                       for s in mine)
        witnesses.append({"name": key.name, "timestamps": times})
    return cp, witnesses


def expected_tiles(size):
    """(level, n, width) of every tile the tree of `size` has; level -1 is entries."""
    out = []
    level = 0
    while tiles.level_entries(size, level) > 0:
        full, partial = tiles.level_tiles(size, level)
        out += [(level, n, 256) for n in range(full)]
        if partial:
            out.append((level, full, partial))
        level += 1
    full, partial = tiles.level_tiles(size, -1)
    out += [(-1, n, 256) for n in range(full)]
    if partial:
        out.append((-1, full, partial))
    return out


def tile_file(root, level, n, width):
    return root.joinpath(*tiles.tile_path(level, n, 0 if width == 256 else width))


def check_files(root, size):
    """Every tile is there with the right length; returns the unread files."""
    wanted = set()
    for level, n, width in expected_tiles(size):
        path = tile_file(root, level, n, width)
        wanted.add(path)
        if not path.is_file():
            raise Refused("files", f"{path.relative_to(root)}: missing")
        data = path.read_bytes()
        if level >= 0:
            if len(data) != 32 * width:
                raise Refused("files", f"{path.relative_to(root)}: {len(data)} bytes, "
                              f"want {32 * width}")
        else:
            try:
                got = reader.Tile.from_entries_bytes(data).length
            except Exception as e:
                raise Refused("files", f"{path.relative_to(root)}: {e!r}")
            if got != width:
                raise Refused("files", f"{path.relative_to(root)}: {got} entries, want {width}")
    present = {p for p in (root / "tile").rglob("*") if p.is_file()}
    return sorted(str(p.relative_to(root)) for p in present - wanted)


class OneTile:
    """A tiles backend holding one hash tile as tile/0/000 (a 256-leaf tree's bottom row)."""

    def __init__(self, data):
        self.data = data

    def get(self, *path):
        return self.data if list(path) == tiles.tile_path(0, 0) else None


def check_full_tiles(root, tile_reader, size):
    """Every full hash tile hashes to the entry its parent tile holds."""
    checked = 0
    for level, n, width in expected_tiles(size):
        if level < 0 or width != 256:
            continue
        path = tile_file(root, level, n, width)
        below = reader.TilesReader(OneTile(path.read_bytes()))
        below.set_size(256)
        span = 256 ** (level + 1)
        parent = tile_reader.mth(n * span, (n + 1) * span)
        halves = tlog.InclusionProof(0, 2, [below.mth(128, 256)])
        try:
            halves.check(below.mth(0, 128), parent)
        except Exception as e:
            raise Refused("tiles", f"{path.relative_to(root)}: does not hash to its parent "
                          f"tile's entry: {e!r}")
        checked += 1
    return checked


def check_entries(tile_reader, size):
    """Every entry's leaf hash is the one its level-0 tile holds."""
    for i in range(size):
        try:
            entry = tile_reader.get_entry(i)
        except Exception as e:
            raise Refused("entries", f"entry {i}: {e!r}")
        if tiles.leaf_hash(entry) != tile_reader.mth(i, i + 1):
            raise Refused("entries", f"entry {i}: its leaf hash is not the one tile/0 holds")
    return size


def main(argv):
    if not __debug__:
        print("check.py: tlog-scales relies on assert: do not run it with -O", file=sys.stderr)
        return 2
    args = parse_args(argv)
    log_key = vkey(args.vkey, 1, "signature")
    witness_keys = [vkey(w, 4, "witness") for w in args.witness]
    try:
        text = (args.dir / "checkpoint").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Refused("checkpoint", f"cannot read it: {e!r}")
    tile_reader = reader.TilesReader(backend.LocalBackend(args.dir))
    cp, witnesses = open_checkpoint(tile_reader, text, log_key, witness_keys)
    size = cp.size
    if size == 0:
        raise Refused("checkpoint", "size 0: no tree to read")
    for s in args.root + [n for pair in args.inclusion + args.consistency for n in pair]:
        if s > size:
            print(f"check.py: size {s} is beyond the checkpoint's {size}", file=sys.stderr)
            return 2

    unread = check_files(args.dir, size)
    try:
        computed = tile_reader.calculate_root_hash()
    except Exception as e:
        raise Refused("root", f"cannot compute the root from the tiles: {e!r}")
    if computed != cp.root_hash:
        raise Refused("root", f"the tiles give root {b64enc(computed)}, the checkpoint says "
                      f"{b64enc(cp.root_hash)}")
    full_tiles = check_full_tiles(args.dir, tile_reader, size)
    entries = check_entries(tile_reader, size)

    roots = {str(s): b64enc(tile_reader.mth(0, s)) for s in args.root}
    inclusion = []
    for s, index in args.inclusion:
        try:
            proof = tile_reader.get_inclusion_proof(index, s)
            leaf = tiles.leaf_hash(tile_reader.get_entry(index))
            proof.check(leaf, tile_reader.mth(0, s))
        except Exception as e:
            raise Refused("inclusion", f"record {index} in size {s}: {e!r}")
        inclusion.append({"size": s, "index": index,
                          "proof": [b64enc(h) for h in proof.node_hashes]})
    consistency = []
    for old, new in args.consistency:
        try:
            proof = tile_reader.get_consistency_proof(old, new)
            proof.check(tile_reader.mth(0, old), tile_reader.mth(0, new))
        except Exception as e:
            raise Refused("consistency", f"size {old} to {new}: {e!r}")
        consistency.append({"old": old, "new": new,
                            "proof": [b64enc(h) for h in proof.node_hashes]})

    print(json.dumps({
        "ok": True,
        "origin": cp.origin,
        "size": size,
        "root": b64enc(computed),
        "witnesses": witnesses,
        "full_tiles_checked": full_tiles,
        "entries_checked": entries,
        "unread": unread,
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Refused as r:
        print(json.dumps({"ok": False, "stage": r.stage, "error": r.error}))
        sys.exit(1)
