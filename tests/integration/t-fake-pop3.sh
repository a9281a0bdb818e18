#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Servers dovecot will not play (tests/fake/pop3fake.py): a connection cut
# in the middle of a message, STLS missing, refused or hijacked by injected
# bytes, a server without UIDL, a server that goes silent.  Each ends with
# one clear error line, the documented exit status, no credential sent where
# TLS was required, and nothing half-archived.
. "$(dirname "$0")/lib.sh"
mh_require_binary

FAKE=$(cd "$(dirname "$0")/../fake" && pwd)/pop3fake.py
MAIL_USER=alice
MAIL_PASS=secret
CA_FILE=

# fake_start SCENARIO: starts the fake server on a free port (FAKE_PORT),
# logging what it receives to $T/fake.log.
fake_start() {
    FAKE_PORT=$(mh_free_ports 1)
    POP3S_PORT=$FAKE_PORT
    coproc FAKE_PROC { /usr/bin/python3 "$FAKE" "$FAKE_PORT" "$1" "$T/fake.log"; }
    read -r -t 10 ready <&"${FAKE_PROC[0]}"
    [ "$ready" = ready ]
}

fake_stop() {
    [ -n "${FAKE_PROC_PID:-}" ] && kill "$FAKE_PROC_PID" 2>/dev/null
    wait 2>/dev/null
}

# --- a connection cut in the middle of the second message
md=$T/Maildir
fake_start cut-mid-retr
mh_config work tls=none port="$FAKE_PORT" deliver="maildir:$md" timeout=5
start=$(date +%s)
mh_run
fake_stop
t_rc 75 "cut mid-message: exit 75 (temporary)"
t_lt $(($(date +%s) - start)) 6 "cut mid-message: no hang"
t_match "$ERR" "^mailhaul: work: .*connection closed by server" \
    "cut mid-message: the error says the server closed the connection"
t_eq "$(archive_count maildir "$md")" 1 "cut mid-message: only the complete message is archived"
t_eq "$(find "$md/tmp" -type f | wc -l)" 0 "cut mid-message: no partial file left in tmp/"
t_ok "cut mid-message: the archived one is the first message, byte for byte" \
    grep -rqx "first body" "$md/new"
t_match "$OUT" "^work: 1 new .* 0 deleted, 2 kept on server\$" \
    "cut mid-message: the summary counts what was archived"
rec=$(sqlite3 "$T/state.db" "SELECT uid FROM seen WHERE account = 'work'")
t_eq "$rec" "uid-one" "cut mid-message: only the complete message is recorded"
t_eq "$(stat -c %a "$T/state.db")" 600 "the state file is private (0600)"

# --- mbox: the same cut leaves the mbox with whole messages only
mbox=$T/mbox
rm -f "$T/state.db"*
fake_start cut-mid-retr
mh_config work tls=none port="$FAKE_PORT" deliver="mbox:$mbox" timeout=5 \
    state_file="$T/new/dir/state.db"
mh_run
fake_stop
t_rc 75 "mbox cut mid-message: exit 75"
t_ok "mbox cut mid-message: the mbox holds exactly the first message" \
    /usr/bin/python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
assert d.count(b"\nFrom ") + d.startswith(b"From ") == 1, d
assert b"first body\n\n" in d and b"xxxx" not in d, d
' "$mbox"
t_eq "$(stat -c %a "$T/new/dir")" 700 "a new state directory is created 0700"

# --- STLS missing, refused, hijacked: no credential may leave
declare -A why=(
    [no-stls]="server does not offer STLS"
    [stls-refused]="server refused STLS: not today"
    [stls-inject]="server sent data before the TLS handshake"
)
for sc in no-stls stls-refused stls-inject; do
    fake_start "$sc"
    mh_config work tls=starttls port="$FAKE_PORT" deliver="maildir:$T/md-$sc"
    mh_run
    fake_stop
    t_rc 77 "$sc: exit 77"
    t_eq "$(n_lines "$ERR")" 1 "$sc: one line on stderr"
    t_match "$ERR" "^mailhaul: work: .*${why[$sc]}" "$sc: the line names the account and the cause"
    t_fails "$sc: no USER or PASS reached the server" \
        grep -qiE '^(USER|PASS|AUTH)' "$T/fake.log"
    t_ok "$sc: nothing archived" archive_empty "$T/md-$sc"
done

# --- no UIDL with keep = yes: refused, nothing fetched
fake_start no-uidl
mh_config work tls=none port="$FAKE_PORT" deliver="maildir:$T/md-nouidl"
mh_run
fake_stop
t_rc 78 "no UIDL with keep = yes: exit 78"
t_match "$ERR" "^mailhaul: work: server does not support UIDL" \
    "no UIDL: the error says why and what to do"
t_fails "no UIDL: no RETR sent" grep -q '^RETR' "$T/fake.log"

# --- a silent server: the timeout ends it
fake_start silent
mh_config work tls=none port="$FAKE_PORT" deliver="maildir:$T/md-silent" timeout=2
start=$(date +%s)
mh_run
fake_stop
t_rc 75 "silent server: exit 75"
t_lt $(($(date +%s) - start)) 8 "silent server: gives up after the timeout"
t_match "$ERR" "^mailhaul: work: .*timeout after 2 s" "silent server: the error says timeout"

t_done
