#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Crash-point and kill -9 helpers for t-crash-points.sh and t-kill9.sh.

usage: crashcheck.py points [options]     (see --help)
       crashcheck.py wait-idle UID DOVECOT_PID
       crashcheck.py seed SRC_DIR MAILDIR UID
       crashcheck.py gen COUNT SEED DIR
       crashcheck.py kill9 [options]      (see --help)

points: for one session kind (protocol, archive kind, keep), counts the
crash points a full session of the crash binary passes (a run with
MAILHAUL_CRASH_TRACE), then for every N (or a deterministic sample), until
--deadline if given: restores the server's Maildir from a pristine copy
(after waiting until no dovecot process of that user's uid is left),
empties the archive and the state, runs the crash binary with
MAILHAUL_CRASH_AT=N (it must exit 86), then the normal binary until it
exits 0 (at most --max-runs runs), and checks: the archive holds every
expected message exactly once, byte for byte (archive.py; nothing in
tmp/), no dotlock or stray file is left beside the archive, and the server
holds exactly the messages it should (keep=yes: all of the pristine ones,
none flagged \\Deleted over IMAP; keep=no: none).  Prints "result TOTAL
TRIED FAILED MULTI SECONDS" first (MULTI: how many N needed more than one
recovery run), then "names ..." (point name x count over the full
session), "time ..." (seconds spent restoring, crashing, recovering,
checking) and one "fail N NAME: ..." line per problem (at most
--max-details of them in full), "note N NAME: ..." for an N that needed
more than one recovery run.

wait-idle: waits until DOVECOT_PID has no child running as UID (a mail
process of that user) with a client's connection; exit 1 after 20 s.

seed: copies every file of SRC_DIR into MAILDIR/new/ as dovecot's user
UID would have it (tmp/ then rename), fast.

gen: writes COUNT deterministic messages (PRNG seed SEED) into DIR: sizes
from 1 KB to 96 KB, every tenth one awkward (From_ lines, leading dots,
bare CR, NUL, 8-bit bytes, no final newline).

kill9: the random kill -9 loop.  Starts mailhaul (--bin -c --conf),
waits a delay drawn from random.Random(--seed), kills it with SIGKILL,
and again, until a run ends by itself with exit 0, --max-kills kills
were done or --deadline has passed; then runs it once more to
completion.  The delay is drawn uniformly from 0.8 times the start-up
time (--startup: a run with nothing to fetch) up to, mostly, the
start-up plus a share (--short-share, 8% to begin with) of the measured
download time (--full minus --startup): the kill lands early in the
download and progress is slow.  The share adapts: halved after such a
kill let a batch of messages through, times 1.2 after one that came
before any message.  Three times in a hundred (--long-share) the delay
goes up to about the expected length of this run (start-up plus nine
tenths of the download time scaled by the share of the --total messages
not yet in the archive): kills late in the download too; a run that is
faster than expected ends by itself.  After each kill it waits until
dovecot's mail process has let go of the client's connection and reads
the session's line in dovecot's log (--log): the kill came before the
login (no session), after the login but before the first message was
sent, mid-download (some but not all of the messages still to fetch
were sent), or after the download (deleting, logging out).  Prints
"kills K ended-by-itself yes|no final-rc RC before-login B before-fetch
F mid-download M after-download A other-exits X seconds S out-of-time
yes|no", then one line per run.
"""

import argparse
import collections
import contextlib
import hashlib
import imaplib
import io
import os
import random
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import archive  # noqa: E402  (tests/integration/archive.py)

CRASH_EXIT = 86


# ------------------------------------------------------------ server side

def uid_procs(uid, ppid=0):
    """PIDs of the processes whose real uid is UID (dovecot's mail
    processes for the user), children of PPID if not 0."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/status" % d, "rb") as f:
                st = dict(line.split(b":", 1) for line in f if b":" in line)
        except OSError:
            continue
        if int(st.get(b"Uid", b"-1 ").split()[0]) != uid:
            continue
        if ppid and int(st.get(b"PPid", b"0").strip()) != ppid:
            continue
        out.append(int(d))
    return out


