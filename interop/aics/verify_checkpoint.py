"""Verifies a cosigned checkpoint note with aics-tlog (installed with aics-witness 0.1.0), an
implementation of signed notes and tlog-cosignature/v1 nobody here wrote.

stdin: one JSON object {"note": str, "log_vkey": str, "witness_vkeys": [str], "quorum": int}
stdout: one JSON object {"ok", "log_ok", "cosignature_count", "witnesses", "error", "size"}
"""

import json
import sys

from aics_tlog import parse_note, parse_vkey
from aics_tlog.checkpoint import verify_checkpoint

request = json.load(sys.stdin)
note = parse_note(request["note"])
result = verify_checkpoint(
    note,
    parse_vkey(request["log_vkey"]),
    [parse_vkey(v) for v in request["witness_vkeys"]],
    request["quorum"],
)
json.dump(
    {
        "ok": result.ok,
        "log_ok": result.log_ok,
        "cosignature_count": result.cosignature_count,
        "witnesses": sorted(result.witnesses),
        "error": result.error,
        "size": result.size,
    },
    sys.stdout,
)
