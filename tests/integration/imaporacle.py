#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The independent IMAP oracle: what mailhaul must archive, and what is
left on the server.

usage: imaporacle.py [--host H] [--port N] [--user U] [--password P]
                     COMMAND [ARGS...]

Talks plaintext IMAP (LOGIN) with python's imaplib, not libetpan and not
our code.  Defaults: 127.0.0.1, $IMAP_PORT, $MAIL_USER, $MAIL_PASS.
FOLDER arguments and printed folder names are UTF-8 display names ("/" the
separator); the oracle does the modified UTF-7 (RFC 3501 5.1.3) itself.
Every read uses EXAMINE and BODY.PEEK[]: nothing on the server changes
(no \\Seen set) except through store.

Server commands:
  fetch DIR [META]  every message of every selectable folder into
                    DIR/<folder>/<uid> ("Lists/dev" -> DIR/Lists/dev/7), as
                    the server sends it with CRLF -> LF (every other byte as
                    is); each file's mtime is the message's INTERNALDATE.
                    META (optional) gets "FOLDER<TAB>UID<TAB>EPOCH<TAB>FLAGS"
                    lines.  Prints "FOLDER UID BYTES" per message.
  folders           "FOLDER<TAB>COUNT" per selectable folder, sorted
  count FOLDER      number of messages
  uids FOLDER       the UIDs, one a line
  flags FOLDER      "UID FLAG..." per message (sorted, \\Recent left out)
  uidvalidity FOLDER
  store FOLDER UID ITEM FLAGS   e.g. store INBOX 3 +FLAGS '\\Deleted'
                    (never expunges; LOGOUT does not expunge either)
  expunge FOLDER    EXPUNGE: removes FOLDER's \\Deleted messages
  create FOLDER
  raw-list          the LIST "" "*" reply lines, as sent

Local commands (no connection):
  mutf7 NAME        prints NAME in modified UTF-7
  check-mtime MAILDIR EXPDIR
                    every message file in MAILDIR/{new,cur} has the mtime of
                    the expected file (under EXPDIR, recursively) with the
                    same bytes; exit 1 and say which do not
  check-flags MAILDIR EXPDIR META
                    every archived message is where its server flags (META
                    from fetch) put it: no Maildir flag -> new/ (no ":2,"),
                    otherwise cur/NAME:2,<letters> with \\Draft D, \\Flagged
                    F, \\Answered R, \\Seen S in ASCII order
