#!/usr/bin/env python3
"""Summarises the iSCSI PDUs a target sent (a fuzz_iscsi LUNAR_FUZZ_DUMP
file): one line per PDU, or with --check, whether every session in the
file logged in and was answered as a well-behaved seed must be.

Usage: responses.py [--digests] [--check login|reject] FILE
  --digests       header/data digests follow the final login response
  --check login   each session: Login accepted, >= 1 GOOD SCSI status,
                  no Reject
  --check accepted  each session: Login accepted, no Reject (discovery)
  --check reject  each session: the login was refused (class 2)
Exit 0 when the check holds, 1 with the reason otherwise.
"""
import sys

NAMES = {0x20: "NOP-In", 0x21: "SCSI-Response", 0x22: "TMF-Response",
         0x23: "Login-Response", 0x24: "Text-Response", 0x25: "Data-In",
         0x26: "Logout-Response", 0x31: "R2T", 0x32: "Async", 0x3f: "Reject"}


def pdus(data, digests):
    i = 0
    ffp = False
    while i + 48 <= len(data):
        bhs = data[i:i + 48]
        op = bhs[0] & 0x3f
        ahs = bhs[4] * 4
        dlen = int.from_bytes(bhs[5:8], "big")
        # a Login Response is never digested: it also starts the next
        # session of the file when the last one ended without a Logout
        dg = 4 if digests and ffp and op != 0x23 else 0
        start = i + 48 + ahs + dg
        yield op, bhs, data[start:start + dlen]
        i = start + dlen + (4 - dlen % 4) % 4 + (dg if dlen else 0)
        if op == 0x23 and bhs[1] & 0x80 and bhs[1] & 3 == 3 and bhs[36] == 0:
            ffp = True
        if op == 0x26:
            ffp = False  # the next session of the file starts without


def describe(op, bhs, seg):
    s = "%s ITT 0x%08x" % (NAMES.get(op, "op 0x%02x" % op),
                           int.from_bytes(bhs[16:20], "big"))
    if op == 0x21:
        s += " status 0x%02x" % bhs[3]
        if len(seg) > 15:
            s += " sense %x/%02x/%02x" % (seg[4] & 0xf, seg[14], seg[15])
    elif op == 0x25 and bhs[1] & 1:
        s += " status 0x%02x" % bhs[3]
    elif op == 0x23:
        s += " status %d/%d" % (bhs[36], bhs[37])
    elif op == 0x3f:
        s += " reason 0x%02x" % bhs[2]
    return s


def sessions(data, digests):
    """Per session (a Login Response with ITT 1 starts one, as in the
    seeds): accepted or not, GOOD statuses, Rejects."""
    out = []
    for op, bhs, seg in pdus(data, digests):
        itt = int.from_bytes(bhs[16:20], "big")
        if op == 0x23 and itt == 1:
            out.append({"logged_in": None, "good": 0, "rejects": 0})
        if not out:
            continue
        cur = out[-1]
        if op == 0x23:
            cur["logged_in"] = bhs[36] == 0
        elif op == 0x21 and bhs[2] == 0 and bhs[3] == 0:
            cur["good"] += 1
        elif op == 0x25 and bhs[1] & 1 and bhs[3] == 0:
            cur["good"] += 1  # status with the last Data-In
        elif op == 0x3f:
            cur["rejects"] += 1
    return out


def main():
    args = sys.argv[1:]
    digests = "--digests" in args
    args = [a for a in args if a != "--digests"]
    check = None
    if args and args[0] == "--check":
        check = args[1]
        args = args[2:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data = open(args[0], "rb").read()
    if check is None:
        for op, bhs, seg in pdus(data, digests):
            print(describe(op, bhs, seg))
        return 0
    found = sessions(data, digests)
    if not found:
        print("no Login Response at all")
        return 1
    for n, s in enumerate(found, 1):
        if check == "login":
            if not s["logged_in"]:
                print("session %d: the login was not accepted" % n)
                return 1
            if s["good"] == 0:
                print("session %d: no command ended with GOOD" % n)
                return 1
            if s["rejects"]:
                print("session %d: %d Reject PDUs" % (n, s["rejects"]))
                return 1
        elif check == "accepted":
            if not s["logged_in"] or s["rejects"]:
                print("session %d: login accepted %s, %d Rejects" %
                      (n, s["logged_in"], s["rejects"]))
                return 1
        elif check == "reject":
            if s["logged_in"] is not False:
                print("session %d: the login was not refused" % n)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
