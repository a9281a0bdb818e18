#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Checks one benchmark run's archive against the corpus.

usage: verify.py maildir|mbox TARGETDIR EXPECTED_DIR

The archive is found under TARGETDIR: for maildir, TARGETDIR itself when
it has cur/ new/ tmp/, else the first directory below it that has them;
for mbox, TARGETDIR/mbox, else the one largest regular file below
TARGETDIR whose first bytes are "From ".

OK (exit 0) when the archive holds every expected message exactly once,
byte for byte, and nothing else.  A message may carry trace header
fields a delivery agent put in front of the original header (fetchmail's
and mpop's Received:, getmail's Delivered-To:/Return-Path:): up to 8
whole header fields before the original first line are allowed, and so
is mbsync's "X-TUID: " + 12 characters as the header's last field; both
are counted ("prepended"); any other difference is a failure.  mbox: From_
separator lines at the start or after a blank line; the blank line before
the next separator is not part of the message; lines ^>+From lose one ">"
(the corpus has no ">From " line, so mboxrd and mboxo read the same).
Prints one line: "ok N messages[, P with prepended header fields]" or
"FAIL reason".
"""

import hashlib
import os
import re
import sys

QUOTED = re.compile(rb"^>(>*From )", re.M)
# mbsync's own field, the last of the header, with no option to drop it.
XTUID = re.compile(rb"^X-TUID: [A-Za-z0-9+/]{12}\n(?=\n)", re.M)
FIELD = re.compile(rb"[!-9;-~]+:")


def find_maildir(top):
    for d, subdirs, _ in os.walk(top):
        if {"cur", "new", "tmp"} <= set(subdirs):
            return d
    return None


def find_mbox(top):
    p = os.path.join(top, "mbox")
    if os.path.isfile(p):
        return p
    best = None
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    if fh.read(5) != b"From ":
                        continue
            except OSError:
                continue
            if best is None or os.path.getsize(p) > os.path.getsize(best):
                best = p
    return best


def maildir_messages(path):
    left = os.listdir(os.path.join(path, "tmp"))
    if left:
        raise ValueError("%d file(s) left in %s/tmp" % (len(left), path))
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                yield f.read()


def mbox_messages(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return
    if not data.startswith(b"From "):
        raise ValueError("%s does not start with a From_ line" % path)
    # Separators: "From " at the start or right after a blank line.
    seps = [0]
    pos = 0
    while True:
        pos = data.find(b"\n\nFrom ", pos)
        if pos == -1:
            break
        seps.append(pos + 2)
        pos += 2
    for k, off in enumerate(seps):
        eol = data.index(b"\n", off)
        end = seps[k + 1] if k + 1 < len(seps) else len(data)
        body = data[eol + 1:end]
        if body.endswith(b"\n\n"):
            body = body[:-1]
        yield QUOTED.sub(rb"\1", body)


def digest(b):
    return hashlib.sha256(b).digest()


def strip_fields(b):
    """Yields B without its first 1..8 header fields (with continuations)."""
    pos = 0
    for _ in range(8):
        if not FIELD.match(b, pos):
            return
        while True:
            nl = b.find(b"\n", pos)
            if nl == -1:
                return
            pos = nl + 1
            if b[pos:pos + 1] not in (b" ", b"\t"):
                break
        yield b[pos:]


def tool_variants(b):
    """Yields B as it may have been before a tool added its fields: less
    up to 8 fields in front, or less mbsync's X-TUID: at the end of the
    header."""
    yield from strip_fields(b)
    head_end = b.find(b"\n\n")
    m = XTUID.search(b, 0, head_end + 2 if head_end >= 0 else len(b))
    if m:
        yield b[:m.start()] + b[m.end():]


def main(argv):
    if len(argv) != 4 or argv[1] not in ("maildir", "mbox"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    kind, top, expdir = argv[1:]
    want = {}
    for name in os.listdir(expdir):
        with open(os.path.join(expdir, name), "rb") as f:
            want.setdefault(digest(f.read()), []).append(name)
    if kind == "maildir":
        path = find_maildir(top)
        msgs = maildir_messages
    else:
        path = find_mbox(top)
        msgs = mbox_messages
    if path is None:
        print("FAIL no %s archive under %s" % (kind, top))
        return 1
    seen = {}
    n = prepended = 0
    extra = []
    try:
        for b in msgs(path):
            n += 1
            h = digest(b)
            if h not in want:
                h = next((digest(s) for s in tool_variants(b)
                          if digest(s) in want), None)
                if h is None:
                    extra.append(b[:60])
                    continue
                prepended += 1
            seen[h] = seen.get(h, 0) + 1
    except (OSError, ValueError) as e:
        print("FAIL %s" % e)
        return 1
    missing = sum(max(0, len(v) - seen.get(h, 0)) for h, v in want.items())
    dup = sum(max(0, c - len(want[h])) for h, c in seen.items())
    if missing or dup or extra:
        print("FAIL %s: %d archived, %d missing, %d duplicated, %d unknown%s"
              % (path, n, missing, dup, len(extra),
                 " (first unknown starts %r)" % extra[0] if extra else ""))
        return 1
    print("ok %d messages%s" % (n, ", %d with prepended header fields"
                                % prepended if prepended else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
