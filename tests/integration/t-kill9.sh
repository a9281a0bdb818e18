#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Random kill -9 (issue 4, "Proof"): 500 messages on the server, keep = no.
# mailhaul is started, killed with SIGKILL after a random delay, started
# again, ... until a run ends by itself (exit 0) or MH_KILLS (100) kills
# were done; then it runs once more to completion.  Afterwards: 0 lost,
# 0 duplicated, 0 corrupt (every archived message byte-equal to the
# oracle's, archive.py), the mbox parses to exactly 500 messages with
# python's mailbox module, the server is empty, nothing is left in tmp/
# and no dotlock is left.  POP3 into an mbox, then IMAP into a Maildir.
#
# The delays come from a seeded PRNG (python's random.Random): the seed is
# printed, MH_KILL_SEED=N replays the same draws (not the same kills: the
# timing of two runs is never the same).  They are drawn from 0.8 times
# a start-up (a run with nothing to fetch) up to, mostly, the start-up
# plus a small share of the measured download time (8% at first, adapted
# after each kill: halved when a batch of messages got through, larger
# when the kill came before the first message): a kill early in the
# download, while the first batch is being fetched and written, so
# progress is slow and there are many kills.  Three times in a hundred up
# to about the expected end of the current run: later batches, deleting.
# Where each kill landed is read from dovecot's log (the session's
# retr=/del= or body_count= counts): before the login, after it but
# before the first message, mid-download, after the download.  The loop
# is crashcheck.py kill9.  MH_KILL_ONLY=pop3 (or imap) runs one half,
# MH_KILL_VERBOSE=1 shows every run.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

total=500
kills=${MH_KILLS:-100}
# tests/run stops a test after 300 s: each loop stops killing after
# MH_KILL_BUDGET seconds (90, or 45 under the sanitizers), and says so.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    budget=${MH_KILL_BUDGET:-45}
else
    budget=${MH_KILL_BUDGET:-90}
fi
seed=${MH_KILL_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
t_diag "kill seed: $seed (replay with MH_KILL_SEED=$seed)"
start=$(date +%s)

# secs CMD...: runs CMD, prints its wall time in seconds (3 decimals).
secs() {
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s%N)
    printf '%d.%03d\n' $(((e - s) / 1000000000)) $(((e - s) / 1000000 % 1000))
}

crashcheck() {
    "$MH_PYTHON" "$MH_LIB_DIR/crashcheck.py" "$@"
}

# seed_server: 500 generated messages (1 to 96 KB, some awkward) into
# alice's new/.
seed_server() {
    [ -d "$T/gen" ] || crashcheck gen "$total" 4242 "$T/gen" || return 1
    crashcheck seed "$T/gen" "$MAILDIR_SRV" 65534
}

# measure PROTO KIND TARGET: the time of a full keep = no run (FULL) and of
# a run with nothing to fetch (STARTUP), on a scratch state and archive;
# the server is put back as it was.
measure() {
    local proto=$1 kind=$2 target=$3
    rm -rf "$T/pristine"
    crashcheck wait-idle 65534 "$(dc_pid)"
    cp -a "$MAILDIR_SRV" "$T/pristine"
    mh_config work protocol="$proto" keep=no deliver="$kind:$target" \
        state_file="$T/measure/state.db"
    mkdir -p "$T/measure"
    FULL=$(secs "$MAILHAUL" -c "$MH_CONF")
    STARTUP=$(secs "$MAILHAUL" -c "$MH_CONF")
    crashcheck wait-idle 65534 "$(dc_pid)"
    rm -rf "$MAILDIR_SRV" "$T/measure" "$target"
    cp -a "$T/pristine" "$MAILDIR_SRV"
    t_diag "$proto: a full run takes ${FULL}s, one with nothing to fetch ${STARTUP}s"
}

# kill_loop PROTO KIND TARGET: the loop (crashcheck.py kill9) on a fresh
# state; sets KILLS and FINAL_RC, shows the summary.
kill_loop() {
    local proto=$1 kind=$2 target=$3 out
    mh_config work protocol="$proto" keep=no deliver="$kind:$target" \
        state_file="$T/state-$proto/state.db"
    mkdir -p "$T/state-$proto"
    out=$(crashcheck kill9 --bin "$MAILHAUL" --conf "$MH_CONF" --kind "$kind" \
        --archive "$target" --proto "$proto" --user "$MAIL_USER" --uid 65534 \
        --dovecot-pid "$(dc_pid)" --log "$DC_LOG" --seed "$seed" \
        --total "$total" --full "$FULL" --startup "$STARTUP" \
        --max-kills "$kills" --deadline "$(($(date +%s) + budget))" \
        2>"$T/kill9-$proto.err")
    printf '%s\n' "$out" >"$T/kill9-$proto.log"
    # shellcheck disable=SC2046 # the summary's words, split on purpose
    set -- $(printf '%s\n' "$out" | head -n 1)
    if [ "${1:-}" != kills ]; then
        KILLS=0 FINAL_RC=none OTHER=none
        t_diag "crashcheck.py kill9 failed:" "$out" "$(cat "$T/kill9-$proto.err")"
        return 1
    fi
    KILLS=$2 FINAL_RC=$6 OTHER=${16}
    t_diag "$proto: $2 kills: before the login $8, before the first message ${10}," \
        "  mid-download ${12}, after the download ${14}; the loop ended by itself: $4;" \
        "  runs that ended by themselves with an error: ${16}; ${18}s"
    if [ "${20}" = yes ]; then
        t_diag "$proto: the kill loop ran out of its ${budget}s and stopped after $2 kills"
    fi
}

