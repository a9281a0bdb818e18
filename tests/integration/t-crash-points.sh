#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Crash points (issue 4, "Proof"): the crash build of mailhaul
# (tests/mailhaul-crash) stops dead with _exit(86) at the N-th durability
# step it passes when MAILHAUL_CRASH_AT=N.  For a 20-message session, POP3
# and IMAP (INBOX), into a Maildir and into an mbox, keep = yes and
# keep = no, in batches of 7 (MAILHAUL_BATCH_MSGS): a traced run counts the
# points of the whole session, then for every N the server is put back as
# seeded, the archive and the state emptied, the crash binary stopped at
# point N, and the normal mailhaul run until it exits 0 (at most 3 runs).
# Then the archive holds every server message exactly once, byte for byte,
# the server holds exactly the undeleted ones (keep = yes: all 20, none
# flagged \Deleted; keep = no: none), nothing is left in tmp/ and no dotlock
# is left.  One TAP line per combination; the failing N (point name, what
# differed) as diagnostics.  The loop itself is crashcheck.py points.
#
# Each combination has a dovecot user of its own (uid 60001..60008) with a
# copy of the seeded Maildir: its server state is restored by copying the
# pristine Maildir (message files, dovecot-uidlist and indexes) back once
# no dovecot process of that uid is left, so UIDLs and UIDs stay the same.
# Combinations run MH_CRASH_JOBS (the CPU count, 2 to 4) at a time.
# Under the sanitizers (ASAN_OPTIONS set) each combination tries a
# deterministic sample of MH_CRASH_SAMPLE (40) points: the first and the
# last passing of every point name, then evenly spread ones;
# MH_CRASH_SAMPLE=0 tries them all.
# MH_CRASH_ONLY="2 4" runs only those combinations (1-8, in the order
# below), for debugging.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

CRASHBIN=${MAILHAUL_CRASHBIN:-$(dirname "$MAILHAUL")/../tests/mailhaul-crash}
if [ ! -x "$CRASHBIN" ]; then
    t_result 1 "the crash-point binary exists"
    t_diag "no executable at $CRASHBIN (built by make check; set MAILHAUL_CRASHBIN)"
    t_done
fi
export MAILHAUL_BATCH_MSGS=7
unset MAILHAUL_CRASH_AT MAILHAUL_CRASH_TRACE

if [ -n "${ASAN_OPTIONS:-}" ]; then
    sample=${MH_CRASH_SAMPLE:-40}
else
    sample=${MH_CRASH_SAMPLE:-0}
