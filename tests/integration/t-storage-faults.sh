#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Storage faults (issue 4): tests/fault/faultfs.c, an LD_PRELOAD shim,
# makes the N-th write (EIO, ENOSPC, EDQUOT, EROFS, or a short write),
# fsync, link, rename or close on the archive fail, for a POP3 keep = no
# download into a Maildir and into an mbox.  A counting run first learns
# how many calls of each kind a full run makes; then every N (or an even
# spread with the first and the last, when there are many) is tried on a
# freshly seeded server.  After each fault: exit 74, one error line naming
# the account and the cause and nothing else on stderr, no message lost
# (whatever the server no longer holds is in the archive), nothing
# partial or duplicated in the archive (an mbox parses to whole messages
# only and is, From_ dates aside, a byte prefix of the mbox a clean run
# writes: the failed append left no trace); a short write is no error at
# all, nor is a failed close of a file already synced.  Then a clean run
# without the shim finishes the job: exit 0, every message exactly once,
# the server empty, nothing left in tmp/ or beside the mbox.
# A real full disk (a tiny tmpfs, when mount is allowed) and the IMAP path
# (two folders) get the same proof.
#
# FAULT_MAXN=K tries about K values of N per fault kind (default 6, 5
# under ASan; the first and last call of each call site are always
# tried); FAULT_MAXN=0 tries every N.
# shellcheck disable=SC2119 # mh_run takes no arguments here
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

src=$(cd "$(dirname "$0")/../.." && pwd)
SHIM=$T/faultfs.so
if ! t_ok "the faultfs shim builds" \
    cc -shared -fPIC -O2 -o "$SHIM" "$src/tests/fault/faultfs.c" -ldl; then
    t_done
fi

# The shim comes before libasan in the load order: tell ASan that is fine.
FAULT_ENV=()
asan=0
if [ -n "${ASAN_OPTIONS:-}" ] || ldd "$MAILHAUL" 2>/dev/null | grep -q libasan; then
    asan=1
    FAULT_ENV+=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi
MAXN=${FAULT_MAXN:-6}
[ -z "${FAULT_MAXN:-}" ] && [ "$asan" = 1 ] && MAXN=5

# ---------------------------------------------------------------- helpers

# The full disk test mounts a tmpfs: unmount it before lib.sh's cleanup
# removes $T.
FULL=$T/full
# shellcheck disable=SC2317 # called from the exit trap
fault_cleanup() {
    if mountpoint -q "$FULL" 2>/dev/null; then
        umount "$FULL" 2>/dev/null || umount -l "$FULL" 2>/dev/null
    fi
    mh_cleanup
}
trap fault_cleanup EXIT

# Checks of the archives left behind, in python (one process for many
# runs: python takes longer to start than mailhaul needs for a run).
#   faultcheck.py safe KIND ARCHIVE EXPDIR REF SERVERDIR...
#     after a failed run: the archive holds only whole expected messages,
#     none twice, and every expected message is in the archive or still on
#     the server (matched by Message-ID).  An mbox must moreover be a byte
#     prefix of REF (the counting run's mbox: same server, same order),
#     From_ line dates aside: the failed append left no trace.  REF "-":
#     no such check.  Prints what differs.
#   faultcheck.py batch KIND EXPDIR REF SNAP...
#     each SNAP holds what try_fault kept of one run: fault (the archive
#     after the fault, if there was one), srv (the server's new/ and cur/
#     then), final (the archive after the clean rerun, or after a short
#     write).  Prints per SNAP "SNAP<TAB>safe|final<TAB>0|1<TAB>details";
#     final is check_archive's test: every message exactly once, nothing
#     else, nothing in tmp/.
cat >"$T/faultcheck.py" <<'PYEOF'
import collections, os, re, sys
sys.path.insert(0, os.environ["MH_LIB_DIR"])
import archive


def load_expected(expdir):
    exp = {}
    for root, _, files in os.walk(expdir):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                exp[os.path.relpath(p, expdir)] = fh.read()
    return exp