def tcp_inodes():
    """The inodes of every TCP socket."""
    out = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                out.update(x.split()[9] for x in fh.readlines()[1:])
        except (OSError, IndexError):
            pass
    return out


def serving(pids):
    """Those of PIDS that hold a TCP socket: serving a client."""
    tcp = tcp_inodes()
    out = []
    for pid in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if t.startswith("socket:[") and t[8:-1] in tcp:
                    out.append(pid)
                    break
        except OSError:
            pass
    return out


def wait_idle(uid, ppid=0, timeout=20.0, clients_only=False):
    """Waits until no process runs as UID (under PPID), or with
    CLIENTS_ONLY none that still has a client's TCP connection (dovecot
    sometimes leaves a mail process behind that never got the connection
    of a client killed during the login); False on timeout."""
    deadline = time.time() + timeout
    while True:
        pids = uid_procs(uid, ppid)
        if clients_only and pids:
            pids = serving(pids)
        if not pids:
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.005)


def restore(srv, pristine, uid, ppid):
    if not wait_idle(uid, ppid, timeout=5.0) and \
            not wait_idle(uid, ppid, timeout=15.0, clients_only=True):
        raise RuntimeError("dovecot processes of uid %d did not end: %s"
                           % (uid, describe_procs(uid_procs(uid, ppid))))
    if os.path.lexists(srv):
        shutil.rmtree(srv)
    subprocess.run(["cp", "-a", pristine, srv], check=True)


def maildir_hashes(path):
    out = collections.Counter()
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                out[hashlib.sha256(f.read()).hexdigest()] += 1
    return out


def imap_state(port, user, password):
    """(message count, [uids flagged \\Deleted]) of INBOX."""
    m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    try:
        m.login(user, password)
        typ, data = m.select("INBOX", readonly=True)
        if typ != "OK":
            raise RuntimeError("EXAMINE INBOX: %r" % data)
        n = int(data[0])
        deleted = []
        if n:
            typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
            for item in data:
                line = item[0] if isinstance(item, tuple) else item
                if line and b"\\Deleted" in line:
                    mo = re.search(rb"UID (\d+)", line)
                    deleted.append(int(mo.group(1)) if mo else -1)
        return n, deleted
    finally:
        try:
            m.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


# ------------------------------------------------------------ checks

def check_archive(kind, path, expdir):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = archive.check(kind, path, expdir)
    return rc, buf.getvalue().strip()


def stray_files(root, kind, path):
    """Files beside the archive that should not be there: dotlocks, files
    left in the Maildir's tmp/, anything but the mbox file (mbox) or the
    messages in new/ and cur/ (Maildir)."""
    out = []
    keep = {os.path.join(path, "new"), os.path.join(path, "cur")}
    for dirpath, _, files in os.walk(root):
        for n in files:
            p = os.path.join(dirpath, n)
            if n.endswith(".lock"):
                out.append("dotlock left: %s" % p)
            elif kind == "mbox":
                if p != path:
                    out.append("stray file: %s" % p)
            elif dirpath == os.path.join(path, "tmp"):
                out.append("left in tmp/: %s" % p)
            elif dirpath not in keep:
                out.append("stray file: %s" % p)
    return out


def verify(a, pristine_hashes):
    problems = []
    # The last session's dovecot process may still be finishing.
    wait_idle(a.uid, a.dovecot_pid, timeout=10.0, clients_only=True)
    rc, text = check_archive(a.kind, a.archive, a.exp)
    if rc != 0:
        problems.append(text)
    problems.extend(stray_files(a.archive_root, a.kind, a.archive))
    got = maildir_hashes(a.srv)
    if a.keep == "yes":
        if got != pristine_hashes:
            miss = pristine_hashes - got
            extra = got - pristine_hashes
            problems.append("server: %d messages, want the %d seeded ones "
                            "(%d missing, %d unexpected)"
                            % (sum(got.values()),
                               sum(pristine_hashes.values()),
                               sum(miss.values()), sum(extra.values())))
    elif got:
        problems.append("server still holds %d messages, want 0"
                        % sum(got.values()))
    # No message file left with keep=no: nothing for IMAP to list either.
    if a.protocol == "imap" and (a.keep == "yes" or got):
        n, deleted = imap_state(a.imap_port, a.user, a.password)
        want = sum(pristine_hashes.values()) if a.keep == "yes" else 0
        if n != want:
            problems.append("IMAP INBOX: %d messages, want %d" % (n, want))
        if deleted:
            problems.append("IMAP INBOX: UIDs %s left flagged \\Deleted"
                            % ",".join(map(str, deleted)))
    return problems


