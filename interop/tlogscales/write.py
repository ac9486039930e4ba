#!/usr/bin/env python3
"""Grow a C2SP tile directory with tlog-scales' own writer, for trailseal to read.

tlog-scales 0.0.3 from PyPI (see check.py's header for where it comes from). Usage::

    write.py DIR --entry-size N --sizes S1,S2,... --origin O
             --name NAME          (the key's seed, hex, in env TLOG_SCALES_SEED_HEX)

Standard input holds the entries back to back, N bytes each. DIR must not exist:
``TilesWriter.create`` makes it; then, for each size in turn, the entries up to it are added
(``add_leaf``) and committed (``commit``, which writes the tiles, entry bundles and a
checkpoint signed by ``PlainEd25519Signer(NAME, seed)``; ``gc=False`` so superseded partial
tiles stay and can be compared too). The paths each commit writes are recorded by wrapping
``utils.atomic_write``, through which the writer writes every file. The seed is a test key's,
read from the environment (not the command line, which others can see).

Output: one JSON object, ``{"commits": [{"size": S, "written": [paths written by that commit,
sorted], "checkpoint": text}, ...]}``; exit 2 on bad usage. tlog-scales' writer is
documented by its author as not crash safe; that does not matter for a test directory.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from tlog_scales import signing, utils, writer


# Every file the writer writes goes through utils.atomic_write: record the paths (the
# writing itself is tlog-scales' own).
WRITTEN = []
_atomic_write = utils.atomic_write


def recording_atomic_write(path, data):
    WRITTEN.append(Path(path).resolve())
    _atomic_write(path, data)


utils.atomic_write = recording_atomic_write


def main(argv):
    if not __debug__:
        print("write.py: tlog-scales relies on assert: do not run it with -O", file=sys.stderr)
        return 2
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path)
    p.add_argument("--entry-size", type=int, required=True)
    p.add_argument("--sizes", required=True)
    p.add_argument("--origin", required=True)
    p.add_argument("--name", required=True)
    args = p.parse_args(argv)
    data = sys.stdin.buffer.read()
    width = args.entry_size
    sizes = [int(s) for s in args.sizes.split(",")]
    if sizes != sorted(sizes) or sizes[-1] * width > len(data):
        print("write.py: sizes must grow and fit the entries", file=sys.stderr)
        return 2
    signer = signing.PlainEd25519Signer(args.name, bytes.fromhex(os.environ["TLOG_SCALES_SEED_HEX"]))
    log = writer.TilesWriter.create(args.dir, args.origin)
    commits = []
    done = 0
    for size in sizes:
        WRITTEN.clear()
        for i in range(done, size):
            log.add_leaf(data[i * width:(i + 1) * width])
        log.commit([signer], gc=False)
        done = size
        root = args.dir.resolve()
        written = sorted(str(p.relative_to(root)) for p in WRITTEN if p != root / "checkpoint")
        commits.append({"size": size, "written": written,
                        "checkpoint": (args.dir / "checkpoint").read_text(encoding="utf-8")})
    print(json.dumps({"commits": commits}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
