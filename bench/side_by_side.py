#!/usr/bin/env python3
"""Side-by-side benchmarks: trailseal against its peers, every ratio from one run.

    python3 bench/side_by_side.py                  # 1,000,000 records; takes 10-15 minutes
    python3 bench/side_by_side.py --records 100000 # a quicker look

What it measures, on the same machine in the same run:

1. verification of the same 1,000,000 traces (~1 KiB each) held in two SQLite stores, one
   written by weaver-kernel 0.12.0's own code (``interop/weaver_tool.py bulk-write``: the rows
   ``SQLiteTraceStore.record()`` writes, ``json.dumps`` payloads) and one by ``trailseal
   append`` (canonical payloads): ``trailseal verify`` (whole process, median of ``--runs``)
   against weaver-kernel's ``verify_chain()`` (the call alone);
2. ``journalctl --verify`` on the same number of entries, each holding one of the same traces
   as its MESSAGE, written by ``systemd-journal-remote --seal=yes`` (Forward Secure Sealing),
   when those programs are installed (``--install`` installs Debian's package as root). The
   sealing key is made with ``journalctl --setup-keys`` inside a private mount namespace, so
   the machine's own /var/log/journal is not touched;
3. the HMAC-SHA256 ceiling: ``openssl speed -hmac sha256`` at the mean MAC message size of the
   trailseal store, one process per core used, run side by side and summed (OpenSSL 3.0's
   ``-multi`` reports HMAC-MD5 instead); trailseal's rate as a fraction of it;
4. durable appends: ``cargo bench -p trailseal --bench append`` (per-record appends against a
   raw write+fsync loop, batches of 1,000, group commit with 8 threads).

weaver-kernel comes from a virtualenv: ``$TRAILSEAL_WEAVER_PYTHON``, else
``target/weaver-venv`` (created with ``pip install weaver-kernel==0.12.0`` when missing).
Stores are built in ``--workdir`` (default ``target/bench-side-by-side``) and kept for re-runs
with ``--reuse``. Results go to stdout as Markdown tables and to ``results.json`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measure  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "interop" / "weaver_tool.py"
SECRET = "bench-secret-é-5b7c3e9d1a"
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(cmd: list[str], env: dict[str, str] | None = None, stdin=None) -> tuple[float, int, str]:
    """Runs cmd; returns (wall seconds, peak RSS KiB, stdout)."""
    wall, rss, out, _, _ = measure.run(cmd, env, stdin)
    return wall, rss, out


def weaver_python() -> str:
    if os.environ.get("TRAILSEAL_WEAVER_PYTHON"):
        return os.environ["TRAILSEAL_WEAVER_PYTHON"]
    venv = ROOT / "target" / "weaver-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating {venv} with weaver-kernel==0.12.0")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "weaver-kernel==0.12.0"], check=True)
    return str(python)


def build_stores(args, env, work: Path, trailseal: str) -> tuple[Path, Path, Path]:
    weaver_db, trailseal_db, traces = work / "weaver.sqlite", work / "trailseal.db", work / "traces.jsonl"
    if args.reuse and weaver_db.exists() and trailseal_db.exists() and traces.exists():
        return weaver_db, trailseal_db, traces
    reuse_weaver = args.reuse and weaver_db.exists() and traces.exists()
    for p in (trailseal_db,) if reuse_weaver else (weaver_db, trailseal_db, traces, work / "export.jsonl"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    if not reuse_weaver:
        write_weaver_store(args, env, work, trailseal, weaver_db, traces)
    log(f"trailseal appends them to {trailseal_db}")
    with open(traces, "rb") as stdin:
        subprocess.run([trailseal, "append", "--store", str(trailseal_db), "--commit-every", "10000", "--quiet"],
                       env=env, stdin=stdin, check=True)
    return weaver_db, trailseal_db, traces


def write_weaver_store(args, env, work: Path, trailseal: str, weaver_db: Path, traces: Path) -> None:
    log(f"weaver-kernel writes {args.records} traces to {weaver_db}")
    out = subprocess.run(
        [weaver_python(), str(TOOL), "bulk-write", "--path", str(weaver_db), "--count", str(args.records),
         "--seed", "1", "--pad", "200"],
        env=env, capture_output=True, text=True, check=True,
    )
    log(f"  {out.stdout.strip()}")
    # The same traces, in chain order, one JSON object a line.
    subprocess.run([trailseal, "export", "--store", str(weaver_db), "--out", str(work / "export.jsonl")],
                   env=env, check=True, capture_output=True)
    with open(work / "export.jsonl", encoding="utf-8") as src, open(traces, "w", encoding="utf-8") as dst:
        for line in src:
            record = json.loads(line)
            if "trace" in record:
                dst.write(json.dumps(record["trace"], separators=(",", ":"), ensure_ascii=False) + "\n")
    (work / "export.jsonl").unlink()


def trailseal_verify(trailseal: str, store: Path, env, runs: int, records: int) -> dict:
    walls, rss = [], []
    for _ in range(runs):
        wall, peak, out = timed([trailseal, "verify", "--store", str(store), "--json"], env)
        verdict = json.loads(out)
        if verdict.get("status") != "verified" or verdict.get("records_checked") != records:
            sys.exit(f"trailseal did not verify {store}: {out}")
        walls.append(wall)
        rss.append(peak)
    s = statistics.median(walls)
    return {"seconds": s, "runs": walls, "records_per_s": records / s, "peak_rss_mib": max(rss) / 1024}


def weaver_verify(store: Path, env, runs: int, records: int) -> dict:
    walls, rss = [], []
    for _ in range(runs):
        _, peak, out = timed([weaver_python(), str(TOOL), "verify", "--backend", "sqlite", "--path", str(store),
                              "--timed"], env)
        verdict = json.loads(out)
        if not verdict.get("ok") or verdict.get("records_checked") != records:
            sys.exit(f"weaver-kernel did not verify {store}: {verdict}")
        walls.append(verdict["seconds"])
        rss.append(peak)
    s = statistics.median(walls)
    return {"seconds": s, "runs": walls, "records_per_s": records / s, "peak_rss_mib": max(rss) / 1024}


def mean_message_bytes(store: Path) -> float:
    """Mean size of the MAC input: {"prev_hash":"<64>","seq":N,"trace":<payload>}."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    n, payload, digits = conn.execute(
        "SELECT count(*), avg(length(CAST(payload AS BLOB))), avg(length(CAST(seq AS TEXT))) FROM traces"
    ).fetchone()
    conn.close()
    return payload + digits + len('{"prev_hash":"') + 64 + len('","seq":') + len(',"trace":') + len("}")


