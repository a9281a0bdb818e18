#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A scripted IMAP server for what dovecot will not do: missing, refused or
hijacked STARTTLS, PREAUTH before TLS, message literals cut short or NIL.
Listens on 127.0.0.1:PORT, serves connections one after the other until
killed (or 120 s without a connection), and appends every byte it
receives (after TLS: the decrypted bytes) to LOG, as received.

usage: imapfake.py PORT SCENARIO LOG CERT KEY

One folder, INBOX (UIDVALIDITY 42), with two messages, UID 1 and UID 2;
MSG1 and MSG2 below are their bytes (CRLF; LF in an archive).  The server
offers STARTTLS (with CERT/KEY) unless told not to, and takes any LOGIN or
AUTHENTICATE PLAIN.  It answers CAPABILITY, LOGIN, AUTHENTICATE, STARTTLS,
LIST, LSUB, SELECT, EXAMINE, STATUS, UID SEARCH, SEARCH, FETCH, UID FETCH
(UID FLAGS INTERNALDATE RFC822.SIZE BODY[] BODY.PEEK[] RFC822 BINARY[]
and <partial>), UID STORE, STORE, UID EXPUNGE, EXPUNGE, UID MOVE, UID
COPY, COPY, CLOSE, UNSELECT, NAMESPACE, ID, ENABLE, NOOP, CHECK, LOGOUT;
anything else gets "BAD".

Scenarios:
  ok                every message sent properly (the control case)
  no-starttls       CAPABILITY (greeting and command) without STARTTLS
  starttls-refused  STARTTLS answered with NO
  starttls-bad      STARTTLS answered with BAD
  starttls-inject   the OK to STARTTLS arrives with an injected untagged
                    line in the same segment; then the TLS handshake is
                    offered anyway (a client that goes on leaks into LOG)
  preauth           greeting "* PREAUTH" on the plaintext connection
  cut-mid-literal   UID 2's body literal is announced as {N}, half of it is
                    sent, then the connection is closed
  short-literal     UID 2's body literal {N} is followed by fewer than N
                    bytes, then ")" and the tagged OK; then silence
  nil-body          UID 2's body is sent as NIL
  no-uidplus        neither UIDPLUS nor MOVE offered (UID EXPUNGE and UID
                    MOVE get BAD)
  no-move           UIDPLUS but no MOVE (UID MOVE gets BAD)
  evil-names        LIST with a pattern also lists EVIL_NAMES ("../escape",
                    "Lists/../../escape2", "..", "/abs-escape", a name with
                    an ESC sequence), as literals
  evil-dots         the same without the ESC name
  silent            the greeting, then no reply to anything
  login-only        no AUTH=PLAIN: the client must use LOGIN; the decoded
                    arguments go to LOG as "[imapfake: LOGIN user=<U>
                    pass=<P>]"