# show_runs PROTO FAILED_BEFORE: every run of the loop as diagnostics, if
# a check failed since (or with MH_KILL_VERBOSE=1).
show_runs() {
    if [ "$T_FAILED" != "$2" ] || [ "${MH_KILL_VERBOSE:-0}" = 1 ]; then
        t_diag "$1: the runs (seed $seed):" "$(tail -n +2 "$T/kill9-$1.log" | tail -n 150)"
    fi
}

# no_leftovers DIR: no dotlock, no file in a tmp/ under DIR.
# shellcheck disable=SC2317 # called through t_ok
no_leftovers() {
    local bad
    bad=$(cd "$1" && find . \( -name '*.lock' -o -path '*/tmp/*' \) -print)
    [ -z "$bad" ] || { echo "left over:"; printf '%s\n' "$bad"; return 1; }
}

dc_start || exit 1
seed_server || { t_result 1 "seed $total messages"; t_done; }
expected_from_server "$T/exp" >/dev/null
t_eq "$(find "$T/exp" -type f | wc -l)" "$total" "POP3 oracle sees the $total messages"

# pop3_mbox: POP3, keep = no, into an mbox.
pop3_mbox() {
    local mbox=$T/a-pop3/mbox failed_before
    mkdir -p "$T/a-pop3"
    measure pop3 mbox "$mbox"
    failed_before=$T_FAILED
    kill_loop pop3 mbox "$mbox"
    t_eq "$FINAL_RC" 0 "pop3: after $KILLS kills, the last run exits 0"
    t_lt 0 "$KILLS" "pop3: at least one run was killed"
    t_eq "$OTHER" 0 "pop3: no run between the kills ended by itself with an error"
    t_ok "pop3: 0 lost, 0 duplicated, 0 corrupt: the mbox holds the $total messages once each, byte for byte" \
        check_archive mbox "$mbox" "$T/exp"
    t_ok "pop3: python's mailbox.mbox reads exactly the $total messages" \
        "$MH_PYTHON" "$MH_LIB_DIR/readers.py" pymbox "$mbox" "$T/exp"
    t_eq "$(dc_server_count)" 0 "pop3: the server is empty"
    t_ok "pop3: no dotlock or stray file beside the mbox" no_leftovers "$T/a-pop3"
    t_eq "$(find "$T/a-pop3" -type f | wc -l)" 1 "pop3: nothing but the mbox in its directory"
    show_runs pop3 "$failed_before"
}

# imap_maildir: IMAP, keep = no, into a Maildir (the same 500 messages,
# seeded again).
imap_maildir() {
    local md=$T/a-imap/Maildir failed_before
    [ "$(dc_server_count)" = 0 ] || rm -rf "$MAILDIR_SRV"/{new,cur}/*
    seed_server || { t_result 1 "seed $total messages again"; return 1; }
    imap_expected "$T/iexp" >/dev/null
    t_eq "$(find "$T/iexp/INBOX" -type f | wc -l)" "$total" "IMAP oracle sees the $total messages"
    mkdir -p "$T/a-imap"
    measure imap maildir "$md"
    failed_before=$T_FAILED
    kill_loop imap maildir "$md"
    t_eq "$FINAL_RC" 0 "imap: after $KILLS kills, the last run exits 0"
    t_lt 0 "$KILLS" "imap: at least one run was killed"
    t_eq "$OTHER" 0 "imap: no run between the kills ended by itself with an error"
    t_ok "imap: 0 lost, 0 duplicated, 0 corrupt: the Maildir holds the $total messages once each, byte for byte, nothing in tmp/" \
        check_archive maildir "$md" "$T/iexp/INBOX"
    t_ok "imap: python's mailbox.Maildir reads exactly the $total messages" \
        "$MH_PYTHON" "$MH_LIB_DIR/readers.py" pymaildir "$md" "$T/iexp/INBOX"
    t_eq "$(imap_count INBOX):$(dc_server_count)" 0:0 "imap: INBOX is empty on the server (and on its disk)"
    t_ok "imap: no dotlock or file left in tmp/" no_leftovers "$T/a-imap"
    show_runs imap "$failed_before"
}

only=${MH_KILL_ONLY:-pop3 imap}
[[ " $only " == *" pop3 "* ]] && pop3_mbox
[[ " $only " == *" imap "* ]] && imap_maildir

t_diag "t-kill9: $(($(date +%s) - start)) s"
t_done
