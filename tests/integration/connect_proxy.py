#!/usr/bin/env python3
"""A small HTTP CONNECT proxy for the integration tests (stdlib only).

Usage: connect_proxy.py LOGFILE
Listens on 127.0.0.1 on a free port and prints the port on stdout. For
every CONNECT it appends one line to LOGFILE:
    CONNECT <host:port> auth=<decoded Proxy-Authorization or ->
answers "HTTP/1.1 200 Connection established" and relays bytes both ways.
Runs until killed.
"""
import base64
import socket
import sys
import threading


def relay(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(conn, logfile):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            conn.close()
            return
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) < 2 or parts[0] != "CONNECT":
        conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
        conn.close()
        return
    auth = "-"
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "proxy-authorization":
            kind, _, b64 = value.strip().partition(" ")
            if kind.lower() == "basic":
                auth = base64.b64decode(b64).decode("latin-1")
    with open(logfile, "a") as f:
        f.write("CONNECT %s auth=%s\n" % (parts[1], auth))
    host, _, port = parts[1].rpartition(":")
    try:
        up = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        up.settimeout(None)
    except OSError:
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
        conn.close()
        return
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    if rest:
        up.sendall(rest)
    threading.Thread(target=relay, args=(conn, up), daemon=True).start()
    threading.Thread(target=relay, args=(up, conn), daemon=True).start()


def main():
    logfile = sys.argv[1]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, logfile), daemon=True).start()


if __name__ == "__main__":
    main()
