#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A scripted POP3 server for what dovecot will not do: cut connections,
missing or hijacked STLS, no UIDL, silence.  Serves one connection on
127.0.0.1:PORT, writes every line it receives to LOG, then exits.

usage: pop3fake.py PORT SCENARIO LOG

Scenarios:
  cut-mid-retr  two messages; the second RETR reply stops halfway and the
                connection closes
  no-stls       CAPA without STLS
  stls-refused  STLS answered with -ERR
  stls-inject   the STLS go-ahead arrives with an extra reply in the same
                segment (a plaintext injection before the handshake)
  no-uidl       UIDL answered with -ERR
  silent        greeting, then no reply to anything
"""
import socket
import sys

MSG1 = b"From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n"
MSG2 = b"From: b@example.org\r\nSubject: two\r\n\r\n" + b"x" * 5000 + b"\r\n"


def serve(conn, scenario, log):
    f = conn.makefile("rb")

    def send(data):
        conn.sendall(data)

    send(b"+OK fake POP3 ready\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        log.write(line.decode("latin-1"))
        log.flush()
        if scenario == "silent":
            continue
        cmd = line.strip().split(b" ")[0].upper()
        if cmd == b"CAPA":
            caps = [b"USER", b"PIPELINING"]
            if scenario != "no-uidl":
                caps.append(b"UIDL")
            if scenario.startswith("stls"):
                caps.append(b"STLS")
            send(b"+OK\r\n" + b"".join(c + b"\r\n" for c in caps) + b".\r\n")
        elif cmd == b"STLS":
            if scenario == "stls-inject":
                send(b"+OK begin TLS\r\n+OK injected\r\n")
            else:
                send(b"-ERR not today\r\n")
        elif cmd in (b"USER", b"PASS"):
            send(b"+OK\r\n")
        elif cmd == b"UIDL":
            if scenario == "no-uidl":
                send(b"-ERR no UIDL here\r\n")
            else:
                send(b"+OK\r\n1 uid-one\r\n2 uid-two\r\n.\r\n")
        elif cmd == b"LIST":
            send(b"+OK\r\n1 %d\r\n2 %d\r\n.\r\n" % (len(MSG1), len(MSG2)))
        elif cmd == b"RETR":
            n = line.strip().split(b" ")[1]
            if n == b"1":
                send(b"+OK\r\n" + MSG1 + b".\r\n")
            else:
                send(b"+OK\r\n" + MSG2[: len(MSG2) // 2])
                return
        elif cmd == b"QUIT":
            send(b"+OK bye\r\n")
            return
        else:
            send(b"-ERR unknown\r\n")


def main():
    port, scenario, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(60)
    with open(logpath, "w") as log:
        print("ready", flush=True)
        conn, _ = srv.accept()
        conn.settimeout(60)
        try:
            serve(conn, scenario, log)
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    main()
