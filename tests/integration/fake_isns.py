#!/usr/bin/env python3
"""A hostile iSNS "server" for tests/integration/isns.sh.

Usage: fake_isns.py PORT

Accepts five connections on 127.0.0.1:PORT. Each gets one malformed answer
to the client's first request: a bad version, a response without a status,
an attribute running past the PDU, a PDU length beyond what is sent, then
random bytes. Prints "answered N" after each, and exits.
"""
import random
import socket
import struct
import sys


def answer(i, func, xid, rnd):
    rsp = func | 0x8000
    if i == 0:
        return struct.pack(">HHHHHH", 2, rsp, 4, 0x4C00, xid, 0) + bytes(4)
    if i == 1:
        return struct.pack(">HHHHHH", 1, rsp, 0, 0x4C00, xid, 0)
    if i == 2:
        body = struct.pack(">III", 0, 32, 0xFFFFFFF0) + b"abcd"
        return struct.pack(">HHHHHH", 1, rsp, len(body), 0x4C00, xid, 0) + body
    if i == 3:
        body = struct.pack(">III", 0, 6, 4)
        return struct.pack(">HHHHHH", 1, rsp, 0xFFFC, 0x4C00, xid, 0) + body
    return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 64)))


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(4)
    srv.settimeout(60)
    rnd = random.Random(7)
    for i in range(5):
        c, _ = srv.accept()
        c.settimeout(10)
        hdr = recv_exact(c, 12)
        if len(hdr) == 12:
            _, func, length, _, xid, _ = struct.unpack(">HHHHHH", hdr)
            recv_exact(c, length)
            c.sendall(answer(i, func, xid, rnd))
        c.close()
        print("answered", i, flush=True)


main()