def read_any(kind, path):
    """The messages of an archive that may be absent or unfinished (a
    Maildir's tmp/ is not looked at: the next run cleans it)."""
    if kind == "maildir":
        msgs = []
        for sub in ("new", "cur"):
            d = os.path.join(path, sub)
            for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, n), "rb") as fh:
                    msgs.append(("%s/%s" % (sub, n), fh.read()))
        return msgs
    return archive.read_mbox(path) if os.path.exists(path) else []


def server_ids(srvdirs):
    ids = set()
    for d in srvdirs:
        for sub in ("new", "cur"):
            sd = os.path.join(d, sub)
            for f in os.listdir(sd) if os.path.isdir(sd) else []:
                with open(os.path.join(sd, f), "rb") as fh:
                    ids.add(archive.msgid(fh.read()))
    return ids


FROM_LINE = re.compile(rb"^(From \S+) [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d "
                       rb"\d\d:\d\d:\d\d \d{4}$", re.M)


def prefix_problems(path, ref):
    """An mbox PATH that is not REF cut at some point, From_ dates aside."""
    if ref == "-" or not os.path.exists(path):
        return []
    with open(path, "rb") as fh:
        got = FROM_LINE.sub(rb"\1", fh.read())
    with open(ref, "rb") as fh:
        want = FROM_LINE.sub(rb"\1", fh.read())
    if want.startswith(got):
        return []
    off = archive.first_diff(got, want)
    return ["the mbox is not the one a clean run writes, cut short: first "
            "difference at byte %d (From_ dates aside): got %r, want %r"
            % (off, got[max(0, off - 20):off + 40],
               want[max(0, off - 20):off + 40])]


def safe(kind, path, exp, ref, srvdirs):
    by_content = {b: n for n, b in exp.items()}
    problems = []
    try:
        msgs = read_any(kind, path)
    except archive.Malformed as e:
        msgs = []
        problems.append("archive malformed (a partial append?): %s" % e)
    got = collections.Counter()
    for label, b in msgs:
        n = by_content.get(b)
        if n is None:
            problems.append("partial or foreign message in the archive:")
            problems.extend(archive.explain(label, b, exp))
        else:
            got[n] += 1
    for n, c in sorted(got.items()):
        if c > 1:
            problems.append("duplicated: %s archived %d times" % (n, c))
    on_server = server_ids(srvdirs)
    lost = [n for n, b in sorted(exp.items())
            if got[n] == 0 and archive.msgid(b) not in on_server]
    for n in lost:
        problems.append("LOST: %s is neither in the archive nor on the "
                        "server" % n)
    if kind == "mbox" and not problems:
        problems.extend(prefix_problems(path, ref))
    head = ("%d of %d messages archived, %d on the server, %d lost"
            % (sum(got.values()), len(exp), len(on_server), len(lost)))
    return (1 if problems else 0), [head] + problems


def final(kind, path, exp):
    try:
        msgs = archive.read_archive(kind, path)
    except (archive.Malformed, OSError) as e:
        return 1, ["archive malformed: %s" % e]
    want = collections.Counter(exp.values())
    got = collections.Counter(b for _, b in msgs)
    if got == want:
        return 0, ["%d messages, each once" % len(msgs)]
    names = {b: n for n, b in exp.items()}
    out = ["%d archived, %d expected" % (len(msgs), len(exp))]
    for b in want:
        if got[b] != want[b]:
            out.append("%s archived %d times" % (names[b], got[b]))
    for label, b in msgs:
        if b not in want:
            out.extend(archive.explain(label, b, exp))
    return 1, out