# ------------------------------------------------------------ points

def reset(a):
    restore(a.srv, a.pristine, a.uid, a.dovecot_pid)
    for d in (a.archive_root, a.state):
        if os.path.lexists(d):
            shutil.rmtree(d)
        os.makedirs(d)


def run(binary, a, extra_env, timeout=60):
    env = dict(os.environ)
    env.pop("MAILHAUL_CRASH_AT", None)
    env.pop("MAILHAUL_CRASH_TRACE", None)
    env.update(extra_env)
    try:
        p = subprocess.run([binary, "-c", a.conf], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or b"").decode("utf-8", "replace"), \
            (e.stderr or b"").decode("utf-8", "replace") + \
            "\n(killed after %d s)" % timeout


def read_trace(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [x.strip() for x in f if x.strip()]
    except FileNotFoundError:
        return []


def sample(names, k):
    """A deterministic choice of at most K crash points (1-based) out of
    the trace NAMES: the first and the last passing of every point name,
    then evenly spread ones."""
    total = len(names)
    if k <= 0 or k >= total:
        return list(range(1, total + 1))
    pick = set()
    first, last = {}, {}
    for i, n in enumerate(names, 1):
        first.setdefault(n, i)
        last[n] = i
    pick.update(first.values())
    pick.update(last.values())
    m = k - len(pick)
    for j in range(max(0, m)):
        pick.add(int((j + 0.5) * total / m) + 1)
    rest = [i for i in range(1, total + 1) if i not in pick]
    random.Random(total).shuffle(rest)
    pick.update(rest[:max(0, k - len(pick))])
    return sorted(pick)


def tail(text, n=6):
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " | ".join(lines[-n:]) if lines else "(nothing)"


def cmd_points(a):
    t0 = time.time()
    pristine_hashes = maildir_hashes(a.pristine)
    trace = os.path.join(a.work, "trace")
    out = []

    # The full session, with a trace: how many points, which ones.
    reset(a)
    if os.path.exists(trace):
        os.unlink(trace)
    rc, so, se = run(a.crashbin, a, {"MAILHAUL_CRASH_TRACE": trace})
    names = read_trace(trace)
    if rc != 0:
        print("result 0 0 1 0 %.1f" % (time.time() - t0))
        print("fail 0 trace-run: the crash binary without MAILHAUL_CRASH_AT "
              "exited %d: %s" % (rc, tail(so + "\n" + se)))
        return 0
    problems = verify(a, pristine_hashes)
    trace_failed = 0
    if problems:
        trace_failed = 1
        out.append("fail 0 trace-run: the uninterrupted session is already "
                   "wrong: %s" % "\n  ".join(problems))
    if not names:
        print("result 0 0 1 0 %.1f" % (time.time() - t0))
        print("fail 0 trace-run: no crash point passed (empty trace %s)"
              % trace)
        return 0

    todo = sample(names, a.sample)
    failed, multi, detailed = trace_failed, 0, 0
    by_name = collections.Counter()
    spent = collections.Counter()
    tried = 0
    for n in todo:
        if a.deadline and time.time() > a.deadline:
            out.insert(0, "fail - time budget: stopped after %d of %d points"
                       % (tried, len(todo)))
            failed += 1
            break
        tried += 1
        want = names[n - 1]
        t = time.time()
        reset(a)
        spent["reset"] += time.time() - t
        t = time.time()
        if os.path.exists(trace):
            os.unlink(trace)
        rc, so, se = run(a.crashbin, a, {"MAILHAUL_CRASH_AT": str(n),
                                         "MAILHAUL_CRASH_TRACE": trace})
        spent["crash"] += time.time() - t
        t = time.time()
        got = read_trace(trace)
        hit = got[-1] if got else "?"
        problems = []
        if rc != CRASH_EXIT:
            problems.append("crash run exited %d, want %d (point %d not "
                            "reached? it passed %d): %s"
                            % (rc, CRASH_EXIT, n, len(got),
                               tail(so + "\n" + se, 3)))
        elif len(got) != n or hit != want:
            problems.append("crash run stopped at point %d %s, the trace "
                            "run had %s there (nondeterministic order)"
                            % (len(got), hit, want))
        runs, rcs = 0, []
        while runs < a.max_runs:
            runs += 1
            rc2, so, se = run(a.bin, a, {})
            rcs.append(rc2)
            if rc2 == 0:
                break
        if rcs[-1] != 0:
            problems.append("recovery: %d runs, none exited 0 (exit %s); "
                            "last: %s" % (runs, ",".join(map(str, rcs)),
                                          tail(so + "\n" + se, 4)))
        elif runs > 1:
            multi += 1
            out.append("note %d %s: recovery needed %d runs (exit %s); "
                       "first said: %s" % (n, want, runs,
                                           ",".join(map(str, rcs)),
                                           tail(se, 2)))
        spent["recover"] += time.time() - t
        t = time.time()
        problems.extend(verify(a, pristine_hashes))
        spent["verify"] += time.time() - t
        if problems:
            failed += 1
            by_name[want] += 1
            if detailed < a.max_details:
                detailed += 1
                out.append("fail %d %s: %s" % (n, want,
                                               "\n  ".join(problems)))
            else:
                out.append("fail %d %s: (details left out)" % (n, want))
    print("result %d %d %d %d %.1f" % (len(names), tried, failed, multi,
                                       time.time() - t0))
    counts = collections.Counter(names)
    order = list(dict.fromkeys(names))
    print("names " + " ".join("%s*%d" % (x, counts[x]) for x in order))
    print("time " + " ".join("%s=%.1fs" % (k, spent[k])
                             for k in ("reset", "crash", "recover", "verify")))
    if failed:
        print("failed-by-name " + " ".join(
            "%s*%d" % (x, by_name[x]) for x in order if by_name[x]))
    for line in out:
        print(line)
    return 0


# ------------------------------------------------------------ seed / gen

def cmd_seed(src, maildir, uid):
    uid = int(uid)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    base = "%d.M%%dP%d.mhkill" % (int(time.time()), os.getpid())
    for i, name in enumerate(sorted(os.listdir(src))):
        with open(os.path.join(src, name), "rb") as f:
            data = f.read()
        fn = base % i
        tmp = os.path.join(maildir, "tmp", fn)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, uid, uid)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(maildir, "new", fn))
    return 0