"""

import argparse
import base64
import calendar
import hashlib
import imaplib
import os
import re
import sys
import time

imaplib._MAXLINE = 1 << 30

MONTHS = {m: i + 1 for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R",
                 "\\Seen": "S"}


class OracleError(Exception):
    pass


# ------------------------------------------------------------ mUTF-7

def mutf7_encode(name):
    out, run = [], []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode("ascii")
                       .rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        j = name.index("-", i)
        if j == i + 1:
            out.append("&")
        else:
            b64 = name[i + 1:j].replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------ IMAP

def check(typ, data, what):
    if typ != "OK":
        raise OracleError("%s: %s %r" % (what, typ, data))
    return data


LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<sep>NIL|"(?:[^"\\]|\\.)*") '
                     rb'(?P<name>.*)$')


def unquote(b):
    if b.startswith(b'"') and b.endswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', b[1:-1])
    return b


def list_folders(m):
    """[(display name, wire name, flags)] for LIST "" "*"."""
    data = check(*m.list('""', '"*"'), what="LIST")
    out = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):      # name as a literal
            head, lit = item
            mo = LIST_RE.match(head.rsplit(b" ", 1)[0] + b" x")
            wire = lit
        else:
            mo = LIST_RE.match(item)
            wire = unquote(mo.group("name")) if mo else None
        if not mo:
            raise OracleError("unparsable LIST line %r" % (item,))
        wire = wire.decode("ascii")
        flags = mo.group("flags").decode("ascii").split()
        out.append((mutf7_decode(wire), wire, flags))
    return out


def selectable(m):
    return sorted((d, w) for d, w, f in list_folders(m)
                  if "\\noselect" not in [x.lower() for x in f]
                  and "\\nonexistent" not in [x.lower() for x in f])


def examine(m, folder, readonly=True):
    typ, data = m.select(quote(mutf7_encode(folder)), readonly=readonly)
    check(typ, data, "SELECT %s" % folder)
    return int(data[0])


DATE_RE = re.compile(rb'INTERNALDATE "([ 0-9]\d)-(\w{3})-(\d{4}) '
                     rb'(\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)"')
UID_RE = re.compile(rb'\bUID (\d+)')
FLAGS_RE = re.compile(rb'\bFLAGS \(([^)]*)\)')


def internaldate(b):
    mo = DATE_RE.search(b)
    if not mo:
        raise OracleError("no INTERNALDATE in %r" % b)
    d, mon, y, hh, mm, ss, sign, oh, om = mo.groups()
    t = calendar.timegm((int(y), MONTHS[mon.decode()], int(d), int(hh),
                         int(mm), int(ss), 0, 0, 0))
    off = (int(oh) * 60 + int(om)) * 60
    return t - off if sign == b"+" else t + off


def meta(m, folder):
    """[(uid, epoch, [flags])] of FOLDER, by UID."""
    if examine(m, folder) == 0:
        return []
    data = check(*m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE)"),
                 what="UID FETCH meta")
    out = []
    for item in data:
        if item is None:
            continue
        line = item[0] if isinstance(item, tuple) else item
        uid = int(UID_RE.search(line).group(1))
        fl = FLAGS_RE.search(line).group(1).decode().split()
        fl = sorted(f for f in fl if f != "\\Recent")
        out.append((uid, internaldate(line), fl))
    return sorted(out)


def body(m, uid):
    data = check(*m.uid("FETCH", str(uid), "(BODY.PEEK[])"),
                 what="UID FETCH %d BODY.PEEK[]" % uid)
    for item in data:
        if isinstance(item, tuple) and b"BODY[]" in item[0]:
            return item[1]
    raise OracleError("UID %d: no BODY[] in the reply %r" % (uid, data))


def cmd_fetch(m, outdir, metafile=None):
    lines = []
    for folder, _ in selectable(m):
        d = os.path.join(outdir, *folder.split("/"))
        os.makedirs(d, exist_ok=True)
        for uid, epoch, fl in meta(m, folder):
            b = body(m, uid).replace(b"\r\n", b"\n")
            p = os.path.join(d, str(uid))
            with open(p, "wb") as f:
                f.write(b)
            os.utime(p, (epoch, epoch))
            lines.append("%s\t%d\t%d\t%s" % (folder, uid, epoch, " ".join(fl)))
            print("%s %d %d" % (folder, uid, len(b)))
    if metafile:
        with open(metafile, "w", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in lines))


def server_command(args):
    m = imaplib.IMAP4(args.host, args.port, timeout=120)
    try:
        check(*m.login(args.user, args.password), what="LOGIN")
        c, a = args.command, args.args
        if c == "fetch" and len(a) in (1, 2):
            cmd_fetch(m, *a)
        elif c == "folders" and not a:
            for folder, _ in selectable(m):
                print("%s\t%d" % (folder, examine(m, folder)))
        elif c == "count" and len(a) == 1:
            print(examine(m, a[0]))
        elif c == "uids" and len(a) == 1:
            for uid, _, _ in meta(m, a[0]):
                print(uid)
        elif c == "flags" and len(a) == 1:
            for uid, _, fl in meta(m, a[0]):
                print(" ".join([str(uid)] + fl))
        elif c == "uidvalidity" and len(a) == 1:
            data = check(*m.status(quote(mutf7_encode(a[0])), "(UIDVALIDITY)"),
                         what="STATUS")
            print(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1).decode())
        elif c == "store" and len(a) == 4:
            examine(m, a[0], readonly=False)
            check(*m.uid("STORE", a[1], a[2], "(%s)" % a[3]), what="STORE")
        elif c == "expunge" and len(a) == 1:
            examine(m, a[0], readonly=False)
            check(*m.expunge(), what="EXPUNGE")
        elif c == "create" and len(a) == 1:
            check(*m.create(quote(mutf7_encode(a[0]))), what="CREATE")
        elif c == "raw-list" and not a:
            for item in check(*m.list('""', '"*"'), what="LIST"):
                print(item)
        else:
            raise OracleError("bad command or arguments: %s %s"
                              % (c, " ".join(a)))
    finally:
        try:
            m.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


# ------------------------------------------------------------ local checks

def expected_by_hash(expdir):
    """sha256 -> [(relative path, mtime)] for every file under EXPDIR."""
    out = {}
    for root, _, files in os.walk(expdir):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).digest()
            out.setdefault(h, []).append(
                (os.path.relpath(p, expdir), int(os.stat(p).st_mtime)))
    return out


def archived(maildir):
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for n in sorted(os.listdir(d)):
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).digest()
            yield sub, n, p, h


def check_mtime(maildir, expdir):
    exp = expected_by_hash(expdir)
    bad, n = [], 0
    for sub, name, p, h in archived(maildir):
        n += 1
        if h not in exp:
            bad.append("%s/%s: matches no expected message" % (sub, name))
            continue
        got = int(os.stat(p).st_mtime)
        want = {t for _, t in exp[h]}
        if got not in want:
            bad.append("%s/%s (%s): mtime %s, want INTERNALDATE %s"
                       % (sub, name, exp[h][0][0], fmt(got),
                          " or ".join(fmt(t) for t in sorted(want))))
    if n == 0:
        bad.append("%s: no archived message to check" % maildir)
    if bad:
        print("\n".join(bad))
        return 1
    print("%d archived messages have their INTERNALDATE as mtime" % n)
    return 0


def fmt(t):
    return "%d (%s)" % (t, time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                         time.gmtime(t)))


def check_flags(maildir, expdir, metafile):
    want_info = {}
    with open(metafile, encoding="utf-8") as f:
        for line in f:
            folder, uid, _, fl = line.rstrip("\n").split("\t")
            letters = "".join(sorted(MAILDIR_FLAGS[x] for x in fl.split()
                                     if x in MAILDIR_FLAGS))
            want_info[os.path.join(*folder.split("/"), uid)] = letters
    exp = expected_by_hash(expdir)
    bad, n = [], 0
    for sub, name, _, h in archived(maildir):
        n += 1
        if h not in exp:
            bad.append("%s/%s: matches no expected message" % (sub, name))
            continue
        wants = {want_info[r] for r, _ in exp[h]}
        base, info = (name.split(":", 1) + [None])[:2]
        ok = False
        for letters in wants:
            if letters == "":
                ok = ok or (sub == "new" and info is None)
            else:
                ok = ok or (sub == "cur" and info == "2," + letters)
        if not ok:
            bad.append("%s/%s (%s): want %s" % (
                sub, name, exp[h][0][0], " or ".join(
                    "new/ without info" if x == "" else "cur/...:2," + x
                    for x in sorted(wants))))
    if n == 0:
        bad.append("%s: no archived message to check" % maildir)
    if bad:
        print("\n".join(bad))
        return 1
    print("%d archived messages are where their flags put them" % n)
    return 0


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    env = os.environ.get
    ap.add_argument("--port", type=int, default=int(env("IMAP_PORT", "143")))
    ap.add_argument("--user", default=env("MAIL_USER", "alice"))
    ap.add_argument("--password", default=env("MAIL_PASS", "secret"))
    ap.add_argument("command")
    ap.add_argument("args", nargs="*")
    args = ap.parse_args()
    c, a = args.command, args.args
    try:
        if c == "mutf7" and len(a) == 1:
            print(mutf7_encode(a[0]))
            return 0
        if c == "check-mtime" and len(a) == 2:
            return check_mtime(*a)
        if c == "check-flags" and len(a) == 3:
            return check_flags(*a)
        server_command(args)
    except (OracleError, imaplib.IMAP4.error, OSError) as e:
        print("imaporacle: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
