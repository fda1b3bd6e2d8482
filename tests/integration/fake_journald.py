#!/usr/bin/env python3
"""A stand-in for systemd-journald's native socket: receives the entries
lunard sends with sd_journal_sendv (the native protocol: FIELD=value
lines, or FIELD, newline, a 64-bit little-endian length and the value
for values with newlines) and writes each as one JSON object per line to
OUT, until killed or TIMEOUT seconds pass.

Usage: fake_journald.py SOCK OUT [TIMEOUT]"""
import json
import socket
import struct
import sys
import time

sock_path, out = sys.argv[1:3]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60


def parse(data):
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode(errors="replace")
    return fields


s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
deadline = time.monotonic() + timeout
with open(out, "w", buffering=1) as f:
    f.write('{"LISTENING": "1"}\n')
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        try:
            f.write(json.dumps(parse(data)) + "\n")
        except (ValueError, struct.error) as e:
            f.write(json.dumps({"BAD": str(e)}) + "\n")