AWKWARD = [
    b"From the start of a line: mboxrd must quote this.\n",
    b">From already quoted once.\n>>From twice.\n",
    b"\nFrom sender@example.org Mon Jan  2 03:04:05 2023\n\n",
    b".\n..\n.hidden line\n",
    b"A bare\rCR inside a line.\n",
    b"NUL\x00byte.\n",
    b"8-bit: Gr\xc3\xbc\xc3\x9fe, K\xe4se.\n",
]


def cmd_gen(count, seed, outdir):
    rng = random.Random(int(seed))
    os.makedirs(outdir, exist_ok=True)
    words = (b"archive mailbox server message retrieve delete keep maildir "
             b"mbox header body line octet journal durable fsync").split()
    for i in range(1, int(count) + 1):
        size = rng.randint(1024, 96 * 1024)
        h = (b"From: Kill Test <kill@example.org>\n"
             b"To: Alice <alice@example.org>\n"
             b"Subject: kill -9 message %d\n"
             b"Date: Mon, 02 Jan 2023 03:04:05 +0000\n"
             b"Message-ID: <kill-%d@mailhaul.test>\n"
             b"MIME-Version: 1.0\n"
             b"Content-Type: text/plain; charset=utf-8\n\n" % (i, i))
        lines, total = [], len(h)
        while total < size:
            line = b" ".join(rng.choice(words)
                             for _ in range(rng.randint(1, 12))) + b"\n"
            if i % 10 == 0 and rng.random() < 0.02:
                line = rng.choice(AWKWARD)
            lines.append(line)
            total += len(line)
        body = b"".join(lines)
        if i % 50 == 7:
            body = body.rstrip(b"\n")          # no final newline
        with open(os.path.join(outdir, "kill-%03d" % i), "wb") as f:
            f.write(h + body)
    return 0


