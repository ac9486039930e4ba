"""The ``trailseal`` command installed with the package: the Rust command line itself."""

from __future__ import annotations

import signal
import sys

from . import _native


def main() -> None:
    """Runs ``trailseal`` with the process's arguments and exits with its code."""
    # Ctrl-C stops the command as it stops the binary (Python's handler would only set a flag
    # the Rust code never looks at).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    code = _native.cli_main(["trailseal", *sys.argv[1:]])
    raise SystemExit(code)


if __name__ == "__main__":
    main()
