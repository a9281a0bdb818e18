#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Other programs' side of the mbox locks, for t-mbox-concurrency.sh.

usage: lockhold.py hold --order mutt|dovecot|fcntl|dot --status FILE
                        [--gap SECS] [--hold SECS | --release FILE]
                        [--contend] [--again FILE] [--timeout SECS] MBOX
       lockhold.py procmail --rc RCFILE --out DIR --stop FILE
                            [--min N] [--pause SECS] [--timeout SECS]

hold: takes MBOX's two locks the way a mail reader does: "mutt" takes the
fcntl lock (a POSIX record lock over the whole file), then the dotlock
MBOX.lock (O_EXCL, holding our pid); "dovecot" the dotlock first, then the
fcntl lock; "fcntl" and "dot" take only that one lock.  Each wait is a
blocking one (F_SETLKW, or polling the dotlock every 10 ms) while the first
lock is held, as those programs do: a writer that waited for one lock while
holding the other would deadlock with us.  A wait longer than --timeout
(default 10 s) is reported as "stuck" (exit 3).  Once the first lock is
held, "locked PID" goes to the status file; --gap SECS: the second lock is
taken only that much later ("both held" once it is), as a program slow
between the two would (mutt's order: a dotlock appearing meanwhile is
reported, exit 5: a writer that takes the fcntl lock first cannot have made
it).  The locks are held --hold SECS, or until the --release FILE exists
(at most --timeout), then released ("released").  From the first lock on
the mbox must not change: its size and digest are compared at release
("changed" and exit 4 if not).  --contend: after that, take and release the
locks in a loop (held 20 ms, free 200 ms) until the --again FILE exists,
each cycle checked the same way ("cycles N" at the end).  --again FILE:
then wait for FILE and take the locks once more ("retook"; exit 3 if that
fails).  Exit 0 when everything above went as said.

procmail: delivers distinct messages, one "procmail -m RCFILE" run each
(RCFILE names the mbox as DEFAULT), until at least --min (default 200) are
delivered and the --stop FILE exists (or --timeout, default 90 s, passes:
exit 1), pausing --pause SECS (default 0.03) after each until FILE exists.
Each message is written to DIR/pm-NNNN as it must read back from the mbox
(without the From_ line we give procmail); DIR/count holds the number
delivered so far (written after each delivery).  Sizes vary from a few
hundred bytes to 64 KB; bodies hold "From " lines (procmail quotes them
with ">", which an mboxrd reader takes off again) and 8-bit bytes, never a
line starting with ">From " (mboxo quoting could not tell it apart).  Exit
1 if procmail fails once.
"""

import argparse
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time


class Stuck(Exception):
    pass


def _alarm(signum, frame):
    raise Stuck()


def status(path, line):
    with open(path, "a") as f:
        f.write(line + "\n")
        f.flush()


def digest(fd):
    """Size and digest of the file open at FD, read with pread: closing
    any other descriptor of the file would drop our POSIX lock."""
    h = hashlib.sha256()
    off = 0
    while True:
        chunk = os.pread(fd, 1 << 16, off)
        if not chunk:
            break
        h.update(chunk)
        off += len(chunk)
    return off, h.hexdigest()


class Locker:
    def __init__(self, mbox, order, timeout):
        self.mbox = mbox
        self.dot = mbox + ".lock"
        self.order = order
        self.timeout = timeout
        self.fd = os.open(mbox, os.O_RDWR)
        self.have_fcntl = False
        self.have_dot = False
        self.violation = None

    def _fcntl(self, deadline):
        # F_SETLKW, cut off by an interval timer: a deadlock shows as Stuck.
        left = deadline - time.monotonic()
        if left <= 0:
            raise Stuck()
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.have_fcntl = True

    def _dot(self, deadline):
        while True:
            try:
                fd = os.open(self.dot, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o644)
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise Stuck()
                time.sleep(0.01)
                continue
            os.write(fd, b"%d\n" % os.getpid())
            os.close(fd)
            self.have_dot = True
            return

    def lock(self, gap=0, first_taken=None):
        """Takes the locks in our order, with GAP seconds between the first
        and the second (FIRST_TAKEN is called once the first is held).
        Returns the mbox's size and digest as the first lock found it."""
        steps = {
            "mutt": (self._fcntl, self._dot),
            "dovecot": (self._dot, self._fcntl),
            "fcntl": (self._fcntl,),
            "dot": (self._dot,),
        }[self.order]
        steps[0](time.monotonic() + self.timeout)
        before = digest(self.fd)
        if first_taken is not None:
            first_taken()
        if gap > 0:
            self._gap(gap)
        for step in steps[1:]:
            step(time.monotonic() + self.timeout)
        return before

    def _gap(self, secs):
        # Holding only the fcntl lock (mutt), we watch for the dotlock: a
        # writer that takes the fcntl lock first can never create it now.
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if self.order == "mutt" and os.path.exists(self.dot):
                self.violation = ("dotlock appeared while we held only the "
                                  "fcntl lock")
            time.sleep(0.005)

    def unlock(self):
        if self.order == "mutt":
            self._undot()
            self._unfcntl()
        else:
            self._unfcntl()
            self._undot()

    def _undot(self):
        if self.have_dot:
            os.unlink(self.dot)
            self.have_dot = False

    def _unfcntl(self):
        if self.have_fcntl:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
            self.have_fcntl = False


