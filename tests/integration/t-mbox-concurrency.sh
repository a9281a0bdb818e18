#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# mbox locking against other programs.  mailhaul takes the fcntl lock,
# then the dotlock MBOX.lock, never waiting for one while holding the
# other, with about 10 tries over ~3 s.
#  * A holder that keeps the locks (mutt's order: fcntl then dotlock;
#    dovecot's: dotlock then fcntl; or only one of them) makes mailhaul
#    skip the delivery: exit 75, an error naming the lock, the mbox byte
#    for byte as it was, nothing deleted on the server (keep = no).  Once
#    the holder is gone, the next run archives everything exactly once.
#  * A holder that lets go within the retry window (having waited for its
#    second lock while mailhaul tried, then taking the locks in its own
#    order, with blocking waits, as long as mailhaul runs) is waited for:
#    exit 0, no deadlock on either side, and the mbox never changed while
#    the holder held a lock.
#  * A dotlock whose pid is dead is broken at once; one without a valid
#    pid (procmail writes "0") only when older than 5 minutes.
#  * procmail (dotlock, then fcntl: checked below) delivers 200+ messages
#    into the mbox mailhaul is appending to: the mbox then holds each
#    message of both writers once, byte for byte (archive.py, python's
#    mailbox, formail -s), none split, merged or interleaved.
#  * Two mailhaul processes (two accounts, two state files) appending to
#    the same mbox at once: each message twice, none interleaved.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

