#!/usr/bin/env python3
"""A stand-in for systemd's notify socket (sd_notify(3)): receives the
datagrams lunard sends and, the moment READY=1 arrives, checks that lunard
really serves: the portal accepts a TCP connect and the control socket
answers `lunarctl system show`. Prints one line per message and per check
to OUT; exits after STOPPING=1, or after TIMEOUT seconds.

Usage: notify_listen.py SOCK PORT LUNARCTL CTLSOCK OUT [TIMEOUT]"""
import os
import socket
import subprocess
import sys
import time

sock_path, port, lunarctl, ctl, out = sys.argv[1:6]
timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 30
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
deadline = time.monotonic() + timeout
with open(out, "w", buffering=1) as f:
    f.write("LISTENING\n")
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = s.recv(4096).decode()
        except socket.timeout:
            break
        for line in data.split("\n"):
            f.write("MSG " + line + "\n")
        if "READY=1" in data.split("\n"):
            try:
                c = socket.create_connection(("127.0.0.1", int(port)), 2)
                c.close()
                f.write("CHECK portal ok\n")
            except OSError as e:
                f.write("CHECK portal failed: %s\n" % e)
            r = subprocess.run([lunarctl, "--control", ctl, "system", "show"],
                               capture_output=True, text=True, timeout=10)
            f.write("CHECK control %s\n" %
                    ("ok" if r.returncode == 0 else
                     "failed: %d %s" % (r.returncode, r.stderr.strip())))
        if "STOPPING=1" in data.split("\n"):
            break
    f.write("DONE\n")
os.unlink(sock_path)