# ------------------------------------------------------------ dovecot's log

POP3_RE = re.compile(r"pop3\((?P<u>[^)]*)\).*Disconnected: (?P<how>.*?) "
                     r"top=\d+/\d+, retr=(?P<r>\d+)/\d+, "
                     r"del=(?P<d>\d+)/(?P<m>\d+)")
IMAP_RE = re.compile(r"imap\((?P<u>[^)]*)\).*Disconnected: (?P<how>.*?) "
                     r"in=\d+ out=\d+ deleted=(?P<del>\d+) "
                     r"expunged=(?P<exp>\d+) .*body_count=(?P<b>\d+)")


# ------------------------------------------------------------ kill9

def archived_count(kind, path):
    """Messages in the archive as it is on disk (an mbox's unfinished tail
    counts as one): an estimate of what is done."""
    if kind == "maildir":
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(path, sub)))
            except FileNotFoundError:
                pass
        return n
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    return (1 if data.startswith(b"From ") else 0) + data.count(b"\n\nFrom ")


def tcp_peer(inode):
    """For a TCP socket inode: "local->remote state, peer held by ..."."""
    rows = []
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                rows += [x.split() for x in fh.readlines()[1:]]
        except OSError:
            pass
    mine = [r for r in rows if len(r) > 9 and r[9] == str(inode)]
    if not mine:
        return "not TCP"
    loc, rem, st = mine[0][1], mine[0][2], mine[0][3]
    peers = [r[9] for r in rows if r[1] == rem and r[2] == loc]
    held = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or not peers:
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % d):
                if os.readlink("/proc/%s/fd/%s" % (d, fd)) in [
                        "socket:[%s]" % x for x in peers]:
                    with open("/proc/%s/comm" % d) as fh:
                        held.append("%s (%s)" % (d, fh.read().strip()))
        except OSError:
            pass
    return "%s->%s state %s, peer inode %s held by %s" % (
        loc, rem, st, ",".join(peers) or "none",
        ",".join(held) or "nobody")


def describe_procs(pids):
    """State, kernel wait channel and open sockets of PIDS."""
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/wchan" % pid) as f:
                wchan = f.read().strip()
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode().strip()
            socks = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if t.startswith("socket:"):
                    socks.append("%s=%s [%s]" % (fd, t, tcp_peer(t[8:-1])))
            out.append("pid %d %s state %s wchan %s sockets %s"
                       % (pid, cmd, st, wchan, ",".join(socks)))
        except OSError as e:
            out.append("pid %d: %s" % (pid, e))
    return "; ".join(out)


def session_after(log, offset, user, proto, uid, dcpid, login_seen_wait=2.0):
    """The first finished session of USER logged after OFFSET, once
    dovecot's mail process for it has ended: a match object, or None
    when there was no login.  Sets session_after.stuck to a description
    of dovecot's processes if they did not end within 5 s."""
    session_after.stuck = ""
    if not wait_idle(uid, dcpid, timeout=5.0, clients_only=True):
        session_after.stuck = describe_procs(
            serving(uid_procs(uid, dcpid)))
    rx = POP3_RE if proto == "pop3" else IMAP_RE
    login = re.compile(r"%s-login: Info: Login: user=<%s>"
                       % (proto, re.escape(user)))
    deadline = time.time() + login_seen_wait
    while True:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        logged_in = False
        for line in text.splitlines():
            if login.search(line):
                logged_in = True
            mo = rx.search(line)
            if mo and mo.group("u") == user:
                return mo
        # A login without its end: the line is still on its way.
        if not logged_in or time.time() > deadline:
            return None
        time.sleep(0.01)


def describe_dotlock(path):
    """What a dotlock says: the pid in it, and what that pid is now."""
    try:
        with open(path, "rb") as f:
            text = f.read(64).decode("ascii", "replace").strip()
    except OSError as e:
        return "unreadable: %s" % e
    try:
        with open("/proc/%d/comm" % int(text)) as f:
            now = "a live process (%s)" % f.read().strip()
    except (ValueError, OSError):
        now = "no such process"
    return "pid %r, now %s" % (text, now)


