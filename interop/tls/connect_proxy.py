#!/usr/bin/env python3
"""An HTTP CONNECT proxy for the proxied witness tests (`crates/cli/tests/witness_https.rs`).
It listens on 127.0.0.1, answers each `CONNECT` with 200 and then relays bytes to UPSTREAM
(`http://host:port` or `https://host:port`: where the TLS proxy in front of the witness
listens), whatever host the request names (so the witness's name needs no DNS). With
`--require-auth USER:PASSWORD`, a request without that `Proxy-Authorization: Basic` gets 407.
Each request's first line and whether its credentials matched are appended to `--log FILE`
as one JSON object a line. Prints `listening on http://127.0.0.1:PORT` on stderr once ready
and runs until it is killed.

    connect_proxy.py UPSTREAM [--require-auth USER:PASSWORD] [--log FILE]
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import sys
import threading

from relay import pipe


def read_head(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk or len(data) > 16384:
            return None
        data += chunk
    return data


def handle(conn: socket.socket, args: argparse.Namespace, lock: threading.Lock) -> None:
    conn.settimeout(30)
    try:
        head = read_head(conn)
        if head is None:
            return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        expected = None
        if args.require_auth:
            expected = "Basic " + base64.b64encode(args.require_auth.encode()).decode()
        authorized = expected is None or headers.get("proxy-authorization") == expected
        if args.log:
            with lock, open(args.log, "a") as log:
                log.write(json.dumps({"request": lines[0], "authorized": authorized,
                                      "credentials_sent": "proxy-authorization" in headers}) + "\n")
        if method != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        if not authorized:
            conn.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
            return
        host, _, port = args.upstream.split("://", 1)[-1].rstrip("/").rpartition(":")
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
            back.start()
            pipe(conn, upstream)
            back.join(30)
    except OSError:
        pass
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("--require-auth")
    parser.add_argument("--log")
    args = parser.parse_args()
    lock = threading.Lock()
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{listener.getsockname()[1]}", file=sys.stderr, flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn, args, lock), daemon=True).start()


if __name__ == "__main__":
    main()