def openssl_ceiling(size: int, cores: int, seconds: int) -> dict:
    """HMAC-SHA256 messages per second at `size` bytes on `cores` cores (one process each)."""
    cmd = ["openssl", "speed", "-hmac", "sha256", "-bytes", str(size), "-seconds", str(seconds)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(cores)]
    per_core = []
    for p in procs:
        out, _ = p.communicate()
        line = [l for l in out.splitlines() if l.startswith("hmac(sha256)")][-1]
        kbytes = float(line.split()[-1].rstrip("k"))
        per_core.append(kbytes * 1000 / size)
    version = " ".join(subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split()[:2])
    return {"bytes": size, "cores": cores, "per_core_msgs_per_s": per_core, "msgs_per_s": sum(per_core),
            "openssl": version}


def journal_available(install: bool) -> bool:
    have = shutil.which("journalctl") and Path(JOURNAL_REMOTE).exists() and shutil.which("unshare")
    if not have and install and os.geteuid() == 0:
        log("installing systemd-journal-remote")
        subprocess.run(["apt-get", "install", "-y", "-q", "systemd-journal-remote"], check=False,
                       stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        have = shutil.which("journalctl") and Path(JOURNAL_REMOTE).exists() and shutil.which("unshare")
    return bool(have) and os.geteuid() == 0


def journal_bench(traces: Path, work: Path, records: int, runs: int) -> dict | None:
    jdir = work / "journal"
    shutil.rmtree(jdir, ignore_errors=True)
    jdir.mkdir()
    export = jdir / "entries.export"
    now = int(time.time() * 1_000_000)
    with open(traces, encoding="utf-8") as src, open(export, "wb") as out:
        for i, line in enumerate(src):
            # Journal export format; MESSAGE holds the trace as trailseal stores it.
            out.write(
                f"__REALTIME_TIMESTAMP={now + i}\n__MONOTONIC_TIMESTAMP={i + 1}\n"
                f"_BOOT_ID=6f2b3c1d4e5f60718293a4b5c6d7e8f9\n_HOSTNAME=bench\nSYSLOG_IDENTIFIER=agent\n"
                f"MESSAGE={line.rstrip(chr(10))}\n\n".encode()
            )
    # A sealing key in a private mount namespace: /var/log is a fresh tmpfs there.
    script = f"""
        set -e
        mount -t tmpfs tmpfs /var/log
        mkdir -p /var/log/journal/$(cat /etc/machine-id)
        journalctl --setup-keys --force --interval=15min > {jdir}/verify-key 2>/dev/null
        {JOURNAL_REMOTE} --seal=yes --split-mode=none --output={jdir}/remote.journal {export} 2>/dev/null
    """
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"journal: skipped ({proc.stderr.strip()[:300]})")
        return None
    export.unlink()
    key = (jdir / "verify-key").read_text().strip().splitlines()[-1]
    files = sorted(jdir.glob("*.journal"))
    walls, rss = [], []
    for _ in range(runs):
        cmd = ["journalctl", "--verify", f"--verify-key={key}", f"--directory={jdir}"]
        wall, peak, _, err, code = measure.run(cmd, check=False)
        walls.append(wall)
        if code != 0 or "FAIL" in err:
            log(f"journal: verification failed: {err[-500:]}")
            return None
        rss.append(peak)
    header = subprocess.run(["journalctl", "--header", f"--directory={jdir}"], capture_output=True, text=True).stdout
    entries = sum(int(l.split(":")[1]) for l in header.splitlines() if l.strip().startswith("Entry objects:"))
    s = statistics.median(walls)
    version = subprocess.run(["journalctl", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    result = {"seconds": s, "runs": walls, "entries": entries, "files": len(files),
              "bytes": sum(f.stat().st_size for f in files), "entries_per_s": records / s,
              "peak_rss_mib": max(rss) / 1024, "systemd": version}
    shutil.rmtree(jdir, ignore_errors=True)
    return result


def append_bench() -> tuple[str, list[dict]]:
    proc = subprocess.run(["cargo", "bench", "-q", "-p", "trailseal", "--bench", "append", "--", "--json"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    table = [l for l in proc.stdout.splitlines() if l.startswith("|")]
    rows = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
    return "\n".join(table), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="trailseal and journalctl runs per figure (median)")
    parser.add_argument("--weaver-runs", type=int, default=1, help="weaver-kernel verify_chain runs per store")
    parser.add_argument("--workdir", default=str(ROOT / "target" / "bench-side-by-side"))
    parser.add_argument("--reuse", action="store_true",
                        help="reuse stores left by an earlier run (delete trailseal.db to rebuild only it)")
    parser.add_argument("--install", action="store_true", help="apt-get install systemd-journal-remote if missing")
    parser.add_argument("--skip", action="append", default=[], choices=["weaver", "journal", "openssl", "append"])
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "trailseal-cli"], cwd=ROOT, check=True)
    trailseal = str(ROOT / "target" / "release" / "trailseal")
    env = dict(os.environ, WEAVER_KERNEL_SECRET=SECRET)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    results: dict = {"records": args.records, "cores": cores, "date": time.strftime("%Y-%m-%d")}

    weaver_db, trailseal_db, traces = build_stores(args, env, work, trailseal)
    results["store_bytes"] = {"weaver": weaver_db.stat().st_size, "trailseal": trailseal_db.stat().st_size}

    log("verifying")
    ours = {
        "trailseal-written": trailseal_verify(trailseal, trailseal_db, env, args.runs, args.records),
        "weaver-written": trailseal_verify(trailseal, weaver_db, env, args.runs, args.records),
    }
    results["trailseal_verify"] = ours
    if "weaver" not in args.skip:
        log("weaver-kernel verify_chain (holds the whole store in memory)")
        results["weaver_verify"] = {
            "trailseal-written": weaver_verify(trailseal_db, env, args.weaver_runs, args.records),
            "weaver-written": weaver_verify(weaver_db, env, args.weaver_runs, args.records),
        }
    if "openssl" not in args.skip:
        size = round(mean_message_bytes(trailseal_db))
        results["openssl"] = openssl_ceiling(size, cores, 3)
    if "journal" not in args.skip and journal_available(args.install):
        log("journalctl --verify on a sealed journal of the same traces")
        results["journal"] = journal_bench(traces, work, args.records, args.runs)
    if "append" not in args.skip:
        log("cargo bench --bench append")
        results["append_table"], results["append"] = append_bench()

    (work / "results.json").write_text(json.dumps(results, indent=2))
    print_report(results)


def print_report(r: dict) -> None:
    n = r["records"]
    print(f"\n{n:,} records of ~1 KiB, {r['cores']} cores, {r['date']}; every ratio from this one run\n")
    print("| store | size | trailseal verify | peak RSS | weaver-kernel verify_chain | peak RSS | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for label, key in (("trailseal-written", "trailseal"), ("weaver-written", "weaver")):
        ours = r["trailseal_verify"][label]
        theirs = r.get("weaver_verify", {}).get(label)
        size = r["store_bytes"][key] / 2**20
        line = (f"| {label} | {size:.0f} MiB | {ours['seconds']:.2f} s ({ours['records_per_s'] / 1000:.0f} k/s) "
                f"| {ours['peak_rss_mib']:.0f} MiB |")
        if theirs:
            line += (f" {theirs['seconds']:.1f} s ({theirs['records_per_s'] / 1000:.0f} k/s) | "
                     f"{theirs['peak_rss_mib']:.0f} MiB | **{theirs['seconds'] / ours['seconds']:.1f}×** |")
        else:
            line += " (skipped) | | |"
        print(line)
    ours = r["trailseal_verify"]["trailseal-written"]
    if r.get("openssl"):
        o = r["openssl"]
        print(f"\nHMAC-SHA256 ceiling ({o['openssl']}, {o['bytes']}-byte messages, {o['cores']} processes): "
              f"{o['msgs_per_s'] / 1000:.0f} k msgs/s ({', '.join(f'{c / 1000:.0f}' for c in o['per_core_msgs_per_s'])} k per core). "
              f"trailseal verify of the trailseal-written store: {ours['records_per_s'] / 1000:.0f} k records/s = "
              f"**{100 * ours['records_per_s'] / o['msgs_per_s']:.0f}%** of the ceiling.")
    j = r.get("journal")
    if j:
        print(f"\njournalctl --verify ({j['systemd']}), {j['entries']:,} sealed entries in {j['files']} file(s), "
              f"{j['bytes'] / 2**20:.0f} MiB: {j['seconds']:.2f} s ({j['entries_per_s'] / 1000:.0f} k entries/s, "
              f"peak RSS {j['peak_rss_mib']:.0f} MiB); trailseal verify of the same traces: {ours['seconds']:.2f} s: "
              f"**{j['seconds'] / ours['seconds']:.1f}×** faster.")
    elif "journal" in r:
        print("\njournalctl: the sealed journal could not be written or verified here (see stderr).")
    if r.get("append_table"):
        print("\nDurable appends (cargo bench -p trailseal --bench append):\n")
        print(r["append_table"])


if __name__ == "__main__":
    main()