def holders(path):
    """Processes that have PATH open, and the kernel's locks on it."""
    out = []
    real = os.path.realpath(path)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % d):
                if os.readlink("/proc/%s/fd/%s" % (d, fd)) == real:
                    with open("/proc/%s/comm" % d) as f:
                        out.append("pid %s (%s) fd %s"
                                   % (d, f.read().strip(), fd))
        except OSError:
            pass
    try:
        st = os.stat(path)
        ino = ":%d" % st.st_ino
        with open("/proc/locks") as f:
            for line in f:
                # "1: OFDLCK ADVISORY WRITE -1 fd:01:1234 0 EOF"
                if any(x.count(":") == 2 and x.endswith(ino)
                       for x in line.split()):
                    out.append("lock: " + line.strip())
    except (OSError, IndexError):
        pass
    return "; ".join(out) if out else "nobody has it open, no lock"


def cmd_kill9(a):
    rng = random.Random(a.seed)
    t0 = time.time()
    kills, other, runs = 0, 0, []
    cat = collections.Counter()
    ended = False
    env = dict(os.environ)
    budget = False
    short = a.short_share
    last = None  # (archived before, category) of the last short kill
    while kills < a.max_kills:
        if a.deadline and time.time() > a.deadline:
            budget = True
            break
        before = archived_count(a.kind, a.archive)
        todo = max(0, a.total - before)
        # Keep the short kills early in the download: narrower after one
        # that let a batch through, wider after one before any message.
        if last is not None:
            if before - last[0] > 1:
                short = max(0.005, short * 0.5)
            elif last[1] in ("before-login", "before-fetch"):
                short = min(0.5, short * 1.2)
        fetch = a.full - a.startup
        lo = a.startup * 0.8
        is_long = rng.random() < a.long_share
        if is_long:
            # Anywhere in this run, up to about its expected end.
            hi = a.startup + fetch * todo / a.total * 0.9
        else:
            # Early in the download: most of these kills leave the batch
            # being written unfinished, and progress is slow.
            hi = a.startup + fetch * short
        delay = rng.uniform(lo, max(hi, lo * 1.5))
        offset = os.path.getsize(a.log)
        p = subprocess.Popen([a.bin, "-c", a.conf], env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(timeout=delay)
            rc = p.returncode
            runs.append("run %d (pid %d): delay %.3fs, ended by itself: "
                        "exit %d%s" % (len(runs) + 1, p.pid, delay, rc,
                                       "" if rc == 0 else ": " + tail(
                                           err.decode("utf-8", "replace"),
                                           2)))
            if rc == 0:
                ended = True
                break
            other += 1
            if other > 10:
                break
            continue
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            kills += 1
        t_wait = time.time()
        mo = session_after(a.log, offset, a.user, a.proto, a.uid,
                           a.dovecot_pid)
        t_wait = time.time() - t_wait
        if mo is None:
            c, what = "before-login", "no session"
        else:
            got = int(mo.group("r") if a.proto == "pop3" else mo.group("b"))
            what = ("retr=%s del=%s" % (mo.group("r"), mo.group("d"))
                    if a.proto == "pop3" else
                    "fetched=%s stored=%s expunged=%s"
                    % (mo.group("b"), mo.group("del"), mo.group("exp")))
            if got == 0 and todo > 0:
                c = "before-fetch"
            elif got < todo:
                c = "mid-download"
            else:
                c = "after-download"
        cat[c] += 1
        last = None if is_long else (before, c)
        left = ""
        if session_after.stuck:
            left += "; dovecot still busy after 5 s: " + session_after.stuck
        if os.path.exists(a.archive + ".lock"):
            left += "; after the kill, a dotlock: %s" % describe_dotlock(
                a.archive + ".lock")
        runs.append("run %d (pid %d): delay %.3fs, killed %s (%s; %d of %d "
                    "still to fetch at its start; %.2fs for dovecot%s)"
                    % (len(runs) + 1, p.pid, delay, c, what, todo, a.total,
                       t_wait, left))
    if os.path.exists(a.archive + ".lock"):
        runs.append("before the final run: dotlock %s.lock: %s" % (
            a.archive, describe_dotlock(a.archive + ".lock")))
    p = subprocess.run([a.bin, "-c", a.conf], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    runs.append("final run: exit %d: %s" % (p.returncode, tail(
        (p.stdout + p.stderr).decode("utf-8", "replace"), 3)))
    if p.returncode != 0 and a.kind == "mbox":
        runs.append("holders of %s: %s" % (a.archive, holders(a.archive)))
    if os.path.exists(a.archive + ".lock"):
        runs.append("dotlock %s.lock left: %s" % (a.archive,
                                                  describe_dotlock(
                                                      a.archive + ".lock")))
    print("kills %d ended-by-itself %s final-rc %d before-login %d "
          "before-fetch %d mid-download %d after-download %d "
          "other-exits %d seconds %.1f out-of-time %s"
          % (kills, "yes" if ended else "no", p.returncode,
             cat["before-login"], cat["before-fetch"], cat["mid-download"],
             cat["after-download"], other, time.time() - t0,
             "yes" if budget else "no"))
    for r in runs:
        print(r)
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "wait-idle":
        return 0 if wait_idle(int(sys.argv[2]), int(sys.argv[3]),
                              clients_only=True) else 1
    if len(sys.argv) >= 2 and sys.argv[1] == "seed" and len(sys.argv) == 5:
        return cmd_seed(*sys.argv[2:])
    if len(sys.argv) >= 2 and sys.argv[1] == "gen" and len(sys.argv) == 5:
        return cmd_gen(*sys.argv[2:])
    if len(sys.argv) >= 2 and sys.argv[1] == "kill9":
        ap = argparse.ArgumentParser(prog="crashcheck.py kill9")
        ap.add_argument("--bin", required=True)
        ap.add_argument("--conf", required=True)
        ap.add_argument("--kind", choices=("maildir", "mbox"), required=True)
        ap.add_argument("--archive", required=True)
        ap.add_argument("--proto", choices=("pop3", "imap"), required=True)
        ap.add_argument("--user", required=True)
        ap.add_argument("--uid", type=int, required=True)
        ap.add_argument("--dovecot-pid", type=int, required=True)
        ap.add_argument("--log", required=True)
        ap.add_argument("--seed", type=int, required=True)
        ap.add_argument("--total", type=int, required=True)
        ap.add_argument("--full", type=float, required=True)
        ap.add_argument("--startup", type=float, required=True)
        ap.add_argument("--max-kills", type=int, default=100)
        ap.add_argument("--deadline", type=float, default=0,
                        help="epoch time after which no more kills")
        ap.add_argument("--long-share", type=float, default=0.03)
        ap.add_argument("--short-share", type=float, default=0.08)
        return cmd_kill9(ap.parse_args(sys.argv[2:]))
    if len(sys.argv) < 2 or sys.argv[1] != "points":
        sys.exit(__doc__.strip())
    ap = argparse.ArgumentParser(prog="crashcheck.py points")
    ap.add_argument("--crashbin", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--kind", choices=("maildir", "mbox"), required=True)
    ap.add_argument("--archive", required=True,
                    help="the Maildir or mbox path in the configuration")
    ap.add_argument("--archive-root", required=True,
                    help="the directory holding it, emptied each time")
    ap.add_argument("--state", required=True,
                    help="the directory of state_file, emptied each time")
    ap.add_argument("--srv", required=True, help="the user's server Maildir")
    ap.add_argument("--pristine", required=True)
    ap.add_argument("--uid", type=int, required=True)
    ap.add_argument("--dovecot-pid", type=int, default=0,
                    help="the dovecot master: its children of --uid are "
                    "the user's mail processes")
    ap.add_argument("--exp", required=True)
    ap.add_argument("--keep", choices=("yes", "no"), required=True)
    ap.add_argument("--protocol", choices=("pop3", "imap"), required=True)
    ap.add_argument("--imap-port", type=int, default=0)
    ap.add_argument("--user", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--work", required=True)
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--max-runs", type=int, default=3)
    ap.add_argument("--max-details", type=int, default=8)
    ap.add_argument("--deadline", type=float, default=0,
                    help="epoch time after which no further point is tried")
    return cmd_points(ap.parse_args(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
