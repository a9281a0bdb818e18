#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The independent oracle: what mailhaul must archive.

usage: pop3oracle.py HOST PORT USER PASS DIR

Logs in over plaintext POP3 with python's poplib (not libetpan, not our
code), lists UIDLs and RETRs every message WITHOUT deleting anything, and
writes each one to DIR/<UIDL>: the dot-unstuffed lines joined with LF, each
line followed by LF (CRLF -> LF, every other byte as the server sent it).
Prints one line per message: "UIDL SIZE-ON-WIRE BYTES-WRITTEN".
"""

import os
import poplib
import re
import sys

# poplib refuses lines over 2048 bytes by default; our seeds have a 20,000
# byte line and a multi-megabyte message.
poplib._MAXLINE = 1 << 30

UIDL_RE = re.compile(rb"^[\x21-\x7e]{1,70}$")


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__.strip())
    host, port, user, password, outdir = sys.argv[1:]
    os.makedirs(outdir, exist_ok=True)
    pop = poplib.POP3(host, int(port), timeout=60)
    try:
        pop.user(user)
        pop.pass_(password)
        _, listing, _ = pop.uidl()
        for entry in listing:
            num, uidl = entry.split(b" ", 1)
            if not UIDL_RE.match(uidl):
                sys.exit("oracle: unusable UIDL %r" % uidl)
            _, lines, octets = pop.retr(int(num))
            body = b"".join(line + b"\n" for line in lines)
            name = uidl.decode("ascii")
            if name.startswith(".") or "/" in name:
                sys.exit("oracle: UIDL %r cannot be a file name" % name)
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(body)
            print("%s %d %d" % (name, octets, len(body)))
        # QUIT without DELE: nothing is removed.
        pop.quit()
    except poplib.error_proto as e:
        sys.exit("oracle: POP3 error: %s" % e)


if __name__ == "__main__":
    main()