def wait_for(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def cmd_hold(a):
    lk = Locker(a.mbox, a.order, a.timeout)
    rc = 0
    try:
        before = lk.lock(a.gap, lambda: status(a.status,
                                               "locked %d" % os.getpid()))
        if lk.violation is not None:
            status(a.status, lk.violation)
            rc = 5
        status(a.status, "both held")
        if a.release:
            wait_for(a.release, time.monotonic() + a.timeout)
        else:
            time.sleep(a.hold)
        after = digest(lk.fd)
        lk.unlock()
        if after != before:
            status(a.status, "changed while held: %r -> %r" % (before, after))
            rc = 4
        status(a.status, "released")
        cycles = 0
        deadline = time.monotonic() + 60
        while a.contend and not os.path.exists(a.again):
            if time.monotonic() > deadline:
                status(a.status, "contend: %s never appeared" % a.again)
                return 3
            before = lk.lock()
            time.sleep(0.02)
            after = digest(lk.fd)
            lk.unlock()
            if after != before:
                status(a.status, "changed in cycle %d: %r -> %r"
                       % (cycles, before, after))
                rc = 4
            cycles += 1
            time.sleep(0.2)
        if a.contend:
            status(a.status, "cycles %d" % cycles)
        if a.again:
            if not wait_for(a.again, time.monotonic() + 60):
                status(a.status, "%s never appeared" % a.again)
                return 3
            lk.lock()
            lk.unlock()
            status(a.status, "retook")
    except Stuck:
        if lk.violation is not None:
            status(a.status, lk.violation)
        status(a.status, "stuck: a lock wait took more than %g s "
               "(fcntl held: %s, dotlock held: %s)"
               % (a.timeout, lk.have_fcntl, lk.have_dot))
        lk.unlock()
        return 3
    return rc


def pm_message(i):
    size = 200 + (i * 7919) % 65000
    head = ("From: Procmail Feeder <feeder@example.org>\n"
            "To: Alice <alice@example.org>\n"
            "Subject: procmail message %d\n"
            "Message-ID: <pm-%d@procmail.test>\n"
            "Content-Type: text/plain; charset=iso-8859-1\n"
            "Content-Transfer-Encoding: 8bit\n\n" % (i, i)).encode("ascii")
    lines = [b"From the procmail feeder, message %d." % i,
             b"K\xe4se \xfcber alles, line two of %d." % i]
    k = 0
    total = sum(len(x) + 1 for x in lines)
    while total < size:
        k += 1
        line = (b"From line %d" % k if k % 50 == 0 else
                b"message %d line %d: %s" % (i, k, b"x" * (k % 60)))
        lines.append(line)
        total += len(line) + 1
    lines.append(b"End of procmail message %d." % i)
    return head + b"\n".join(lines) + b"\n"


def cmd_procmail(a):
    os.makedirs(a.out, exist_ok=True)
    start = time.monotonic()
    i = 0
    while i < a.min or not os.path.exists(a.stop):
        if time.monotonic() - start > a.timeout:
            print("procmail feeder: timed out after %d messages" % i,
                  file=sys.stderr)
            return 1
        i += 1
        msg = pm_message(i)
        with open(os.path.join(a.out, "pm-%04d" % i), "wb") as f:
            f.write(msg)
        p = subprocess.run(
            ["procmail", "-m", a.rc],
            input=b"From feeder@example.org Mon Jan  2 03:04:05 2023\n" + msg,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            print("procmail feeder: message %d: procmail exited %d: %s"
                  % (i, p.returncode, p.stdout.decode("latin-1")),
                  file=sys.stderr)
            return 1
        tmp = os.path.join(a.out, "count.tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % i)
        os.rename(tmp, os.path.join(a.out, "count"))
        # A pause leaves the mbox free part of the time: always locked, it
        # would starve the other writer's bounded retries.
        time.sleep(0.003 if os.path.exists(a.stop) else a.pause)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("hold")
    h.add_argument("--order", choices=("mutt", "dovecot", "fcntl", "dot"),
                   required=True)
    h.add_argument("--status", required=True)
    h.add_argument("--hold", type=float, default=0)
    h.add_argument("--gap", type=float, default=0)
    h.add_argument("--release")
    h.add_argument("--contend", action="store_true")
    h.add_argument("--again")
    h.add_argument("--timeout", type=float, default=10)
    h.add_argument("mbox")
    p = sub.add_parser("procmail")
    p.add_argument("--rc", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--min", type=int, default=200)
    p.add_argument("--pause", type=float, default=0.03)
    p.add_argument("--timeout", type=float, default=90)
    a = ap.parse_args()
    if a.cmd == "hold":
        if a.contend and not a.again:
            ap.error("--contend needs --again")
        return cmd_hold(a)
    return cmd_procmail(a)


if __name__ == "__main__":
    sys.exit(main())
