#!/usr/bin/env python3
"""A TLS-terminating TCP proxy for the https witness tests (`crates/cli/tests/witness_https.rs`):
OpenSSL, through Python's `ssl`, serves CERT and KEY on 127.0.0.1 and forwards each
connection's plaintext to UPSTREAM (`http://host:port`, a real aics-witness). It prints
`listening on https://127.0.0.1:PORT` on stderr once ready and runs until it is killed.

    proxy.py CERT KEY UPSTREAM
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading

from relay import pipe


def handle(raw: socket.socket, context: ssl.SSLContext, upstream: tuple[str, int]) -> None:
    raw.settimeout(30)
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        with socket.create_connection(upstream, timeout=30) as server:
            # close_notify at the end: the client can tell the end from a cut.
            back = threading.Thread(target=pipe, args=(server, client, ssl.SSLSocket.unwrap), daemon=True)
            back.start()
            pipe(client, server)
            back.join(30)
    except OSError:
        pass
    finally:
        client.close()


def main() -> None:
    cert, key, upstream = sys.argv[1:4]
    host, _, port = upstream.removeprefix("http://").rstrip("/").rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"listening on https://127.0.0.1:{listener.getsockname()[1]}", file=sys.stderr, flush=True)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=handle, args=(raw, context, (host, int(port))), daemon=True).start()


if __name__ == "__main__":
    main()
