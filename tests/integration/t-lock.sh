#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# One account, two mailhaul processes: the second finds the account's lock
# held, skips the account with exit 75 and a message naming the first
# process, and still polls its other accounts; with lock_timeout it waits
# for the first to finish instead.  A lock left by a killed process does
# not block anyone (the kernel drops it).  Three runs started at once:
# exactly one archives.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded

# The first process holds the lock while its password command sleeps.
slow="sh -c 'sleep 3; echo $MAIL_PASS'"
mh_config shared password= password_command="$slow" deliver="maildir:$T/A" \
    -- other deliver="maildir:$T/B"

# start_first: runs mailhaul on the shared account in the background and
# waits until it holds the lock (its pid is in the lock file).
start_first() {
    "$MAILHAUL" -c "$MH_CONF" -a shared >"$T/out1" 2>"$T/err1" &
    FIRST=$!
    for _ in $(seq 1 100); do
        [ "$(cat "$T/locks/shared.lock" 2>/dev/null)" = "$FIRST" ] && return 0
        sleep 0.05
    done
    return 1
}

# Not under t_ok: a subshell would lose FIRST, and its child.
start_first
t_eq "$?" 0 "the first mailhaul takes the account's lock (its pid in the file)"
mh_run
t_rc 75 "second mailhaul: exit 75"
t_match "$ERR" "^mailhaul: shared: skipped: another mailhaul \\(pid $FIRST\\) is polling this account" \
    "the error names the other process"
t_match "$OUT" "^other: $N new " "the other account was polled all the same"
t_ok "the other account archived everything" check_archive maildir "$T/B" "$T/exp"
t_nomatch "$OUT" '^shared: ' "no summary for the skipped account"
wait "$FIRST"
t_eq "$?" 0 "the first mailhaul finished normally"
t_ok "the first mailhaul archived everything, once" check_archive maildir "$T/A" "$T/exp"

# lock_timeout: the second waits for the first, then polls (nothing new).
rm -rf "$T/A" "$T/state.db"*
sed -i '1a lock_timeout = 20' "$MH_CONF"
start_first
t_eq "$?" 0 "the first mailhaul takes the lock again"
start=$(date +%s)
mh_run -a shared
t_rc 0 "with lock_timeout = 20 the second waits, then polls: exit 0"
t_match "$OUT" "^shared: 0 new " "it found nothing new: the first archived it all"
t_ok "it waited for the first (at least 1 s)" test $(($(date +%s) - start)) -ge 1
wait "$FIRST"
t_ok "the archive holds every message once" check_archive maildir "$T/A" "$T/exp"

# Three at once on the same account: exactly one polls, two skip.
rm -rf "$T/A" "$T/state.db"*
sed -i '/^lock_timeout/d' "$MH_CONF"
pids=()
for i in 1 2 3; do
    "$MAILHAUL" -c "$MH_CONF" -a shared >"$T/out-$i" 2>"$T/err-$i" &
    pids+=($!)
done
rcs=""
for i in 0 1 2; do
    wait "${pids[$i]}"
    rcs="$rcs $?"
done
t_eq "$(echo $rcs | tr ' ' '\n' | sort | tr '\n' ' ')" "0 75 75 " \
    "three at once: one exits 0, two exit 75"
t_eq "$(cat "$T"/out-* | grep -c "^shared: $N new ")" 1 "exactly one archived the $N messages"
t_eq "$(cat "$T"/err-* | grep -c 'skipped: another mailhaul (pid [0-9]*) is polling')" 2 \
    "the two others say who holds the lock"
t_ok "the archive holds every message once" check_archive maildir "$T/A" "$T/exp"

# kill -9 while holding the lock: the next run is not blocked.
start_first
t_eq "$?" 0 "a third run takes the lock"
kill -9 "$FIRST"
wait "$FIRST" 2>/dev/null
sed -i '/^lock_timeout/d' "$MH_CONF"
mh_run -a shared
t_rc 0 "after kill -9 of the holder the next run polls: exit 0"
t_done
