"""Running a command and measuring it: wall time and peak memory (maximum RSS, from the kernel's
accounting of that one child via os.wait4; no /usr/bin/time needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from typing import Iterable


def _spawn(cmd: list[str], env: dict[str, str] | None, stdin) -> tuple[float, int, object, str, str]:
    """Runs `cmd` to its end: (wall seconds, exit code, rusage, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        streamed = stdin is not None and not hasattr(stdin, "fileno")
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE if streamed else stdin, stdout=out, stderr=err)
        if streamed:
            assert proc.stdin is not None
            for chunk in stdin:  # type: ignore[union-attr]
                proc.stdin.write(chunk)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    return wall, proc.returncode, usage, stdout, stderr


def run(cmd: list[str], env: dict[str, str] | None = None, stdin=None, check: bool = True) -> tuple[float, int, str, str, int]:
    """Runs `cmd`; returns (wall seconds, peak RSS in KiB, stdout, stderr, exit code).

    `stdin` is None, an open file, or an iterable of bytes chunks streamed to the process."""
    wall, code, usage, stdout, stderr = _spawn(cmd, env, stdin)
    if check and code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{stdout}\n{stderr}")
    return wall, int(usage.ru_maxrss), stdout, stderr, code


def run_cpu(cmd: list[str], env: dict[str, str] | None = None, stdin=None) -> tuple[float, float, str]:
    """Runs `cmd` as `run` does; returns (wall seconds, CPU seconds (user + system), stdout)."""
    wall, code, usage, stdout, stderr = _spawn(cmd, env, stdin)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{stdout}\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, stdout


def chunks(lines: Iterable[bytes], size: int = 1 << 20) -> Iterable[bytes]:
    """Groups small byte strings into chunks of about `size` bytes."""
    buf: list[bytes] = []
    n = 0
    for line in lines:
        buf.append(line)
        n += len(line)
        if n >= size:
            yield b"".join(buf)
            buf, n = [], 0
    if buf:
        yield b"".join(buf)
