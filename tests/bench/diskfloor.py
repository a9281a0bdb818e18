#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The disk floor: the least a client must do to store the mail durably.

usage: diskfloor.py maildir|mbox CORPUS_DIR TARGET_DIR [BATCH]

maildir: each corpus file written to TARGET_DIR/tmp/ and its writeback
         started (sync_file_range), then per batch of BATCH messages (64)
         every file fsync'd, moved into new/, and new/ fsync'd: the
         durability a Maildir delivery needs, done the fastest way we
         know, with nothing else (no network, no parsing, no database).
mbox:    the files appended to TARGET_DIR/mbox behind a "From " line,
         the mbox fsync'd once per batch.

The corpus is read into memory first, so that only the writing is timed.
Prints "SECONDS BYTES_WRITTEN".
"""

import ctypes
import ctypes.util
import os
import sys
import time

LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd):
    LIBC.sync_file_range(fd, ctypes.c_int64(0), ctypes.c_int64(0),
                         SYNC_FILE_RANGE_WRITE)


def maildir(msgs, target, batch):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(target, sub), exist_ok=True)
    newfd = os.open(os.path.join(target, "new"), os.O_RDONLY | os.O_DIRECTORY)
    staged = []
    for i, data in enumerate(msgs):
        name = "%d.floor%d" % (i, os.getpid())
        tmp = os.path.join(target, "tmp", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        start_writeback(fd)
        staged.append((fd, tmp, os.path.join(target, "new", name)))
        if len(staged) == batch or i == len(msgs) - 1:
            for fd, tmp, new in staged:
                os.fsync(fd)
                os.close(fd)
                os.rename(tmp, new)
            os.fsync(newfd)
            staged = []
    os.close(newfd)


def mbox(msgs, target, batch):
    os.makedirs(target, exist_ok=True)
    fd = os.open(os.path.join(target, "mbox"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for i, data in enumerate(msgs):
        os.write(fd, b"From floor Thu Jan  1 00:00:00 1970\n" + data + b"\n")
        if (i + 1) % batch == 0 or i == len(msgs) - 1:
            os.fsync(fd)
    os.close(fd)


def main(argv):
    if len(argv) not in (4, 5) or argv[1] not in ("maildir", "mbox"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    kind, corpus, target = argv[1], argv[2], argv[3]
    batch = int(argv[4]) if len(argv) == 5 else 64
    msgs = []
    for name in sorted(os.listdir(corpus)):
        with open(os.path.join(corpus, name), "rb") as f:
            msgs.append(f.read())
    t0 = time.monotonic()
    (maildir if kind == "maildir" else mbox)(msgs, target, batch)
    print("%.4f %d" % (time.monotonic() - t0, sum(len(m) for m in msgs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
