#!/usr/bin/env python3
"""A hostile MQTT v5 broker for the example tools' tests (one client).

    fake_broker.py MODE PORT-FILE

Listens on a free loopback port, writes the port number to PORT-FILE, then
serves one client at a time until killed:
  hostile-topic  SUBACK every SUBSCRIBE, then send one QoS 0 PUBLISH whose
                 topic holds ESC, CR, LF, NUL and 0xFF
  no-ack         CONNACK, then never answer a PUBLISH or SUBSCRIBE
PINGREQ is answered in every mode.
"""
import socket
import sys


def read_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_packet(c):
    head = read_exact(c, 1)[0]
    length, mult = 0, 1
    for _ in range(4):
        b = read_exact(c, 1)[0]
        length += (b & 127) * mult
        mult *= 128
        if not b & 128:
            break
    return head >> 4, read_exact(c, length)


def vbi(n):
    out = b""
    while True:
        b = n % 128
        n //= 128
        out += bytes([b | (128 if n else 0)])
        if not n:
            return out


def packet(kind, body):
    return bytes([kind]) + vbi(len(body)) + body


def serve(c, mode):
    kind, _ = read_packet(c)
    if kind != 1:
        return
    c.sendall(packet(0x20, b"\x00\x00\x00"))  # CONNACK: success, no properties
    while True:
        kind, body = read_packet(c)
        if kind == 12:  # PINGREQ
            c.sendall(b"\xd0\x00")
        elif kind == 8 and mode == "hostile-topic":  # SUBSCRIBE
            c.sendall(packet(0x90, body[:2] + b"\x00\x00"))  # SUBACK granted QoS 0
            topic = b"evil/\x1b[31mred\r\nfake line\x00nul\xffend"
            c.sendall(packet(0x30, len(topic).to_bytes(2, "big") + topic + b"\x00" + b"hi"))
        elif kind == 14:  # DISCONNECT
            return


def main():
    mode, port_file = sys.argv[1], sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    while True:
        c, _ = s.accept()
        try:
            serve(c, mode)
        except (EOFError, OSError):
            pass
        finally:
            c.close()


if __name__ == "__main__":
    main()
