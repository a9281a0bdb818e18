#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Writes the benchmark's message corpus: the same bytes for the same
arguments, so that runs on different days compare.

usage: corpus.py --scenario full|repoll|big --count N OUTDIR
       corpus.py --scenario accounts --accounts A --count N OUTDIR

Each message is one file OUTDIR/NNNNNN with LF line ends (dovecot serves
them with CRLF).  Scenario accounts: A mailboxes of N messages each, in
OUTDIR/acct001, OUTDIR/acct002, ...; each account has a seed of its own
(the seed plus its number) and its number in every Message-ID, so no two
accounts hold the same message.  Sizes: mostly 2-50 KB of text; about one in a hundred
carries a 0.2-5 MB base64 attachment.  Scenario big: one 50 MB message.
Bodies contain lines starting with "From " (quoted in an mbox) and with
"." (dot-stuffed on the wire), never ">From " lines, so mboxrd and mboxo
unquoting read the same message back.
"""

import argparse
import base64
import os
import random
import sys

WORDS = ("mail archive server client message header body fetch poll "
         "latency window batch durable record delete folder account "
         "the of and to in is that for it as with on be at by this").split()


def line_pool(rng):
    """A fixed pool of body lines; messages pick from it (fast enough for
    20,000 messages)."""
    pool = []
    for _ in range(4096):
        r = rng.random()
        if r < 0.01:
            line = "From the desk of %s" % rng.choice(WORDS)
        elif r < 0.02:
            line = "." + " ".join(rng.choice(WORDS) for _ in range(6))
        elif r < 0.05:
            line = ""
        else:
            line = " ".join(rng.choice(WORDS)
                            for _ in range(rng.randint(6, 12)))
        pool.append(line)
    return pool


POOL = []


def text_lines(rng, nbytes):
    # About 50 bytes a line on average; the last line may overshoot.
    return rng.choices(POOL, k=max(1, nbytes // 50))


def headers(i, subject, extra=(), tag=""):
    return ["From: Sender %d <sender%d@example.org>" % (i % 97, i % 97),
            "To: alice@example.org",
            "Subject: %s" % subject,
            "Date: Mon, 01 Jan 2024 %02d:%02d:%02d +0000"
            % (i // 3600 % 24, i // 60 % 60, i % 60),
            "Message-ID: <bench-%s%06d@mailhaul.test>" % (tag, i)] + list(extra)


def attachment(rng, nbytes):
    raw = rng.randbytes(nbytes * 3 // 4)
    b64 = base64.b64encode(raw).decode("ascii")
    return [b64[k:k + 76] for k in range(0, len(b64), 76)]


def message(rng, i, big_bytes=None, tag=""):
    if big_bytes is None:
        att = rng.random() < 0.01
        big_bytes = rng.randint(200_000, 5_000_000) if att else 0
    text = text_lines(rng, rng.randint(2_000, 50_000) if not big_bytes else 1_000)
    if not big_bytes:
        return "\n".join(headers(i, "bench message %d" % i, tag=tag)
                          + [""] + text) + "\n"
    b = "bench-boundary-%06d" % i
    lines = headers(i, "bench message %d with attachment" % i,
                    ["MIME-Version: 1.0",
                     'Content-Type: multipart/mixed; boundary="%s"' % b],
                    tag=tag)
    lines += ["", "--" + b, "Content-Type: text/plain", ""] + text
    lines += ["--" + b, "Content-Type: application/octet-stream",
              "Content-Transfer-Encoding: base64",
              'Content-Disposition: attachment; filename="a%d.bin"' % i, ""]
    lines += attachment(rng, big_bytes) + ["--" + b + "--"]
    return "\n".join(lines) + "\n"


SEED = 20240601


def write_mailbox(outdir, msgs):
    """Writes (number, text) pairs as OUTDIR/NNNNNN; returns (count, bytes)."""
    os.makedirs(outdir, exist_ok=True)
    n = total = 0
    for i, m in msgs:
        data = m.encode("ascii")
        with open(os.path.join(outdir, "%06d" % i), "wb") as f:
            f.write(data)
        total += len(data)
        n += 1
    return n, total


def mailbox(seed, count, tag=""):
    """COUNT messages from a generator seeded with SEED (its own line pool:
    the pool is drawn from the same generator)."""
    rng = random.Random(seed)
    POOL[:] = line_pool(rng)
    return ((i, message(rng, i, tag=tag)) for i in range(1, count + 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="full",
                    choices=("full", "repoll", "big", "accounts"))
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--accounts", type=int, default=50)
    ap.add_argument("outdir")
    a = ap.parse_args()
    if a.scenario == "accounts":
        n = total = 0
        for k in range(1, a.accounts + 1):
            name = "acct%03d" % k
            c, b = write_mailbox(os.path.join(a.outdir, name),
                                 mailbox(SEED + k, a.count, name + "-"))
            n += c
            total += b
    elif a.scenario == "big":
        rng = random.Random(SEED)
        POOL[:] = line_pool(rng)
        n, total = write_mailbox(a.outdir,
                                 [(1, message(rng, 1, big_bytes=50_000_000))])
    else:
        n, total = write_mailbox(a.outdir, mailbox(SEED, a.count))
    print("%d %d" % (n, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
