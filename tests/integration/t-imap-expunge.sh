#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# How IMAP deletes, seen from the fake server (tests/fake/imapfake.py,
# which logs every command): keep = no flags exactly the archived UIDs
# \Deleted and expunges them with UID EXPUNGE; without UIDPLUS it only
# flags them and says so (a plain EXPUNGE or CLOSE would also remove what
# another client flagged), unless expunge_without_uidplus = yes allows
# EXPUNGE; move_to uses UID MOVE, or UID COPY + delete without MOVE.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

CA_FILE=$MH_CERT_DIR/ca.pem
mkdir -p "$T/fexp"
"$MH_PYTHON" - "$MH_LIB_DIR/../fake" "$T/fexp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import imapfake
for n, b in imapfake.MSGS.items():
    with open("%s/%d" % (sys.argv[2], n), "wb") as f:
        f.write(b.replace(b"\r\n", b"\n"))
PY

# cmds: the commands the fake received, tags removed, one a line.
cmds() {
    tr -d '\r' <"$T/fake.log" | sed -n 's/^[^ []* //p'
}

# covers REGEX: some command matching the ERE REGEX (without its tag)
# names a UID set holding both UID 1 and UID 2.
covers() {
    cmds | "$MH_PYTHON" -c '
import re, sys
rx = re.compile(sys.argv[1], re.I)
for line in sys.stdin:
    m = rx.match(line)
    if not m:
        continue
    got = set()
    for part in m.group("set").split(","):
        ends = [10**9 if x == "*" else int(x) for x in part.split(":")]
        got.update(u for u in (1, 2) if min(ends) <= u <= max(ends))
    if got == {1, 2}:
        sys.exit(0)
sys.exit("no command matches %s for UIDs 1 and 2" % sys.argv[1])
' "$1" || { cmds; return 1; }
}

# run_fake SCENARIO KEY=VALUE...: one poll against the fake.
run_fake() {
    local sc=$1
    shift
    fake_imap_start "$sc" || exit 1
    mh_config work protocol=imap tls=starttls port="$FAKE_PORT" timeout=5 \
        deliver="maildir:$T/md-$sc-$T_N" state_file="$T/state-$sc-$T_N.db" "$@"
    mh_run
    fake_imap_stop
    md=$T/md-$sc-$((T_N))
}

# --- UIDPLUS: UID STORE \Deleted, then UID EXPUNGE of those UIDs
run_fake ok keep=no
t_rc 0 "UIDPLUS, keep = no: exit 0"
t_ok "UIDPLUS: both messages archived" check_archive maildir "$md" "$T/fexp"
t_ok "UIDPLUS: UID STORE +FLAGS \\Deleted of UIDs 1 and 2" \
    covers '^UID STORE (?P<set>[0-9:,*]+) \+FLAGS(\.SILENT)? \(\\Deleted\)'
t_ok "UIDPLUS: UID EXPUNGE of UIDs 1 and 2" covers '^UID EXPUNGE (?P<set>[0-9:,*]+)'
t_fails "UIDPLUS: no plain EXPUNGE or CLOSE" grep -qiE '^(EXPUNGE|CLOSE)$' <(cmds)
t_match "$OUT" "^work: 2 new \(.*\) archived to .*, 2 deleted, 0 kept on server\$" \
    "UIDPLUS: summary 2 deleted"

# --- no UIDPLUS: flagged only, and said so
run_fake no-uidplus keep=no
t_rc 0 "no UIDPLUS, keep = no: exit 0"
t_ok "no UIDPLUS: both messages archived" check_archive maildir "$md" "$T/fexp"
t_ok "no UIDPLUS: UID STORE +FLAGS \\Deleted of UIDs 1 and 2" \
    covers '^UID STORE (?P<set>[0-9:,*]+) \+FLAGS(\.SILENT)? \(\\Deleted\)'
t_fails "no UIDPLUS: no EXPUNGE, UID EXPUNGE or CLOSE at all" \
    grep -qiE '^(UID EXPUNGE|EXPUNGE|CLOSE)( |$)' <(cmds)
t_match "$ERR" "^mailhaul: work: .*UIDPLUS.*expunge_without_uidplus" \
    "no UIDPLUS: stderr says the messages were only flagged, and what to set"

# --- no UIDPLUS, expunge_without_uidplus = yes: plain EXPUNGE
run_fake no-uidplus keep=no expunge_without_uidplus=yes
t_rc 0 "no UIDPLUS, expunge_without_uidplus = yes: exit 0"
t_ok "expunge_without_uidplus: UID STORE +FLAGS \\Deleted of UIDs 1 and 2" \
    covers '^UID STORE (?P<set>[0-9:,*]+) \+FLAGS(\.SILENT)? \(\\Deleted\)'
t_ok "expunge_without_uidplus: a plain EXPUNGE after the STORE" \
    "$MH_PYTHON" -c '
import sys
c = [l.strip().upper() for l in sys.stdin]
st = [i for i, l in enumerate(c) if l.startswith("UID STORE")]
ex = [i for i, l in enumerate(c) if l == "EXPUNGE"]
sys.exit(0 if st and ex and ex[-1] > st[0] else "commands: %r" % c)
' < <(cmds)
t_fails "expunge_without_uidplus: no UID EXPUNGE (the server has none)" \
    grep -qiE '^UID EXPUNGE' <(cmds)

# --- move_to with MOVE: UID MOVE, no deletion of its own
run_fake ok keep=no move_to=Trash
t_rc 0 "move_to with MOVE: exit 0"
t_ok "move_to with MOVE: both messages archived" check_archive maildir "$md" "$T/fexp"
t_ok "move_to with MOVE: UID MOVE of UIDs 1 and 2 to Trash" \
    covers '^UID MOVE (?P<set>[0-9:,*]+) "?Trash"?$'
t_fails "move_to with MOVE: no STORE, EXPUNGE or COPY" \
    grep -qiE '^(UID )?(STORE|EXPUNGE|COPY)( |$)' <(cmds)

# --- move_to without MOVE: UID COPY, then STORE \Deleted + UID EXPUNGE
run_fake no-move keep=no move_to=Trash
t_rc 0 "move_to without MOVE: exit 0"
t_ok "move_to without MOVE: UID COPY of UIDs 1 and 2 to Trash" \
    covers '^UID COPY (?P<set>[0-9:,*]+) "?Trash"?$'
t_ok "move_to without MOVE: then UID STORE \\Deleted" \
    covers '^UID STORE (?P<set>[0-9:,*]+) \+FLAGS(\.SILENT)? \(\\Deleted\)'
t_ok "move_to without MOVE: then UID EXPUNGE" covers '^UID EXPUNGE (?P<set>[0-9:,*]+)'
t_fails "move_to without MOVE: no UID MOVE tried" grep -qiE '^UID MOVE' <(cmds)

t_done
