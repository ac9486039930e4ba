#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets to fuzz/corpus/<target>/seed-*.

Everything is made by the real code: stores, exports, bundles and anchors by the `trailseal`
command (path in $TRAILSEAL, default target/debug/trailseal; build it with
`cargo build -p trailseal-cli`), keyed with the fixtures of crates/fuzz-harness (the secret
SECRET, the signing key SIGNING_KEY), so that seeds carry valid MACs and signatures. Traces
come from crates/testkit/vectors (weaver-kernel 0.12.0's store) plus a few made here; canonical
JSON cases are the inputs of the Python vectors.

After seeding, minimise with `cargo +nightly fuzz cmin <target>` (see README.md).
"""

import json
import os
import pathlib
import re
import sqlite3
import subprocess
import tempfile

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
VECTORS = ROOT / "crates" / "testkit" / "vectors"
HARNESS = (ROOT / "crates" / "fuzz-harness" / "src" / "lib.rs").read_text()


def constant(name):
    return re.search(rf'pub const {name}: &str =\s*"([^"]*)"', HARNESS).group(1)


SECRET = constant("SECRET")
SIGNING_KEY = constant("SIGNING_KEY")
PUBLIC_KEY = constant("PUBLIC_KEY")
TRAILSEAL = os.environ.get("TRAILSEAL", str(ROOT / "target" / "debug" / "trailseal"))
ENV = dict(os.environ, WEAVER_KERNEL_SECRET=SECRET)


def run(*args, stdin=None):
    subprocess.run([TRAILSEAL, *args], input=stdin, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)


def seed(target, name, data):
    # A JSONL store is an input of both the store's reader and the format in memory.
    for t in (target, "jsonl_format") if target == "jsonl_line" else (target,):
        d = FUZZ / "corpus" / t
        d.mkdir(parents=True, exist_ok=True)
        (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def traces():
    """weaver-kernel's 40 traces, then 30 more (errors, emails to redact, other principals)."""
    out = [json.loads(l)["trace"] for l in (VECTORS / "weaver-0.12.0" / "store.jsonl").open()]
    for i in range(30):
        out.append({
            "action_id": f"fz-{i}", "capability_id": ["crm.search", "billing.list"][i % 2],
            "principal_id": ["agent:finance", "agent:support-bot"][i % 2], "token_id": f"tok-{i}",
            "invoked_at": f"2026-07-{1 + i % 28:02d}T10:00:0{i % 10}+00:00",
            "args": {"q": "acme", "n": i, "x": 1.5e-7 * i, "email": "a@b.example"} if i % 3 == 0
            else {"q": "\u00e9\u4e2d\U0001f600", "deep": [[{"k": None}]], "big": 10**30},
            "response_mode": "summary", "driver_id": "http",
            "error": "timeout" if i % 5 == 0 else None,
        })
    return out


def number_seed(name, flags, digits, exp, leading=0, trailing=0, exp_zeros=0, point=0):
    """A `number` input: see crates/fuzz-harness/src/number.rs for the layout."""
    data = bytes([flags]) + (leading // 3).to_bytes(2, "little")
    data += (trailing // 3).to_bytes(2, "little") + bytes([exp_zeros // 7])
    data += exp.to_bytes(2, "little", signed=True) + point.to_bytes(2, "little")
    seed("number", name, data + bytes(int(d) for d in digits))


def number_seeds():
    """Spellings that Rust's parser read wrongly, halfway points, range boundaries."""
    number_seed("cancel-underflow", 2 | 4, "15", -1, trailing=196605, point=1)
    number_seed("cancel-overflow", 2 | 8, "9", 0, leading=196605)
    number_seed("leading-zeros", 8, "15", -1, leading=196605, exp_zeros=1785)
    number_seed("halfway-above-one", 64, str((2**53 + 1) * 5**53), -53,
                trailing=3000)
    number_seed("half-smallest-subnormal", 8 | 1, str(5**1075), -1075, leading=999)
    number_seed("overflow-threshold", 16 | 32, str(2**1024 - 2**970), 0, trailing=30)
    number_seed("zero", 8, "0", 100, leading=300)
    number_seed("negative-zero", 1 | 2 | 4, "7", 5, point=3)


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="trailseal-seeds-"))
    key = tmp / "key"
    key.write_text(SIGNING_KEY + "\n")
    (tmp / "key.pub").write_text(PUBLIC_KEY + "\n")
    all_traces = traces()
    lines = "".join(json.dumps(t) + "\n" for t in all_traces)

    number_seeds()

    # canonical: the Python vectors' inputs, and traces as weaver-kernel's SQLite store keeps
    # them (json.dumps with default separators: the recanonicaliser's input).
    for i, line in enumerate((VECTORS / "canonical" / "python-json-dumps.jsonl").open()):
        seed("canonical", f"vector-{i:03}", json.loads(line)["input"])
    db = sqlite3.connect(f"file:{VECTORS / 'weaver-0.12.0' / 'store.sqlite'}?mode=ro", uri=True)
    rows = db.execute("select seq, action_id, invoked_at, payload from traces order by seq").fetchall()
    for seq, _, _, payload in rows[:10]:
        seed("canonical", f"weaver-payload-{seq}", payload)
    seed("canonical", "trace-pretty", json.dumps(all_traces[45], indent=2))

    # jsonl_line: stores written by trailseal (plain, pruned with receipts, an archive, an
    # export) and weaver-kernel's own, intact and damaged.
    store = tmp / "a.jsonl"
    run("append", "--store", str(store), stdin=lines.encode())
    text = store.read_text()
    seed("jsonl_line", "store-head", "".join(text.splitlines(True)[:4]))
    seed("jsonl_line", "store-tail-torn", "".join(text.splitlines(True)[60:63])[:-40])
    pruned = tmp / "p.jsonl"
    run("append", "--store", str(pruned), stdin="".join(json.dumps(t) + "\n" for t in all_traces[:8]).encode())
    run("policy", "--store", str(pruned), "--min-retention", "0d")
    run("prune", "--store", str(pruned), "--keep-last", "3", "--archive", str(tmp / "arch.jsonl"))
    seed("jsonl_line", "pruned", pruned.read_text())
    seed("jsonl_line", "archive", (tmp / "arch.jsonl").read_text())
    run("export", "--store", str(pruned), "--out", str(tmp / "e.jsonl"))
    seed("jsonl_line", "export", (tmp / "e.jsonl").read_text())
    weaver = (VECTORS / "weaver-0.12.0" / "store.jsonl").read_text().splitlines(True)
    seed("jsonl_line", "weaver", "".join(weaver[:3]))
    for name in ["swap-lines", "torn-last-line", "blank-lines"]:
        damaged = (VECTORS / "weaver-0.12.0" / "tampered" / f"{name}.jsonl").read_text()
        seed("jsonl_line", f"weaver-{name}", "".join(damaged.splitlines(True)[-3:]))

    # bundle: a full one (two signed blocks, filtered and redacted entries) and a small one.
    run("export", "--store", str(store), "--bundle", str(tmp / "full.bundle"),
        "--signing-key", str(key), "--principal", "agent:finance", "--redact", "args.email")
    seed("bundle", "full", (tmp / "full.bundle").read_text())
    run("export", "--store", str(store), "--bundle", str(tmp / "small.bundle"),
        "--signing-key", str(key), "--from-seq", "40", "--to-seq", "42")
    seed("bundle", "small", (tmp / "small.bundle").read_text())
    run("export", "--store", str(pruned), "--bundle", str(tmp / "pruned.bundle"),
        "--signing-key", str(key))
    seed("bundle", "pruned", (tmp / "pruned.bundle").read_text())

    # anchor: the keys, anchors of a plain and a pruned store, and an anchor's body alone
    # (the harness signs a body itself to reach the anchor parser).
    seed("anchor", "signing-key", SIGNING_KEY)
    seed("anchor", "public-key", PUBLIC_KEY + "\n")
    for name, s in [("plain", store), ("pruned", pruned)]:
        run("anchor", "--store", str(s), "--signing-key", str(key), "--out", str(tmp / f"{name}.note"))
        note = (tmp / f"{name}.note").read_text()
        seed("anchor", f"note-{name}", note)
        seed("anchor", f"body-{name}", note[: note.rindex("\n\n") + 1])

    # verifier: the harness's command language (see `verifier` in crates/fuzz-harness).
    recs = [json.loads(l) for l in text.splitlines()]

    def rec(op, r, trace=None):
        t = trace if trace is not None else json.dumps(r["trace"], separators=(",", ":"))
        return f"{op}\t{r['seq']}\t{r['prev_hash']}\t{r['record_hash']}\t{t}\n"

    seed("verifier", "store", "g\t\t\t=\n" + "".join(rec("r", r) for r in recs[:5]))
    seed("verifier", "ops", "g\t\t\t=\ne\t2\t" + recs[2]["record_hash"] + "\n"
         + rec("c", recs[0]) + rec("k", recs[1]) + rec("h", recs[2], "o") + rec("r", recs[3])
         + "m\t4\tt\tcut short\n")
    seed("verifier", "sealed-end", f"g\n\ns\t1\t{recs[1]['record_hash']}\n" + rec("r", recs[0])
         + rec("k", recs[1]))
    seed("verifier", "weaver-sealed", "g\n" + "".join(
        f"r\t\t\t\t{payload}\t{action_id}\t{invoked_at}\n"
        for _, action_id, invoked_at, payload in rows[:6]))
    header = json.loads(pruned.read_text().splitlines()[0])["trailseal"]["start"]
    first = json.loads(pruned.read_text().splitlines()[1])
    seed("verifier", "checkpoint", f"c\t{header['seq']}\t{header['prev_hash']}\t=\n" + rec("r", first))
    seed("verifier", "wrong-secret", "u\t7\t" + recs[0]["prev_hash"] + "\n"
         + "".join(rec("r", dict(r, seq=r["seq"] + 7)) for r in recs[:3]))


if __name__ == "__main__":
    main()