# At exit, ends the lock holders and the procmail feeder still running
# (jobs -p: our own children not reaped yet).
# shellcheck disable=SC2317 # called from the exit trap
bg_stop() {
    local p
    for p in $(jobs -p); do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
trap 'bg_stop; mh_cleanup' EXIT

# hold_start WHEN STATUS ARGS...: starts "lockhold.py hold --status
# STATUS ARGS..." in the background (pid in HOLDER) and waits until it
# holds its locks (WHEN = both) or the first of them (WHEN = first).  Not
# in a subshell: HOLDER must survive.
hold_start() {
    local line='^both held$' st=$2
    [ "$1" = first ] && line='^locked '
    shift 2
    : >"$st"
    "$MH_PYTHON" "$MH_LIB_DIR/lockhold.py" hold --status "$st" "$@" &
    HOLDER=$!
    for _ in $(seq 1 200); do
        grep -q "$line" "$st" && return 0
        kill -0 "$HOLDER" 2>/dev/null || break
        sleep 0.05
    done
    cat "$st" >&2
    return 1
}

# hold_wait: waits (at most 20 s) for the holder; its exit status.
hold_wait() {
    local rc
    for _ in $(seq 1 400); do
        kill -0 "$HOLDER" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$HOLDER" 2>/dev/null; then
        kill "$HOLDER"
        wait "$HOLDER" 2>/dev/null
        return 124
    fi
    wait "$HOLDER"
    rc=$?
    return "$rc"
}

# mh_timed: mh_run, and TOOK its run time in milliseconds.
mh_timed() {
    local start
    start=$(date +%s%N)
    mh_run --force
    TOOK=$((($(date +%s%N) - start) / 1000000))
}

# The mbox starts with a message of another program's, and most cases
# start with a fresh state: every run passes --force, as a user sharing an
# mbox with another program does for the first poll (without, more than a
# handful of messages for a target with mail the state does not know is
# refused: t-retention).
mkdir -p "$T/foreign"
printf '%s\n' "From: Other <other@example.org>" "Subject: already here" \
    "Message-ID: <foreign@mailhaul.test>" "" \
    "Written by another program before mailhaul ran." >"$T/foreign/foreign"
mbox_reset() {
    rm -f "$1" "$1.lock"
    { echo "From other@example.org Mon Jan  2 03:04:05 2023"
        cat "$T/foreign/foreign"
        echo; } >"$1"
}

# expected_dirs OUT DIR...: OUT holds a copy of every file of the DIRs.
expected_dirs() {
    local out=$1 d
    shift
    rm -rf "$out" && mkdir -p "$out" || return 1
    for d in "$@"; do
        cp -p -- "$d"/* "$out/" || return 1
    done
}

# reseed: when keep = no emptied the server, seeds it again and reads the
# oracle's expected messages anew (new UIDLs) into $T/exp.
reseed() {
    [ "$(dc_server_count)" = 0 ] || return 0
    dc_seed "$T"/seed/* || return 1
    rm -rf "$T/exp"
    expected_from_server "$T/exp" >/dev/null
}

dc_start_seeded
mbox=$T/mbox
mbox_re=$(re_escape "$mbox")
lock_err="^mailhaul: work: .*mbox $mbox_re: locked by another program \\($mbox_re\\.lock\\)\$"

# ---------------------------------------------------- 1, 2: held locks

# Only one of the two locks held is enough to keep mailhaul out; the run
# after the release is checked for the two orders of both locks.
for order in fcntl dot mutt dovecot; do
    reseed || exit 1
    expected_dirs "$T/want" "$T/exp" "$T/foreign" || exit 1
    mbox_reset "$mbox"
    rm -f "$T/state.db"* "$T/release"
    mh_config work keep=no deliver="mbox:$mbox"
    if ! hold_start both "$T/hold-$order" --order "$order" --release "$T/release" \
        --timeout 30 "$mbox"; then
        t_result 1 "$order: the holder takes its locks"
        continue
    fi
    before=$(archive_digest "$mbox")
    dc_log_mark
    mh_timed
    t_rc 75 "$order-order holder keeps the locks: exit 75"
    t_match "$ERR" "$lock_err" "$order: the error names the mbox and its lock"
    t_eq "$(archive_digest "$mbox")" "$before" "$order: the mbox is byte for byte as it was"
    t_eq "$(dc_server_count)" "$N" "$order: keep = no, yet all $N messages are still on the server"
    t_ok "$order: no DELE reached dovecot" dc_log_lacks 'del=[1-9]'
    t_ok "$order: mailhaul retried for a while (${TOOK} ms) before giving up" \
        test "$TOOK" -ge 1000
    t_lt "$TOOK" 15000 "$order: and gave up in bounded time (${TOOK} ms)"
    case $order in
    mutt | dovecot | dot)
        t_eq "$(cat "$mbox.lock" 2>/dev/null)" "$HOLDER" \
            "$order: the holder's dotlock is untouched (a live pid is never broken)"
        ;;
    fcntl)
        t_ok "fcntl: no dotlock of mailhaul's left behind" test ! -e "$mbox.lock"
        ;;
    esac
    touch "$T/release"
    hold_wait
    t_eq "$?" 0 "$order: the holder released its locks cleanly"
    t_nomatch "$(cat "$T/hold-$order")" '^(changed|stuck)' \
        "$order: the mbox did not change while the holder held the locks"
    case $order in fcntl | dot) continue ;; esac

    mh_run --force
    t_rc 0 "$order: with the locks free, the next run exits 0"
    t_ok "$order: the mbox holds the old message and every server message once" \
        check_archive mbox "$mbox" "$T/want"
    t_eq "$(dc_server_count)" 0 "$order: keep = no: now the server is empty"
    t_ok "$order: no dotlock left behind" test ! -e "$mbox.lock"
done

# ---------------------------------------------------- 3: let go in time
# The holder takes its first lock, 1 s later its second (a blocking wait,
# the moment a writer holding one lock and waiting for the other would
# deadlock with it), holds both 0.3 s and lets go; then, while mailhaul
# runs, it keeps taking and releasing them; once mailhaul is done it takes
# them once more.

reseed || exit 1
expected_dirs "$T/want" "$T/exp" "$T/foreign" || exit 1
for order in mutt dovecot; do
    mbox_reset "$mbox"
    rm -f "$T/state.db"* "$T/again"
    mh_config work keep=yes deliver="mbox:$mbox"
    if ! hold_start first "$T/hold3-$order" --order "$order" --gap 1 \
        --hold 0.3 --contend --again "$T/again" --timeout 10 "$mbox"; then
        t_result 1 "$order: the holder takes its locks"
        continue
    fi
    mh_timed
    t_rc 0 "$order-order holder lets go after 1.3 s: mailhaul waits, exit 0"
    t_ok "$order: mailhaul waited for the holder (${TOOK} ms)" \
        test "$TOOK" -ge 1000
    t_lt "$TOOK" 15000 "$order: no deadlock: mailhaul finished in ${TOOK} ms"
    t_ok "$order: the mbox holds the old message and every server message once" \
        check_archive mbox "$mbox" "$T/want"
    touch "$T/again"
    hold_wait
    t_eq "$?" 0 "$order: the holder ended well (exit 0)"
    t_ok "$order: no dotlock left behind" test ! -e "$mbox.lock"
    st=$(cat "$T/hold3-$order")
    t_match "$st" '^retook$' "$order: the holder took its locks again afterwards"
    t_match "$st" '^both held$' \
        "$order: the holder's blocking wait for its second lock ended"
    t_nomatch "$st" '^stuck' "$order: no lock wait of the holder's got stuck"
    t_nomatch "$st" '^dotlock appeared' \
        "$order: mailhaul never made its dotlock while the holder had only the fcntl lock"
    t_nomatch "$st" '^changed' \
        "$order: the mbox never changed while the holder held the locks"
    t_diag "$order: the holder took the locks $(sed -n 's/^cycles //p' "$T/hold3-$order") times while mailhaul ran"
done

# ---------------------------------------------------- stale dotlocks

mh_config work keep=yes deliver="mbox:$mbox"
dead=$(sh -c 'echo $$')
mbox_reset "$mbox"
echo "$dead" >"$mbox.lock"
rm -f "$T/state.db"*
mh_timed
t_rc 0 "a dotlock whose pid ($dead) is dead is broken: exit 0"
t_lt "$TOOK" 2000 "at once (${TOOK} ms), not after ~3 s of retries"
t_ok "the mbox holds the old message and every server message once" \
    check_archive mbox "$mbox" "$T/want"
t_ok "no dotlock left behind" test ! -e "$mbox.lock"

mbox_reset "$mbox"
echo 0 >"$mbox.lock"
rm -f "$T/state.db"*
before=$(archive_digest "$mbox")
mh_run --force
t_rc 75 "a fresh dotlock without a valid pid (procmail's \"0\") is respected: exit 75"
t_match "$ERR" "$lock_err" "the error names the lock"
t_eq "$(archive_digest "$mbox")" "$before" "the mbox is byte for byte as it was"
t_eq "$(cat "$mbox.lock" 2>/dev/null)" 0 "the dotlock is still there"

touch -d '6 minutes ago' "$mbox.lock"
mh_run --force
t_rc 0 "the same dotlock 6 minutes old is broken: exit 0"
t_ok "the mbox holds the old message and every server message once" \
    check_archive mbox "$mbox" "$T/want"
t_ok "no dotlock left behind" test ! -e "$mbox.lock"

# ---------------------------------------------------- 4: procmail
# "procmail -m RCFILE" delivering to DEFAULT (Debian's procmail 3.22, which
# says v3.23pre; checked with strace): link()s DEFAULT.lock (holding "0"),
# then F_SETLKW on the mbox, appends with several write()s ("F", then the
# rest: only the locks keep another writer out), quotes body "From " lines
# with ">", fsyncs, unlocks.  A held dotlock makes it sleep LOCKSLEEP s.

cat >"$T/pm.rc" <<EOF
LOCKSLEEP=1
DEFAULT=$T/pm-check.mbox
EOF
printf '%s\n' "From feeder@example.org Mon Jan  2 03:04:05 2023" \
    "From: f@example.org" "Subject: lock check" "" "body" >"$T/pm-one"
# procmail honours each of the two locks: it waits while we hold one.
for order in dot fcntl; do
    : >"$T/pm-check.mbox"
    rm -f "$T/release"
    if ! hold_start both "$T/holdpm-$order" --order "$order" \
        --release "$T/release" --timeout 30 "$T/pm-check.mbox"; then
        t_result 1 "$order: the holder takes its lock"
        continue
    fi
    procmail -m "$T/pm.rc" <"$T/pm-one" &
    pm=$!
    sleep 0.7
    t_eq "$(stat -c %s "$T/pm-check.mbox")" 0 \
        "procmail waits while another program holds the $order lock"
    touch "$T/release"
    hold_wait
    for _ in $(seq 1 100); do
        kill -0 "$pm" 2>/dev/null || break
        sleep 0.05
    done
    kill "$pm" 2>/dev/null
    wait "$pm"
    t_eq "$?" 0 "$order: then procmail delivers (exit 0)"
    t_eq "$(grep -c '^Subject: lock check$' "$T/pm-check.mbox")" 1 \
        "$order: the message is in the mbox"
done

shared=$T/shared.mbox
sed -i "s|^DEFAULT=.*|DEFAULT=$shared|" "$T/pm.rc"
# Four rounds of 100+ new messages on the server, staged in its tmp/
# beforehand: one mv puts a round into new/ (dc_seed's way, in bulk).
for round in 1 2 3 4; do
    mh_mkseed --count 100 --prefix "r$round-" "$T/seed-r$round"
    cp -- "$T/seed-r$round"/* "$MAILDIR_SRV/tmp/" || exit 1
done
chown 65534:65534 "$MAILDIR_SRV"/tmp/r*
chmod 600 "$MAILDIR_SRV"/tmp/r*
rm -f "$T/pm.stop"
"$MH_PYTHON" "$MH_LIB_DIR/lockhold.py" procmail --rc "$T/pm.rc" --out "$T/pm" \
    --stop "$T/pm.stop" --min 200 2>"$T/pm.err" &
feeder=$!
pm_count() {
    cat "$T/pm/count" 2>/dev/null || echo 0
}
mh_config work keep=yes deliver="mbox:$shared" state_file="$T/state-pm.db"
rcs=
last=0
for round in 1 2 3 4; do
    mv -- "$MAILDIR_SRV/tmp/r$round-"* "$MAILDIR_SRV/new/" || exit 1
    # Let procmail deliver between two runs of mailhaul's.
    for _ in $(seq 1 200); do
        [ "$(pm_count)" -ge $((last + 3)) ] && break
        sleep 0.05
    done
    mh_run --force
    rcs="$rcs $RC"
    [ "$RC" = 0 ] || mh_show_output
    last=$(pm_count)
done
t_eq "$rcs" " 0 0 0 0" "four runs of mailhaul beside procmail: all exit 0"
touch "$T/pm.stop"
wait "$feeder"
t_eq "$?" 0 "the procmail feeder delivered without an error"
[ -s "$T/pm.err" ] && t_diag "$(cat "$T/pm.err")"
npm=$(pm_count)
nsrv=$(dc_server_count)
t_ok "procmail delivered at least 200 messages ($npm)" test "$npm" -ge 200
rm -rf "$T/exp-pm"
expected_from_server "$T/exp-pm" >/dev/null
t_eq "$(find "$T/exp-pm" -type f | wc -l)" "$nsrv" "the oracle sees the $nsrv server messages"
rm -f "$T/pm/count"
expected_dirs "$T/want-pm" "$T/exp-pm" "$T/pm" || exit 1
t_eq "$(archive_count mbox "$shared")" $((nsrv + npm)) \
    "the mbox holds $nsrv (mailhaul) + $npm (procmail) messages"
t_ok "each of them once, byte for byte (archive.py)" \
    check_archive mbox "$shared" "$T/want-pm"
t_ok "python's mailbox.mbox reads the same messages, byte for byte" \
    "$MH_PYTHON" "$MH_LIB_DIR/readers.py" pymbox "$shared" "$T/want-pm"
# formail -s without a program: one process splits the mbox, tags each
# message it found and writes them all out again.
formail -A 'X-Formail-Split: yes' -s <"$shared" >"$T/fm.out"
t_eq "$(grep -ac '^X-Formail-Split: yes$' "$T/fm.out")" $((nsrv + npm)) \
    "formail -s splits it into $((nsrv + npm)) messages"
# shellcheck disable=SC2016 # expanded by sh
t_ok "formail -s: each message as it was (the split output, untagged, is the mbox)" \
    sh -c 'grep -avx "X-Formail-Split: yes" "$1" | cmp - "$2"' sh "$T/fm.out" "$shared"
t_ok "no dotlock left behind" test ! -e "$shared.lock"
# The writers took turns: runs of mailhaul's messages and procmail's.
turns=$("$MH_PYTHON" - "$shared" <<'EOF'
import mailbox, sys
prev, turns = None, 0
for m in mailbox.mbox(sys.argv[1]):
    who = m.get_from().startswith("feeder@")
    turns += prev is not None and who != prev
    prev = who
print(turns)
EOF
)
t_ok "the writers took turns ($turns changes of writer in the mbox)" \
    test "$turns" -ge 7

# ---------------------------------------------------- 5: two mailhauls

both=$T/both.mbox
MH_CONF=$T/a.conf mh_config a keep=yes deliver="mbox:$both" state_file="$T/state-a.db"
MH_CONF=$T/b.conf mh_config b keep=yes deliver="mbox:$both" state_file="$T/state-b.db"
timeout -k 5 60 "$MAILHAUL" -c "$T/a.conf" --force >"$T/out-a" 2>"$T/err-a" &
pa=$!
timeout -k 5 60 "$MAILHAUL" -c "$T/b.conf" --force >"$T/out-b" 2>"$T/err-b" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
t_eq "$ra $rb" "0 0" "two mailhauls appending to one mbox at once: both exit 0"
[ "$ra $rb" = "0 0" ] || t_diag "a: $(cat "$T/err-a")" "b: $(cat "$T/err-b")"
"$MH_PYTHON" - "$T/exp-pm" "$T/want-ab" <<'EOF'
import os, shutil, sys
src, dst = sys.argv[1:]
shutil.rmtree(dst, ignore_errors=True)
os.makedirs(dst)
for name in os.listdir(src):
    for p in ("a-", "b-"):
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, p + name))
EOF
t_ok "the mbox holds each of the $nsrv messages twice, byte for byte" \
    check_archive mbox "$both" "$T/want-ab"
t_ok "no dotlock left behind" test ! -e "$both.lock"

t_done