def main(argv):
    if argv[1] == "safe":
        rc, lines = safe(argv[2], argv[3], load_expected(argv[4]), argv[5],
                         argv[6:])
        print("\n".join(lines))
        return rc
    kind, exp, ref = argv[2], load_expected(argv[3]), argv[4]
    for snap in argv[5:]:
        if os.path.isdir(os.path.join(snap, "srv")):
            rc, lines = safe(kind, os.path.join(snap, "fault"), exp, ref,
                             [os.path.join(snap, "srv")])
            print("%s\tsafe\t%d\t%s" % (snap, rc, " | ".join(lines)))
        rc, lines = final(kind, os.path.join(snap, "final"), exp)
        print("%s\tfinal\t%d\t%s" % (snap, rc, " | ".join(lines)))
    return 0


sys.exit(main(sys.argv))
PYEOF
# shellcheck disable=SC2317 # called through t_ok
fault_check() {
    MH_LIB_DIR=$MH_LIB_DIR "$MH_PYTHON" "$T/faultcheck.py" safe "$@"
}
fault_check_batch() {
    MH_LIB_DIR=$MH_LIB_DIR "$MH_PYTHON" "$T/faultcheck.py" batch "$@"
}

# fault_run VAR=VALUE...: mailhaul with the shim and those settings (sets
# RC OUT ERR as mh_run does).
fault_run() {
    timeout -k 5 "${MH_TIMEOUT:-60}" env "${FAULT_ENV[@]}" "$@" \
        LD_PRELOAD="$SHIM" "$MAILHAUL" -c "$MH_CONF" >"$T/out" 2>"$T/err"
    RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}