"""
import re
import socket
import ssl
import sys

MSG1 = (b"From: One <one@example.org>\r\nTo: alice@example.org\r\n"
        b"Subject: fake one\r\nMessage-ID: <fake-1@mailhaul.test>\r\n\r\n"
        b"first body\r\n")
MSG2 = (b"From: Two <two@example.org>\r\nTo: alice@example.org\r\n"
        b"Subject: fake two\r\nMessage-ID: <fake-2@mailhaul.test>\r\n\r\n"
        + b"second body line\r\n" * 300)
MSGS = {1: MSG1, 2: MSG2}
DATE = b'"02-Jan-2023 03:04:05 +0000"'
SCENARIOS = ("ok", "no-starttls", "starttls-refused", "starttls-bad",
             "starttls-inject", "preauth", "cut-mid-literal",
             "short-literal", "nil-body", "no-uidplus", "no-move",
             "evil-names", "evil-dots", "silent", "login-only")
# Folder names a hostile server may list: each must be refused before it
# becomes a path (SELECT of any of them serves INBOX's messages).
EVIL_NAMES = (b"../escape", b"Lists/../../escape2", b"..", b"/abs-escape",
              b"ctl\x1b[2Jname")
HOSTILE = ("cut-mid-literal", "short-literal", "nil-body")

ITEM_RE = re.compile(
    rb"(BODY\.PEEK|BODY|BINARY\.PEEK|BINARY)\[([^\]]*)\]"
    rb"(?:<(\d+)(?:\.(\d+))?>)?"
    rb"|[A-Z0-9.]+")


class Closed(Exception):
    pass


class Conn:
    def __init__(self, sock, log, scenario, ctx):
        self.sock, self.log, self.scenario, self.ctx = sock, log, scenario, ctx
        self.buf = b""
        self.tls = False
        self.selected = False

    # --------------------------------------------------------- I/O

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.log.write(data)
        self.log.flush()
        self.buf += data

    def line(self):
        while b"\n" not in self.buf:
            self.fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def command(self):
        """One command line with its literals inlined."""
        out = b""
        while True:
            ln = self.line()
            out += ln
            m = re.search(rb"\{(\d+)(\+?)\}\r?\n$", ln)
            if not m:
                return out
            if not m.group(2):
                self.send(b"+ go ahead\r\n")
            out += self.exact(int(m.group(1)))

    def caps(self):
        c = b"IMAP4rev1 LITERAL+ UIDPLUS MOVE ENABLE ID NAMESPACE"
        if self.scenario == "no-uidplus":
            c = b"IMAP4rev1 LITERAL+ ENABLE ID NAMESPACE"
        elif self.scenario == "no-move":
            c = b"IMAP4rev1 LITERAL+ UIDPLUS ENABLE ID NAMESPACE"
        if not self.tls and self.scenario != "no-starttls":
            c += b" STARTTLS"
        if self.scenario == "login-only":
            return c
        return c + b" AUTH=PLAIN"

    # --------------------------------------------------------- session

    def run(self):
        if self.scenario == "preauth":
            self.send(b"* PREAUTH [CAPABILITY " + self.caps() +
                      b"] fake IMAP, logged in as alice\r\n")
        else:
            self.send(b"* OK [CAPABILITY " + self.caps() +
                      b"] fake IMAP ready\r\n")
        while True:
            cmd = self.command()
            if self.scenario == "silent":
                continue
            words = cmd.split(b"\r\n", 1)[0].rstrip(b"\r\n").split(b" ")
            if len(words) < 2:
                self.send(b"* BAD no command\r\n")
                continue
            tag, name = words[0], words[1].upper()
            args = [w for w in words[2:] if w]
            if name == b"UID" and args:
                name, args = b"UID " + args[0].upper(), args[1:]
            handler = HANDLERS.get(name)
            if handler is None:
                self.send(tag + b" BAD unknown command\r\n")
                continue
            if handler(self, tag, args, cmd) is False:
                return

    def ok(self, tag, text=b"done"):
        self.send(tag + b" OK " + text + b"\r\n")

    def h_capability(self, tag, args, cmd):
        self.send(b"* CAPABILITY " + self.caps() + b"\r\n")
        self.ok(tag)

    def h_starttls(self, tag, args, cmd):
        sc = self.scenario
        if self.tls or sc == "no-starttls":
            self.send(tag + b" BAD STARTTLS not offered\r\n")
            return None
        if sc == "starttls-refused":
            self.send(tag + b" NO not today\r\n")
            return None
        if sc == "starttls-bad":
            self.send(tag + b" BAD not today\r\n")
            return None
        if sc == "starttls-inject":
            self.send(tag + b" OK Begin TLS negotiation now\r\n"
                      b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")
        else:
            self.ok(tag, b"Begin TLS negotiation now")
        if self.buf:
            # Plaintext the client sent after STARTTLS: never good.
            self.log.write(b"\n[imapfake: plaintext after STARTTLS]\n")
            self.buf = b""
        self.sock.settimeout(10)
        self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
        self.log.write(b"\n[imapfake: TLS established]\n")
        self.log.flush()
        self.tls = True
        return None

    def h_login(self, tag, args, cmd):
        if self.scenario == "login-only":
            rest = cmd.split(b" ", 2)[2]
            try:
                user, rest = astring(rest)
                pw, rest = astring(rest.lstrip(b" "))
            except ValueError as e:
                self.send(tag + b" BAD %s\r\n" % str(e).encode())
                return None
            self.log.write(b"\n[imapfake: LOGIN user=<%s> pass=<%s>]\n"
                           % (user, pw))
            self.log.flush()
        self.ok(tag, b"[CAPABILITY " + self.caps() + b"] Logged in")

    def h_authenticate(self, tag, args, cmd):
        if len(args) < 2:
            self.send(b"+ \r\n")
            self.line()
        self.ok(tag, b"[CAPABILITY " + self.caps() + b"] Logged in")

    def h_list(self, tag, args, cmd):
        self.send(b'* LIST (\\HasNoChildren) "/" INBOX\r\n')
        if self.scenario in ("evil-names", "evil-dots") and args and \
                (b"*" in args[-1] or b"%" in args[-1]):
            for name in EVIL_NAMES:
                if self.scenario == "evil-dots" and b"\x1b" in name:
                    continue
                self.send(b'* LIST (\\HasNoChildren) "/" {%d}\r\n%s\r\n'
                          % (len(name), name))
        self.ok(tag)

    def h_select(self, tag, args, cmd):
        self.selected = True
        self.send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
                  b"\\Draft)\r\n"
                  b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted "
                  b"\\Seen \\Draft \\*)] Flags permitted.\r\n"
                  b"* 2 EXISTS\r\n* 0 RECENT\r\n"
                  b"* OK [UIDVALIDITY 42] UIDs valid\r\n"
                  b"* OK [UIDNEXT 3] Predicted next UID\r\n")
        ro = b"READ-ONLY" if cmd.split(b" ")[1].upper() == b"EXAMINE" \
            else b"READ-WRITE"
        self.ok(tag, b"[" + ro + b"] Select completed")

    def h_status(self, tag, args, cmd):
        self.send(b"* STATUS INBOX (MESSAGES 2 RECENT 0 UIDNEXT 3 "
                  b"UIDVALIDITY 42 UNSEEN 2)\r\n")
        self.ok(tag)

    def h_search(self, tag, args, cmd):
        self.send(b"* SEARCH 1 2\r\n")
        self.ok(tag)

    def h_fetch(self, tag, args, cmd, uid=False):
        if len(args) < 2:
            self.send(tag + b" BAD fetch what?\r\n")
            return None
        want = seqset(args[0], max(MSGS))
        items = b" ".join(args[1:]).upper()
        if items in (b"ALL", b"FAST", b"FULL"):
            items = b"FLAGS INTERNALDATE RFC822.SIZE"
        parsed = list(ITEM_RE.finditer(items))
        for n in sorted(want):
            if n not in MSGS:
                continue
            if self.fetch_one(tag, n, parsed, uid) is False:
                return False
        self.ok(tag, b"Fetch completed")
        return None

    def fetch_one(self, tag, n, parsed, uid):
        data = MSGS[n]
        hostile = n == 2 and self.scenario in HOSTILE
        out = b"* %d FETCH (" % n
        parts = []
        names = [m.group(0) for m in parsed]
        if uid and b"UID" not in names:
            parts.append(b"UID %d" % n)
        for m in parsed:
            word = m.group(0)
            if m.group(1) is None:
                if word == b"UID":
                    parts.append(b"UID %d" % n)
                elif word == b"FLAGS":
                    parts.append(b"FLAGS ()")
                elif word == b"INTERNALDATE":
                    parts.append(b"INTERNALDATE " + DATE)
                elif word == b"RFC822.SIZE":
                    parts.append(b"RFC822.SIZE %d" % len(data))
                elif word == b"RFC822":
                    parts.append((b"RFC822", data))
                continue
            kind = m.group(1).replace(b".PEEK", b"")
            section = m.group(2)
            body = data
            if section.startswith(b"HEADER"):
                body = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            elif section == b"TEXT":
                body = data.split(b"\r\n\r\n", 1)[1]
            label = kind + b"[" + section + b"]"
            if m.group(3) is not None:
                off = int(m.group(3))
                ln = int(m.group(4)) if m.group(4) else len(body)
                body = body[off:off + ln]
                label += b"<%d>" % off
            parts.append((label, body))
        for i, p in enumerate(parts):
            sep = b"" if i == 0 else b" "
            if not isinstance(p, tuple):
                out += sep + p
                continue
            label, body = p
            is_body = label.startswith((b"BODY[]", b"BINARY[]", b"RFC822"))
            if hostile and is_body:
                return self.hostile(tag, out + sep + label, body)
            out += sep + label + b" {%d}\r\n" % len(body) + body
        self.send(out + b")\r\n")
        return None

    def hostile(self, tag, head, body):
        sc = self.scenario
        if sc == "nil-body":
            self.send(head + b" NIL)\r\n")
            return None
        if sc == "cut-mid-literal":
            self.send(head + b" {%d}\r\n" % len(body) + body[:len(body) // 2])
            self.log.write(b"\n[imapfake: cut mid-literal]\n")
            self.log.flush()
            return False
        # short-literal: 5 bytes short, then the end of the reply and
        # silence; the client's literal swallows ")\r\n" and part of the OK.
        self.send(head + b" {%d}\r\n" % len(body) + body[:-5] + b")\r\n" +
                  tag + b" OK Fetch completed\r\n")
        self.log.write(b"\n[imapfake: short literal sent]\n")
        self.log.flush()
        try:
            while True:
                self.fill()
        except (Closed, OSError):
            pass
        return False

    def h_uid_fetch(self, tag, args, cmd):
        return self.h_fetch(tag, args, cmd, uid=True)

    def h_simple(self, tag, args, cmd):
        self.ok(tag)

    def h_uid_expunge(self, tag, args, cmd):
        if self.scenario == "no-uidplus":
            self.send(tag + b" BAD UID EXPUNGE needs UIDPLUS\r\n")
        else:
            self.ok(tag)

    def h_uid_move(self, tag, args, cmd):
        if self.scenario in ("no-uidplus", "no-move"):
            self.send(tag + b" BAD MOVE not offered\r\n")
        else:
            self.ok(tag)

    def h_id(self, tag, args, cmd):
        self.send(b'* ID ("name" "imapfake")\r\n')
        self.ok(tag)

    def h_namespace(self, tag, args, cmd):
        self.send(b'* NAMESPACE (("" "/")) NIL NIL\r\n')
        self.ok(tag)

    def h_enable(self, tag, args, cmd):
        self.send(b"* ENABLED\r\n")
        self.ok(tag)

    def h_logout(self, tag, args, cmd):
        self.send(b"* BYE fake logging out\r\n")
        self.ok(tag)
        return False


HANDLERS = {
    b"CAPABILITY": Conn.h_capability,
    b"STARTTLS": Conn.h_starttls,
    b"LOGIN": Conn.h_login,
    b"AUTHENTICATE": Conn.h_authenticate,
    b"LIST": Conn.h_list,
    b"LSUB": Conn.h_list,
    b"SELECT": Conn.h_select,
    b"EXAMINE": Conn.h_select,
    b"STATUS": Conn.h_status,
    b"SEARCH": Conn.h_search,
    b"UID SEARCH": Conn.h_search,
    b"FETCH": Conn.h_fetch,
    b"UID FETCH": Conn.h_uid_fetch,
    b"STORE": Conn.h_simple,
    b"UID STORE": Conn.h_simple,
    b"EXPUNGE": Conn.h_simple,
    b"UID EXPUNGE": Conn.h_uid_expunge,
    b"UID MOVE": Conn.h_uid_move,
    b"UID COPY": Conn.h_simple,
    b"COPY": Conn.h_simple,
    b"CLOSE": Conn.h_simple,
    b"UNSELECT": Conn.h_simple,
    b"NOOP": Conn.h_simple,
    b"CHECK": Conn.h_simple,
    b"ID": Conn.h_id,
    b"NAMESPACE": Conn.h_namespace,
    b"ENABLE": Conn.h_enable,
    b"LOGOUT": Conn.h_logout,
}


def astring(b):
    """(value, rest) of the IMAP astring at the start of B: a quoted string
    (with \\ escapes), a literal {N} (inlined by Conn.command) or an atom."""
    if b.startswith(b'"'):
        out, i = b"", 1
        while i < len(b):
            c = b[i:i + 1]
            if c == b"\\":
                out += b[i + 1:i + 2]
                i += 2
            elif c == b'"':
                return out, b[i + 1:]
            else:
                out += c
                i += 1
        raise ValueError("unterminated quoted string")
    m = re.match(rb"\{(\d+)\+?\}\r\n", b)
    if m:
        n = int(m.group(1))
        return b[m.end():m.end() + n], b[m.end() + n:]
    m = re.match(rb"[^ \r\n(){%*\"\\\]]+", b)
    if not m:
        raise ValueError("no astring at %r" % b[:20])
    return m.group(0), b[m.end():]


def seqset(spec, largest):
    """The numbers in an IMAP sequence set; "*" is LARGEST."""
    out = set()
    for part in spec.split(b","):
        ends = [largest if x == b"*" else int(x) for x in part.split(b":")]
        lo, hi = min(ends), max(ends)
        out.update(range(lo, hi + 1))
    return out


def main():
    if len(sys.argv) != 6 or sys.argv[2] not in SCENARIOS:
        sys.exit(__doc__.strip())
    port, scenario, logpath, cert, key = sys.argv[1:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(port)))
    srv.listen(4)
    # Left alone (its test gone), it ends itself.
    srv.settimeout(120)
    with open(logpath, "ab") as log:
        print("ready", flush=True)
        while True:
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                return
            conn.settimeout(60)
            c = Conn(conn, log, scenario, ctx)
            try:
                c.run()
            except (Closed, OSError, ssl.SSLError) as e:
                log.write(b"\n[imapfake: connection ended: %s]\n"
                          % str(e).encode())
            log.flush()
            try:
                c.sock.close()
            except OSError:
                pass


if __name__ == "__main__":
    main()