fi
jobs=${MH_CRASH_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$jobs" -ge 2 ] 2>/dev/null || jobs=2
[ "$jobs" -le 4 ] || jobs=4
# tests/run kills a test after 300 s: stop trying new points after
# MH_CRASH_BUDGET seconds (the combination then fails, saying so).
budget=${MH_CRASH_BUDGET:-240}
t_start=$(date +%s)

# --- 20 messages in INBOX (the standard seed with 9 ordinary ones), seen
# by both oracles.
dc_start || exit 1
# Some 900 sessions follow: login processes that serve many connections,
# and one always waiting, save a process start per connection.
cat >>"$T/dovecot.conf" <<EOF
service pop3-login {
  service_count = 0
  process_min_avail = 1
}
service imap-login {
  service_count = 0
  process_min_avail = 1
}
EOF
kill -HUP "$(dc_pid)"
mh_mkseed --count 9 "$T/seed"
dc_imap_seed INBOX "$T"/seed/*
n=$(find "$T/seed" -type f | wc -l)
imap_expected "$T/iexp" >/dev/null
expected_from_server "$T/exp" >/dev/null
t_eq "$n:$(find "$T/exp" -type f | wc -l):$(find "$T/iexp/INBOX" -type f | wc -l)" \
    "20:20:20" "20 seeded messages, seen by the POP3 and the IMAP oracle"
imap_mbox_expected "$T/iexp/INBOX" "$T/iexp-mbox"

# The pristine server Maildir, once dovecot has let go of it.
"$MH_PYTHON" "$MH_LIB_DIR/crashcheck.py" wait-idle 65534 "$(dc_pid)" ||
    t_diag "dovecot's mail processes for alice still running"
cp -a "$MAILDIR_SRV" "$T/pristine"

# Process death is what is tested here, not power loss: the archives, the
# state and the servers' Maildirs of the combinations live on a tmpfs
# (/dev/shm) when there is one, where fsync costs nothing, and mailhaul
# talks plaintext to dovecot (tls = none): TLS has no part in recovery.
W=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    W=$(mktemp -d /dev/shm/mhcrash.XXXXXX) || W=$T
    trap 'rm -rf "$W"; mh_cleanup' EXIT
fi
chmod 711 "$W"

combos=(
    "pop3 maildir yes" "pop3 maildir no" "pop3 mbox yes" "pop3 mbox no"
    "imap maildir yes" "imap maildir no" "imap mbox yes" "imap mbox no"
)
i=0
for c in "${combos[@]}"; do
    i=$((i + 1))
    read -r proto kind keep <<<"$c"
    uid=$((60000 + i))
    w=$W/w$i
    mkdir -p "$w/archive" "$w/state" "$W/home/c$i"
    chmod 711 "$w" "$W/home"
    cp -a "$T/pristine" "$w/pristine"
    chown -R "$uid:$uid" "$w/pristine" "$W/home/c$i"
    chmod 700 "$W/home/c$i"
    printf 'c%d:{PLAIN}%s:%d:%d::%s::\n' "$i" "$MAIL_PASS" "$uid" "$uid" \
        "$W/home/c$i" >>"$DC_DIR/passwd"
    if [ "$kind" = maildir ]; then
        target=$w/archive/Maildir
    else
        target=$w/archive/mbox
    fi
    if [ "$proto" = pop3 ]; then port=$POP3_PORT; else port=$IMAP_PORT; fi
    mh_config work protocol="$proto" port="$port" tls=none tls_ca_file= \
        user="c$i" keep="$keep" deliver="$kind:$target" \
        state_file="$w/state/state.db"
    mv "$MH_CONF" "$w/conf"
    case $proto:$kind in
    pop3:*) exp=$T/exp ;;
    imap:maildir) exp=$T/iexp/INBOX ;;
    imap:mbox) exp=$T/iexp-mbox ;;
    esac
    args=(points --crashbin "$CRASHBIN" --bin "$MAILHAUL" --conf "$w/conf"
        --kind "$kind" --archive "$target" --archive-root "$w/archive"
        --state "$w/state" --srv "$W/home/c$i/Maildir"
        --pristine "$w/pristine" --uid "$uid" --dovecot-pid "$(dc_pid)"
        --exp "$exp" --keep "$keep"
        --protocol "$proto" --imap-port "$IMAP_PORT" --user "c$i"
        --password "$MAIL_PASS" --work "$w" --sample "$sample"
        --deadline "$((t_start + budget))")
    printf '%s\n' "${args[@]}" >"$w/args"
done

start=$(date +%s)
running=0
selected() { [ -z "${MH_CRASH_ONLY:-}" ] || [[ " ${MH_CRASH_ONLY//,/ } " == *" $1 "* ]]; }
for i in $(seq 1 ${#combos[@]}); do
    selected "$i" || continue
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    (
        mapfile -t args <"$W/w$i/args"
        "$MH_PYTHON" "$MH_LIB_DIR/crashcheck.py" "${args[@]}" \
            >"$W/w$i/result" 2>"$W/w$i/result.err"
    ) &
    running=$((running + 1))
done
wait

total_points=0
total_tried=0
i=0
for c in "${combos[@]}"; do
    i=$((i + 1))
    read -r proto kind keep <<<"$c"
    label="$proto $kind keep=$keep"
    selected "$i" || continue
    r=$W/w$i/result
    read -r tag total tried failed multi secs < <(head -n 1 "$r")
    if [ "$tag" != result ]; then
        t_result 1 "$label: crash points checked"
        t_diag "crashcheck.py gave no result:" "$(cat "$r" "$r.err")"
        continue
    fi
    total_points=$((total_points + total))
    total_tried=$((total_tried + tried))
    if [ "$total" = 0 ]; then
        what="crash points counted, all"
    elif [ "$tried" = "$total" ]; then
        what="all $total crash points"
    elif [ "$sample" -gt 0 ] && [ "$sample" -lt "$total" ]; then
        what="$tried sampled of $total crash points"
    else
        what="only $tried of $total crash points (time budget)"
    fi
    if [ "$failed" = 0 ] && [ "$tried" -gt 0 ]; then
        t_result 0 "$label: $what recover exactly once"
    else
        t_result 1 "$label: $what recover exactly once ($failed fail)"
    fi
    t_diag "$label: $tried of $total points exercised in ${secs}s; $multi needed more than one recovery run" \
        "  points: $(sed -n 's/^names //p' "$r")" \
        "  time: $(sed -n 's/^time //p' "$r")"
    grep -q '^failed-by-name ' "$r" &&
        t_diag "  failing points by name: $(sed -n 's/^failed-by-name //p' "$r")"
    sed -n '/^\(result\|names\|time\|failed-by-name\) /!s/^/  /p' "$r" | head -n 60 |
        while IFS= read -r line; do t_diag "$line"; done
    [ -s "$r.err" ] && t_diag "  crashcheck.py stderr:" "$(tail -n 20 "$r.err")"
done
t_diag "crash points: $total_tried exercised of $total_points over ${#combos[@]} combinations in $(($(date +%s) - start)) s"

t_done
