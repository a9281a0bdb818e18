#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Reads a mailhaul archive with other programs' readers and compares
what each reader sees with the oracle's expected messages.

usage: readers.py pymaildir MAILDIR EXPECTED_DIR
       readers.py pymbox MBOX EXPECTED_DIR
       readers.py split DIR EXPECTED_DIR
       readers.py imap PORT USER PASSWORD EXPECTED_DIR maildir|mbox

pymaildir, pymbox: python's mailbox.Maildir / mailbox.mbox.  python's mbox
reader does no mboxrd unquoting, so one ">" is taken off lines matching
^>+From  before comparing.

split: DIR holds one file per message as "formail -s" wrote them: the From_
line, the message, and the blank line that separated it from the next one
(the last message too); both are taken off and the message unquoted as
above.

imap: a dovecot whose mail_location is the archive, over plain IMAP:
EXAMINE INBOX, the message count, and every message's BODY.PEEK[] (CRLF
made LF).  dovecot's mbox driver does not unquote mboxrd either (it serves
the quoted ">From " lines), and it hides the headers it uses for its own
bookkeeping (Content-Length, Status, X-Status, X-Keywords, X-UID, X-IMAP,
X-IMAPbase); so with "mbox" the expected message is quoted as mailhaul
stores it and those headers are taken out before comparing.  Over IMAP,
dovecot sends a NUL byte as 0x80 (checked with 2.3.19): so is expected.

Every command prints "N messages" and exits 0 when the reader saw exactly
the expected messages, each once, byte for byte; otherwise it says which
are missing or unexpected and exits 1 (2: the reader failed).
"""

import collections
import hashlib
import imaplib
import mailbox
import os
import re
import sys

QUOTED_RE = re.compile(rb"^>+From ", re.M)
FROM_RE = re.compile(rb"^(>*From )", re.M)
MSGID_RE = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)
# The headers dovecot's mbox driver keeps to itself (mbox_hide_headers in
# src/lib-storage/index/mbox/mbox-storage.c, dovecot 2.3).
HIDDEN_RE = re.compile(
    rb"^(Content-Length|Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase)"
    rb":.*\n([ \t].*\n)*", re.I | re.M)


def unquote(b):
    return QUOTED_RE.sub(lambda m: m.group(0)[1:], b)


def quote(b):
    return FROM_RE.sub(rb">\1", b)


def hide(b):
    """The message as dovecot's mbox driver serves it: without its
    bookkeeping headers (in the header section only)."""
    if b"\n\n" in b:
        h, body = b.split(b"\n\n", 1)
        return HIDDEN_RE.sub(b"", h + b"\n") + b"\n" + body
    return HIDDEN_RE.sub(b"", b)


def label(b):
    m = MSGID_RE.search(b.split(b"\n\n", 1)[0])
    return (m.group(1).decode("latin-1") if m else "(no Message-ID)",
            len(b))


def load_expected(expdir, transform=None):
    out = []
    for name in sorted(os.listdir(expdir)):
        with open(os.path.join(expdir, name), "rb") as f:
            b = f.read()
        out.append(transform(b) if transform else b)
    return out


def compare(reader, got, expected):
    """GOT, EXPECTED: lists of message bytes.  Prints the verdict."""
    want = collections.Counter(hashlib.sha256(b).digest() for b in expected)
    have = collections.Counter(hashlib.sha256(b).digest() for b in got)
    if want == have:
        print("%s: %d messages" % (reader, len(got)))
        return 0
    print("%s: %d messages, %d expected" % (reader, len(got), len(expected)))
    byhash = {hashlib.sha256(b).digest(): b for b in expected + got}
    for h, n in sorted((want - have).items()):
        print("  missing%s: %s, %d bytes"
              % ((" (x%d)" % n if n > 1 else "",) + label(byhash[h])))
    for h, n in sorted((have - want).items()):
        b = byhash[h]
        print("  unexpected%s: %s, %d bytes; starts %r; ends %r"
              % ((" (x%d)" % n if n > 1 else "",) + label(b)
                 + (b[:60], b[-60:])))
    return 1


def cmd_pymaildir(path, expdir):
    md = mailbox.Maildir(path, factory=None, create=False)
    got = [md.get_bytes(k) for k in md.keys()]
    return compare("python mailbox.Maildir", got, load_expected(expdir))


def cmd_pymbox(path, expdir):
    mb = mailbox.mbox(path, factory=None, create=False)
    got = [unquote(mb.get_bytes(k)) for k in mb.keys()]
    return compare("python mailbox.mbox", got, load_expected(expdir))


def cmd_split(d, expdir):
    got = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            b = f.read()
        if not b.startswith(b"From ") or b"\n" not in b:
            print("formail -s: %s does not start with a From_ line: %r"
                  % (name, b[:60]))
            return 1
        b = b.split(b"\n", 1)[1]
        if b.endswith(b"\n\n"):
            b = b[:-1]
        got.append(unquote(b))
    return compare("formail -s", got, load_expected(expdir))


def cmd_imap(port, user, password, expdir, kind):
    imaplib._MAXLINE = 1 << 30
    try:
        c = imaplib.IMAP4("127.0.0.1", int(port), timeout=30)
        c.login(user, password)
        typ, data = c.select("INBOX", readonly=True)
        if typ != "OK":
            print("dovecot: EXAMINE INBOX failed: %r" % data)
            return 2
        n = int(data[0])
        got = []
        if n:
            typ, data = c.fetch("1:*", "(BODY.PEEK[])")
            if typ != "OK":
                print("dovecot: FETCH failed: %r" % data)
                return 2
            for item in data:
                if isinstance(item, tuple):
                    got.append(item[1].replace(b"\r\n", b"\n"))
        c.logout()
    except (OSError, imaplib.IMAP4.error) as e:
        print("dovecot: IMAP error: %s" % e)
        return 2
    if len(got) != n:
        print("dovecot: EXISTS %d but FETCH returned %d messages"
              % (n, len(got)))
        return 1
    # dovecot's IMAP server sends a NUL byte as 0x80 (RFC 3501 forbids NUL
    # in a literal); the file holds the NUL.
    if kind == "mbox":
        expected = load_expected(
            expdir, lambda b: hide(quote(b)).replace(b"\0", b"\x80"))
    else:
        expected = load_expected(expdir, lambda b: b.replace(b"\0", b"\x80"))
    return compare("dovecot (%s)" % kind, got, expected)


def main(argv):
    cmds = {
        "pymaildir": (cmd_pymaildir, 2),
        "pymbox": (cmd_pymbox, 2),
        "split": (cmd_split, 2),
        "imap": (cmd_imap, 5),
    }
    if len(argv) < 2 or argv[1] not in cmds or \
            len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    fn = cmds[argv[1]][0]
    try:
        return fn(*argv[2:])
    except (OSError, mailbox.Error) as e:
        print("%s: %s" % (argv[1], e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