# srv_reset: alice's mailbox holds exactly the seed messages again, under
# new file names (dovecot may take a name it knew for the same message and
# not see it again): new UIDs, new UIDLs, the same bytes.
SRV_GEN=0
srv_reset() {
    local f i=0
    find "$MAILDIR_SRV/new" "$MAILDIR_SRV/cur" "$MAILDIR_SRV/tmp" \
        -maxdepth 1 -type f -delete
    SRV_GEN=$((SRV_GEN + 1))
    for f in "$T"/pseed/*; do
        i=$((i + 1))
        install -o 65534 -g 65534 -m 600 "$f" \
            "$MAILDIR_SRV/new/1700000000.G${SRV_GEN}M${i}P$$.fault" || return 1
    done
}

# What strerror says for each errno name.
declare -A CAUSE=([EIO]="Input/output error" [ENOSPC]="No space left on device"
    [EDQUOT]="Disk quota exceeded" [EROFS]="Read-only file system")

# pick_ns OP MAX: which N to try for OP, from the counting run's log:
# every N when there are at most MAX (or MAX = 0); else MAX values spread
# evenly, plus the first and the last call of each call site (function and
# file, with generated names such as tmp/NAME counted as one), so that
# the spool, the dotlock, the mbox append, tmp/ and new/ all get theirs.
# MAX = 1: the middle call only.
pick_ns() {
    awk -v op="$1" -v max="$2" -v pre="$FPATH" '
    $1 == op {
        n++
        p = substr($0, length($1) + length($2) + 3)
        if (index(p, pre) == 1) p = substr(p, length(pre) + 1)
        k = split(p, part, "/")
        if (part[k] ~ /[0-9]/) part[k] = "*"
        site = $2
        for (i = 1; i <= k; i++) site = site "/" part[i]
        if (!(site in first)) first[site] = n
        last[site] = n
    }
    END {
        if (n == 0) exit
        if (max == 1) { print int((n + 1) / 2); exit }
        if (max == 0 || n <= max) { for (i = 1; i <= n; i++) print i; exit }
        for (s in first) { want[first[s]] = 1; want[last[s]] = 1 }
        for (i = 0; i < max; i++) want[1 + int(i * (n - 1) / (max - 1))] = 1
        for (i = 1; i <= n; i++) if (i in want) print i
    }' "$T/count.log"
}

# Per assertion: the values of N where it failed and the first failure;
# report makes one TAP line of each.
declare -A BAD DIAG DESC
KEYS=()
note() { # KEY STATUS(0 = ok) N [DIAGNOSTIC]
    local k=$1
    case " ${KEYS[*]} " in *" $k "*) ;; *) KEYS+=("$k") ;; esac
    [ "$2" = 0 ] && return 0
    BAD[$k]="${BAD[$k]:-}${BAD[$k]:+ }$3"
    [ -n "${DIAG[$k]:-}" ] || DIAG[$k]="N=$3: ${4:-}"
}
report() { # LABEL NS
    local k
    for k in "${KEYS[@]}"; do
        if [ -z "${BAD[$k]:-}" ]; then
            t_result 0 "$1: ${DESC[$k]} (N = $2)"
        else
            t_result 1 "$1: ${DESC[$k]} (N = $2)"
            t_diag "failed for N = ${BAD[$k]}" "first failure:" "${DIAG[$k]}"
        fi
    done
    KEYS=()
    BAD=()
    DIAG=()
}
DESC=(
    [injected]="the fault was injected"
    [rc]="exit status 74"
    [errline]="one error line naming the account and the cause"
    [logonce]="nothing else on stderr (logged once)"
    [safe]="nothing lost, nothing partial, nothing twice"
    [short_rc]="a short write is no error: exit 0"
    [short_srv]="a short write: the server is empty afterwards"
    [close_late]="a close after the fsync: exit 0, every message archived once, the server empty"
    [rerun_rc]="the clean rerun exits 0"
    [final]="every message exactly once in the end (Maildir: nothing in tmp/)"
    [rerun_srv]="the clean rerun empties the server"
    [rerun_left]="nothing left beside the mbox in the end"
)

# leftovers: files in the mbox's directory other than the mbox (spool
# files, dotlocks).  A Maildir's tmp/ is looked at by the final check.
leftovers() {
    [ "$SINK" = mbox ] || return 0
    find "$ARCHDIR" -mindepth 1 ! -path "$ARCH" 2>/dev/null
}

# use_sink maildir|mbox: the archive, the path the shim watches, the
# configuration.
use_sink() {
    SINK=$1
    if [ "$1" = maildir ]; then
        ARCHDIR=$T/md
        ARCH=$ARCHDIR/Maildir
        FPATH=$ARCH
    else
        ARCHDIR=$T/mb
        ARCH=$ARCHDIR/mbox
        FPATH=$ARCHDIR # the spool file and the dotlock live here too
    fi
    mh_config work keep=no deliver="$SINK:$ARCH"
}

fresh() {
    srv_reset || return 1
    rm -rf "$ARCHDIR" "$T"/state.db*
    mkdir -p "$ARCHDIR"
}

# try_fault OP ERRNO|short N: one run with the N-th OP failing, checked
# at once where the shell can; the archives are kept in $SNAP for
# fault_check_batch.
try_fault() {
    local op=$1 how=$2 n=$3 snap=$T/snap/$4 lines shown
    local -a env=(FAULT_PATH="$FPATH" FAULT_OP="$op" FAULT_NTH="$n"
        FAULT_LOG="$T/fault.log")
    if [ "$how" = short ]; then
        env+=(FAULT_SHORT=1)
    else
        env+=(FAULT_ERRNO="$how")
    fi
    fresh
    : >"$T/fault.log"
    mkdir -p "$snap"
    fault_run "${env[@]}"
    RUNS=$((RUNS + 1))
    shown="exit $RC; stderr: ${ERR:-(empty)}"
    if grep -Eq '^(FAULT|SHORT) ' "$T/fault.log"; then
        note injected 0 "$n"
        FAULTS=$((FAULTS + 1))
    else
        note injected 1 "$n" "no $op call number $n was made ($(wc -l <"$T/fault.log") calls); $shown"
    fi
    if [ "$how" = short ]; then
        [ "$RC" = 0 ]
        note short_rc $? "$n" "$shown"
        lines=$(dc_server_count)
        [ "$lines" = 0 ]
        note short_srv $? "$n" "$lines messages on the server; $shown"
        [ -e "$ARCH" ] && mv "$ARCH" "$snap/final"
        return 0
    fi
    if [ "$op" = close ] && [ "$RC" = 0 ]; then
        # A close after the fsync (the mbox, the spool): what it would
        # report was made durable already, so the run goes on.
        lines=$(dc_server_count)
        [ "$lines" = 0 ] && [ -z "$ERR" ] &&
            check_archive "$SINK" "$ARCH" "$T/pexp" >/dev/null 2>&1
        note close_late $? "$n" "$lines messages on the server; $shown"
        [ -e "$ARCH" ] && mv "$ARCH" "$snap/final"
        return 0
    fi
    [ "$RC" = 74 ]
    note rc $? "$n" "$shown"
    lines=$(printf '%s\n' "$ERR" | grep -Ec "^mailhaul: work: .*${CAUSE[$how]}")
    [ "$lines" = 1 ]
    note errline $? "$n" "$lines lines match '^mailhaul: work: .*${CAUSE[$how]}'; $shown"
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    [ "$lines" = 1 ]
    note logonce $? "$n" "$lines lines on stderr; $shown"
    [ -e "$ARCH" ] && cp -a "$ARCH" "$snap/fault"
    mkdir -p "$snap/srv"
    cp -a "$MAILDIR_SRV/new" "$MAILDIR_SRV/cur" "$snap/srv/"
    # The clean rerun, without the shim.
    mh_run
    RUNS=$((RUNS + 1))
    [ "$RC" = 0 ]
    note rerun_rc $? "$n" "exit $RC; stderr: ${ERR:-(empty)}"
    lines=$(dc_server_count)
    [ "$lines" = 0 ]
    note rerun_srv $? "$n" "$lines messages on the server"
    if [ "$SINK" = mbox ]; then
        lines=$(leftovers)
        [ -z "$lines" ]
        note rerun_left $? "$n" "$lines"
    fi
    [ -e "$ARCH" ] && mv "$ARCH" "$snap/final"
    return 0
}

# run_kind OP ERRNO|short MAX: try_fault for a spread of N, then the
# archive checks of all of them at once, then the TAP lines.
run_kind() {
    local op=$1 how=$2 max=$3 ns n snap key ok rest out rc
    ns=$(pick_ns "$op" "$max" | tr '\n' ' ')
    ns=${ns% }
    if [ -z "$ns" ]; then
        t_result 0 "$SINK: $op $how # SKIP a full run makes no $op call on the archive"
        return 0
    fi
    local -a snaps=()
    for n in $ns; do
        try_fault "$op" "$how" "$n" "$SINK-$op-$how-$n"
        snaps+=("$T/snap/$SINK-$op-$how-$n")
    done
    out=$(fault_check_batch "$SINK" "$T/pexp" "$REF" "${snaps[@]}" 2>&1)
    rc=$?
    while IFS=$'\t' read -r snap key ok rest; do
        [ -n "$rest" ] || continue
        n=${snap##*-}
        note "$key" "$ok" "$n" "${rest//' | '/$'\n'}"
    done <<<"$out"
    # Every run must have been checked.
    for n in $ns; do
        grep -qF "$T/snap/$SINK-$op-$how-$n"$'\tfinal\t' <<<"$out" && continue
        note final 1 "$n" "faultcheck.py did not check it (exit $rc): $out"
    done
    rm -rf "$T/snap"
    report "$SINK: $op $how (of ${COUNT[$op]})" "${ns// /,}"
}

# ---------------------------------------------------------------- POP3

dc_start || exit 1
# Ten messages, awkward ones among them (From_ lines, dots, no final
# newline, NUL, 8-bit, a 20,000-byte line, headers only).
mh_mkseed --count 3 --only plain-01,plain-02,plain-03,from-lines,dots,8bit-latin1,no-final-newline,nul-byte,long-line,headers-only \
    "$T/pseed"
srv_reset
expected_from_server "$T/pexp" >/dev/null
NSEED=$(find "$T/pseed" -type f | wc -l)
t_eq "$(find "$T/pexp" -type f | wc -l)" "$NSEED" "oracle sees the $NSEED seeded messages"

start=$(date +%s)
FAULTS=0
RUNS=0
declare -A COUNT
for sink in maildir mbox; do
    use_sink "$sink"
    # The counting run: every call on the archive is logged, none fails.
    fresh
    : >"$T/count.log"
    fault_run FAULT_PATH="$FPATH" FAULT_OP=any FAULT_LOG="$T/count.log"
    RUNS=$((RUNS + 1))
    t_rc 0 "$sink: with the shim counting (no fault) mailhaul exits 0"
    t_ok "$sink: with the shim counting, every message archived exactly once" \
        check_archive "$sink" "$ARCH" "$T/pexp"
    REF=-
    if [ "$sink" = mbox ]; then
        cp "$ARCH" "$T/ref.mbox"
        REF=$T/ref.mbox
    fi
    for op in write fsync rename link close; do
        COUNT[$op]=$(grep -c "^$op " "$T/count.log")
    done
    t_diag "$sink: a full run makes ${COUNT[write]} writes, ${COUNT[fsync]} fsyncs, ${COUNT[rename]} renames, ${COUNT[link]} links, ${COUNT[close]} closes (of files open for writing) on the archive"
    t_ok "$sink: the shim sees the archive's writes and fsyncs" \
        test "${COUNT[write]}" -gt 0 -a "${COUNT[fsync]}" -gt 0

    run_kind write EIO "$MAXN"
    run_kind write short "$MAXN"
    run_kind fsync EIO "$MAXN"
    run_kind link EIO "$MAXN"
    run_kind rename EIO "$MAXN"
    run_kind close EIO "$MAXN"
    # Other errnos take the same paths: a few points each.
    run_kind write ENOSPC 3
    run_kind write EDQUOT 1
    run_kind write EROFS 1
done
t_diag "POP3: $FAULTS faults injected in $RUNS mailhaul runs, $(($(date +%s) - start)) s"

# ---------------------------------------------------------------- full disk

# A real ENOSPC: the archive on a tmpfs smaller than the mail.  16 KB
# (four pages) cannot hold the 20 KB message; for the mbox, 40 KB holds
# the spooled batch but not also its append to the mbox.
mkdir -p "$FULL"
if ! merr=$(mount -t tmpfs -o size=16k,mode=700 mailhaul-full "$FULL" 2>&1); then
    t_result 0 "real full disk # SKIP cannot mount a tmpfs: ${merr:-mount failed}"
else
    for case in maildir:16k mbox:16k mbox:40k; do
        sink=${case%%:*}
        size=${case#*:}
        what="full disk ($size), $sink"
        SINK=$sink ARCHDIR=$FULL ARCH=$FULL/$sink REF=-
        [ "$sink" = mbox ] && REF=$T/ref.mbox
        rm -rf "${FULL:?}"/* "$T"/state.db*
        t_ok "$what: the tmpfs is $size" mount -o "remount,size=$size" "$FULL"
        srv_reset
        mh_config work keep=no deliver="$sink:$ARCH"
        mh_run
        t_rc 74 "$what: exit 74"
        t_eq "$(printf '%s\n' "$ERR" | grep -Ec '^mailhaul: work: .*No space left on device')" 1 \
            "$what: one error line naming the account and ENOSPC" ||
            t_diag "stderr:" "$ERR"
        t_eq "$(printf '%s\n' "$ERR" | grep -c .)" 1 \
            "$what: nothing else on stderr (logged once)" ||
            t_diag "stderr:" "$ERR"
        t_ok "$what: nothing lost, nothing partial, nothing twice" \
            fault_check "$sink" "$ARCH" "$T/pexp" "$REF" "$MAILDIR_SRV"
        t_diag "$what: $(dc_server_count) of $NSEED messages left on the server"
        mount -o remount,size=4m "$FULL"
        mh_run
        t_rc 0 "$what: with room again, the rerun exits 0"
        t_ok "$what: every message exactly once" \
            check_archive "$sink" "$ARCH" "$T/pexp"
        t_eq "$(dc_server_count)" 0 "$what: the server is empty"
        t_eq "$(leftovers)" "" "$what: nothing left beside the archive"
    done
    umount "$FULL"
fi
t_diag "full disk done at $(($(date +%s) - start)) s"

# ---------------------------------------------------------------- IMAP

# The IMAP path: the same ten messages in INBOX and three more in
# Lists/dev, keep = no into one Maildir; a write and an fsync fault in the
# middle, then a clean rerun.
mh_mkseed --prefix dev- --count 2 --only plain-01,plain-02,dots "$T/dseed"
DEVDIR=$(dc_imap_dir Lists/dev)
imap_reset() {
    srv_reset || return 1
    find "$DEVDIR/new" "$DEVDIR/cur" -maxdepth 1 -type f -delete 2>/dev/null
    dc_imap_seed Lists/dev "$T"/dseed/* || return 1
    rm -rf "$ARCHDIR" "$T"/state.db*
}
imap_server_count() {
    find "$MAILDIR_SRV/new" "$MAILDIR_SRV/cur" "$DEVDIR/new" "$DEVDIR/cur" \
        -maxdepth 1 -type f | wc -l
}
SINK=maildir ARCHDIR=$T/imd ARCH=$T/imd/Maildir FPATH=$T/imd/Maildir
mh_config work protocol=imap folders='{"INBOX", "Lists/*"}' keep=no \
    deliver="maildir:$ARCH"
imap_reset
# What IMAP serves differs from POP3 (no final newline stays so): ask.
imap_expected "$T/iexp"
t_eq "$(find "$T/iexp" -type f | wc -l)" "$((NSEED + 3))" \
    "IMAP: the oracle sees $((NSEED + 3)) messages in INBOX and Lists/dev"
: >"$T/count.log"
fault_run FAULT_PATH="$FPATH" FAULT_OP=any FAULT_LOG="$T/count.log"
t_rc 0 "IMAP: with the shim counting mailhaul exits 0"
t_ok "IMAP: with the shim counting, every message archived once" \
    check_imap_archive flat "$ARCH" "$T/iexp" INBOX Lists/dev
for spec in write:EIO fsync:EIO; do
    op=${spec%%:*}
    how=${spec#*:}
    c=$(grep -c "^$op " "$T/count.log")
    n=$(((c + 1) / 2))
    imap_reset
    fault_run FAULT_PATH="$FPATH" FAULT_OP="$op" FAULT_NTH="$n" FAULT_ERRNO="$how"
    t_rc 74 "IMAP: $op $how at call $n of $c: exit 74"
    t_eq "$(printf '%s\n' "$ERR" | grep -Ec "^mailhaul: work: .*${CAUSE[$how]}")" 1 \
        "IMAP: $op $how: one error line naming the account and the cause"
    t_eq "$(printf '%s\n' "$ERR" | grep -c .)" 1 \
        "IMAP: $op $how: nothing else on stderr (logged once)" ||
        t_diag "stderr:" "$ERR"
    t_ok "IMAP: $op $how: nothing lost, nothing partial, nothing twice" \
        fault_check maildir "$ARCH" "$T/iexp" - "$MAILDIR_SRV" "$DEVDIR"
    mh_run
    t_rc 0 "IMAP: $op $how: the clean rerun exits 0"
    t_ok "IMAP: $op $how: every message exactly once" \
        check_imap_archive flat "$ARCH" "$T/iexp" INBOX Lists/dev
    t_eq "$(imap_server_count)" 0 "IMAP: $op $how: the server is empty afterwards"
done

t_diag "run time $(($(date +%s) - start)) s after dovecot started"
t_done
