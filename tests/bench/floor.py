#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The wire floor: the least a client must do to receive the mail, timed.

usage: floor.py pop3|imap|pop3-repoll|imap-repoll|rtt HOST PORT USER PASS

pop3:        login, UIDL and LIST, then every RETR and QUIT sent at once;
             everything read and discarded up to the server's close.
imap:        login, then SELECT INBOX, UID FETCH 1:* BODY.PEEK[] and
             LOGOUT sent at once; read and discarded up to the close.
pop3-repoll: login, UIDL, QUIT (what a re-poll with nothing new needs).
imap-repoll: login, then SELECT INBOX and LOGOUT at once.
rtt:         POP3 login, then 20 NOOPs one after the other; prints the
             median round trip in ms (checks the delay line).

Prints "SECONDS BYTES_RECEIVED" (rtt: "MS").  Login is plaintext: the
benchmark runs every contender without TLS over the delay line.
"""

import socket
import statistics
import sys
import time

BUF = 1 << 20


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.nbytes = 0

    def fill(self):
        data = self.s.recv(BUF)
        if not data:
            raise EOFError("server closed the connection")
        self.nbytes += len(data)
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def until(self, marker):
        """Reads up to and including MARKER; returns what came before."""
        while marker not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def send(self, data):
        self.s.sendall(data)

    def drain(self):
        """Reads and discards everything up to the server's close."""
        while True:
            data = self.s.recv(BUF)
            if not data:
                return
            self.nbytes += len(data)


def ok(line, what):
    if not (line.startswith(b"+OK") or b" OK" in line[:12]):
        raise RuntimeError("%s: %r" % (what, line))


def pop3_login(c, user, pw):
    ok(c.line(), "greeting")
    c.send(b"USER %s\r\nPASS %s\r\n" % (user, pw))
    ok(c.line(), "USER")
    ok(c.line(), "PASS")


def pop3(c, user, pw, repoll):
    pop3_login(c, user, pw)
    if repoll:
        c.send(b"UIDL\r\nQUIT\r\n")
        c.drain()
        return
    c.send(b"UIDL\r\nLIST\r\n")
    ok(c.line(), "UIDL")
    c.until(b"\r\n.\r\n")
    ok(c.line(), "LIST")
    listing = c.until(b"\r\n.\r\n")
    nums = [l.split(b" ", 1)[0] for l in listing.split(b"\r\n") if l]
    c.send(b"".join(b"RETR %s\r\n" % n for n in nums) + b"QUIT\r\n")
    c.drain()


def imap(c, user, pw, repoll):
    if not c.line().startswith(b"* OK"):
        raise RuntimeError("no IMAP greeting")
    c.send(b"a LOGIN %s %s\r\n" % (user, pw))
    while True:
        l = c.line()
        if l.startswith(b"a "):
            ok(l, "LOGIN")
            break
    cmds = b"b SELECT INBOX\r\n"
    if not repoll:
        cmds += b"c UID FETCH 1:* BODY.PEEK[]\r\n"
    c.send(cmds + b"d LOGOUT\r\n")
    c.drain()


def rtt(c, user, pw):
    pop3_login(c, user, pw)
    times = []
    for _ in range(20):
        t0 = time.monotonic()
        c.send(b"NOOP\r\n")
        ok(c.line(), "NOOP")
        times.append(time.monotonic() - t0)
    c.send(b"QUIT\r\n")
    c.drain()
    return statistics.median(times) * 1000


def main(argv):
    if len(argv) != 6:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    mode, host, port = argv[1], argv[2], int(argv[3])
    user, pw = argv[4].encode(), argv[5].encode()
    t0 = time.monotonic()
    c = Conn(host, port)
    if mode == "rtt":
        print("%.1f" % rtt(c, user, pw))
        return 0
    if mode in ("pop3", "pop3-repoll"):
        pop3(c, user, pw, mode.endswith("repoll"))
    elif mode in ("imap", "imap-repoll"):
        imap(c, user, pw, mode.endswith("repoll"))
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("%.4f %d" % (time.monotonic() - t0, c.nbytes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
