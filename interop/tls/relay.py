"""Byte relaying shared by the test proxies of this directory (`proxy.py`, `connect_proxy.py`)."""

from __future__ import annotations

import socket
from collections.abc import Callable


def pipe(source: socket.socket, sink: socket.socket, finish: Callable[[socket.socket], None] | None = None) -> None:
    """Copies `source` to `sink` until `source` ends, then ends `sink`'s sending side:
    `finish(sink)` when given (a TLS socket's close_notify), else a TCP half-close."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            if finish is not None:
                finish(sink)
            else:
                sink.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            pass
