#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Checks a mailhaul archive against the oracle's expected messages.

usage: archive.py check maildir|mbox PATH EXPECTED_DIR
       archive.py count maildir|mbox PATH

check: exit 0 when the multiset of archived messages equals the files in
EXPECTED_DIR exactly (each expected message once, nothing else); otherwise
exit 1 and say which message is missing, duplicated or different (with the
first differing byte).  Exit 2 when the archive is malformed.

Maildir: every file in new/ and cur/ is one message, byte for byte; a file
left in tmp/ is an error.  mbox (mboxrd): a message starts with a "From "
line at the start of the file or after a blank line; each message is
followed by one blank line that is not part of it; in the message, lines
matching ^>+From lose one ">".  Every From_ line must look like
"From SENDER Www Mmm dd hh:mm:ss yyyy".
"""

import collections
import hashlib
import os
import re
import sys

FROM_RE = re.compile(
    rb"^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
    rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"[ 0-9]\d \d\d:\d\d:\d\d \d{4}$")
QUOTED_RE = re.compile(rb"^>+From ")
MSGID_RE = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)


class Malformed(Exception):
    pass


def read_maildir(path):
    if not os.path.isdir(path):
        raise Malformed("%s: no such Maildir" % path)
    for sub in ("cur", "new", "tmp"):
        if not os.path.isdir(os.path.join(path, sub)):
            raise Malformed("%s: %s/ is missing" % (path, sub))
    left = sorted(os.listdir(os.path.join(path, "tmp")))
    if left:
        raise Malformed("%s: files left in tmp/: %s" % (path, ", ".join(left)))
    msgs = []
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                raise Malformed("%s: not a regular file" % p)
            with open(p, "rb") as f:
                msgs.append(("%s/%s" % (sub, name), f.read()))
    return msgs


def read_mbox(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return []
    if not data.startswith(b"From "):
        raise Malformed("%s: does not start with a From_ line: %r"
                        % (path, data[:60]))
    # Offsets of every line, then every separator line.
    starts = [0]
    pos = data.find(b"\n")
    while pos != -1 and pos + 1 < len(data):
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    seps = []
    for i, off in enumerate(starts):
        if not data.startswith(b"From ", off):
            continue
        if i > 0 and starts[i] - starts[i - 1] != 1:
            end = data.find(b"\n", off)
            raise Malformed(
                "%s: unquoted From line at offset %d not preceded by a blank "
                "line (mboxrd quoting missing?): %r"
                % (path, off, data[off:end if end != -1 else off + 80]))
        seps.append(off)
    msgs = []
    for k, off in enumerate(seps):
        eol = data.find(b"\n", off)
        if eol == -1:
            raise Malformed("%s: From_ line at offset %d has no end"
                            % (path, off))
        line = data[off:eol]
        if not FROM_RE.match(line):
            raise Malformed("%s: bad From_ line (or unquoted body line) at "
                            "offset %d: %r" % (path, off, line))
        end = seps[k + 1] if k + 1 < len(seps) else len(data)
        chunk = data[eol + 1:end]
        if not chunk.endswith(b"\n\n"):
            raise Malformed(
                "%s: message %d (From_ line at offset %d) is not followed "
                "by a blank line; it ends with %r"
                % (path, k + 1, off, chunk[-40:]))
        chunk = chunk[:-1]
        lines = chunk.split(b"\n")
        lines = [l[1:] if QUOTED_RE.match(l) else l for l in lines]
        msgs.append(("message %d (From_ line at offset %d: %s)"
                     % (k + 1, off, line.decode("latin-1")),
                     b"\n".join(lines)))
    return msgs


def read_archive(kind, path):
    if kind == "maildir":
        return read_maildir(path)
    if kind == "mbox":
        if not os.path.exists(path):
            raise Malformed("%s: no such mbox" % path)
        return read_mbox(path)
    raise Malformed("unknown archive kind %r (maildir|mbox)" % kind)


def msgid(b):
    m = MSGID_RE.search(b.split(b"\n\n", 1)[0])
    return m.group(1) if m else None


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def explain(label, got, expected):
    """Describes how GOT differs from the most similar expected message."""
    gid = msgid(got)
    best = None
    for name, want in expected.items():
        score = (gid is not None and msgid(want) == gid, first_diff(got, want))
        if best is None or score > best[0]:
            best = (score, name, want)
    _, name, want = best
    off = first_diff(got, want)
    return [
        "  %s (%d bytes) matches no expected message" % (label, len(got)),
        "  closest expected: %s (%d bytes); first difference at byte %d"
        % (name, len(want), off),
        "    got:  %r" % got[max(0, off - 20):off + 40],
        "    want: %r" % want[max(0, off - 20):off + 40],
    ]


def check(kind, path, expdir):
    expected = {}
    for name in sorted(os.listdir(expdir)):
        with open(os.path.join(expdir, name), "rb") as f:
            expected[name] = f.read()
    try:
        got = read_archive(kind, path)
    except (Malformed, OSError) as e:
        print("archive malformed: %s" % e)
        return 2
    by_hash = collections.defaultdict(list)
    for name, b in expected.items():
        by_hash[hashlib.sha256(b).digest()].append(name)
    seen = collections.defaultdict(list)
    problems = []
    for label, b in got:
        h = hashlib.sha256(b).digest()
        if h in by_hash:
            seen[h].append(label)
        else:
            problems.extend(explain(label, b, expected))
    for h, names in sorted(by_hash.items(), key=lambda x: x[1]):
        n = len(seen.get(h, []))
        if n < len(names):
            problems.append("  missing: %s (%d bytes)%s"
                            % (", ".join(names), len(expected[names[0]]),
                               "" if n == 0 else
                               " - archived %d of %d copies" % (n, len(names))))
        elif n > len(names):
            problems.append("  duplicated: %s archived %d times: %s"
                            % (", ".join(names), n, "; ".join(seen[h])))
    if problems:
        print("archive %s:%s differs from %s (%d archived, %d expected):"
              % (kind, path, expdir, len(got), len(expected)))
        print("\n".join(problems))
        return 1
    print("archive %s:%s holds the %d expected messages, each once"
          % (kind, path, len(expected)))
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "count":
        try:
            print(len(read_archive(argv[2], argv[3])))
        except (Malformed, OSError) as e:
            print("archive malformed: %s" % e, file=sys.stderr)
            return 2
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
