#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `mailhaul status` shows what the polls saved (counts and bytes archived
# and left on the server, last poll time, result and error; text and
# JSON), without creating a state or touching the network; `mailhaul
# forget` drops seen records (all of an account's, or one folder's) so
# that the next poll archives those messages again, asks first on a
# terminal, and never runs beside a poll of the account (its lock) nor
# while an interrupted delivery is unsettled (its journal).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_imap_start_seeded
n_dev=$(imap_count Lists/dev)
n_drafts=$(imap_count "Entwürfe")

# srv_sizes pop3 | imap FOLDER: "COUNT BYTES" as the server lists them
# (POP3 LIST sizes; IMAP RFC822.SIZE), asked by python, not by mailhaul.
srv_sizes() {
    local enc=""
    [ "$1" = imap ] && enc=$(imap_oracle mutf7 "$2")
    "$MH_PYTHON" - "$1" "$enc" <<'EOF'
import imaplib, os, poplib, re, sys
user, pw = os.environ["MAIL_USER"], os.environ["MAIL_PASS"]
if sys.argv[1] == "pop3":
    p = poplib.POP3("127.0.0.1", int(os.environ["POP3_PORT"]))
    p.user(user)
    p.pass_(pw)
    sizes = [int(l.split()[1]) for l in p.list()[1]]
    p.quit()
else:
    m = imaplib.IMAP4("127.0.0.1", int(os.environ["IMAP_PORT"]))
    m.login(user, pw)
    typ, data = m.select('"%s"' % sys.argv[2], readonly=True)
    sizes = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(RFC822.SIZE)")
        sizes = [int(re.search(rb"RFC822\.SIZE (\d+)", d).group(1))
                 for d in data if isinstance(d, bytes)]
    m.logout()
print(len(sizes), sum(sizes))
EOF
}

# maildir_bytes DIR: the bytes of the message files of a Maildir.
maildir_bytes() {
    find "$1/new" "$1/cur" -maxdepth 1 -type f -printf '%s\n' 2>/dev/null |
        awk '{s += $1} END {print s + 0}'
}

# jget ACCOUNT [FOLDER] KEY: a value of the last `status --json` ($T/out):
# a number, a string, "null", or for "folders" the folder names, one a
# line.  Prints "MISSING" when there is no such account or folder.
jget() {
    "$MH_PYTHON" - "$T/out" "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
args = sys.argv[2:]
acct = [a for a in doc["accounts"] if a["name"] == args[0]]
if not acct:
    print("MISSING"); sys.exit(0)
obj = acct[0]
if len(args) == 3:
    fs = [f for f in obj["folders"] if f["folder"] == args[1]]
    if not fs:
        print("MISSING"); sys.exit(0)
    obj = fs[0]
v = obj[args[-1]]
if args[-1] == "folders" and len(args) == 2:
    print("\n".join(f["folder"] for f in v))
elif v is None:
    print("null")
else:
    print(v)
EOF
}

# state_records ACCOUNT [FOLDER]: the seen records in the state database.
state_records() {
    "$MH_PYTHON" - "$T/state.db" "$@" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
if len(sys.argv) > 3:
    q = db.execute("SELECT count(*) FROM seen WHERE account = ? AND "
                   "folder = ?", sys.argv[2:4])
else:
    q = db.execute("SELECT count(*) FROM seen WHERE account = ?",
                   sys.argv[2:3])
print(q.fetchone()[0])
EOF
}

# in_window T: START <= T <= END (the seconds around the polls).
in_window() {
    [ "$1" -ge "$START" ] && [ "$1" -le "$END" ] || {
        echo "$1 is not within $START..$END"
        return 1
    }
}

# util_human_bytes N: N as src/util.c's util_human_bytes formats it.
util_human_bytes() {
    awk -v n="$1" 'BEGIN {
        if (n < 1000) printf "%d B\n", n
        else if (n < 1e6) printf "%.1f KB\n", n / 1e3
        else if (n < 1e9) printf "%.1f MB\n", n / 1e6
        else printf "%.1f GB\n", n / 1e9 }'
}

mh_config good deliver="maildir:$T/A" \
    -- bad password=wrong deliver="maildir:$T/B" \
    -- down port="$(mh_free_ports 1)" deliver="maildir:$T/C" \
    -- never deliver="maildir:$T/D" \
    -- imap protocol=imap folders='{"Lists/dev", "Entwürfe"}' \
    folder_layout=maildir++ deliver="maildir:$T/I"

# ---------------------------------------------------------------- before

mh_run status
t_rc 0 "status before any poll: exit 0"
t_eq "$OUT" "good: never polled
bad: never polled
down: never polled
never: never polled
imap: never polled" "status before any poll: every account never polled"
t_ok "status created no state file" test ! -e "$T/state.db"
mh_run status --json
t_eq "$(jget good last_poll)/$(jget good result)/$(jget good folders)" \
    "null/null/" "status --json before any poll: last_poll and result null"

# ---------------------------------------------------------------- polls

read -r srv_n srv_bytes <<<"$(srv_sizes pop3)"
read -r dev_n dev_bytes <<<"$(srv_sizes imap Lists/dev)"
read -r drafts_n drafts_bytes <<<"$(srv_sizes imap "Entwürfe")"
t_eq "$srv_n/$dev_n/$drafts_n" "$N_INBOX/$n_dev/$n_drafts" \
    "the server lists the seeded messages"

START=$(date +%s)
mh_run -a good -a bad -a down -a imap
END=$(date +%s)
t_rc 77 "good, bad (wrong password), down (port closed), imap: exit 77"
t_match "$OUT" "^good: $N_INBOX new " "good archived the $N_INBOX messages"
t_match "$OUT" "^imap: $((n_dev + n_drafts)) new " "imap archived both folders"
a_bytes=$(maildir_bytes "$T/A")
mh_run -a never --dry-run
t_rc 0 "a dry run of never: exit 0"

mh_run status --json
t_rc 0 "status --json: exit 0"
t_ok "status --json: one JSON document" \
    "$MH_PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"
t_eq "$(jget good folders)" "INBOX" "good: one folder, INBOX"
t_ok "good: last poll within the test's window" in_window "$(jget good last_poll)"
t_eq "$(jget good result)/$(jget good error)" "ok/null" "good: result ok, no error"
t_eq "$(jget good INBOX archived_messages)" "$N_INBOX" "good: archived messages"
t_eq "$(jget good INBOX archived_bytes)" "$a_bytes" \
    "good: archived bytes = the archive's file sizes"
t_eq "$(jget good INBOX imported)" 0 "good: nothing imported"
t_eq "$(jget good INBOX server_messages)" "$srv_n" \
    "good: messages on the server = the server's LIST"
t_eq "$(jget good INBOX server_bytes)" "$srv_bytes" \
    "good: bytes on the server = the server's LIST sizes"
t_eq "$(jget good INBOX next_expiry)" null "good: no expiry due"

t_ok "bad: last poll within the window" in_window "$(jget bad last_poll)"
t_eq "$(jget bad result)" "login refused" "bad: result login refused"
t_match "$(jget bad error)" "^login failed: " "bad: the login error"
t_eq "$(jget bad folders)" "" "bad: no folder"
t_eq "$(jget down result)" "temporary failure" "down: result temporary failure"
t_match "$(jget down error)" "." "down: an error is saved"
t_eq "$(jget never last_poll)/$(jget never result)/$(jget never error)" \
    "null/null/null" "never: never polled (a dry run saves nothing)"

t_eq "$(jget imap folders)" "Entwürfe
Lists/dev" "imap: both folders, by their UTF-8 names"
i_drafts=$(maildir_bytes "$T/I/.Entwürfe")
i_dev=$(maildir_bytes "$T/I/.Lists.dev")
t_eq "$(jget imap "Entwürfe" archived_messages)/$(jget imap "Entwürfe" archived_bytes)" \
    "$n_drafts/$i_drafts" "imap: Entwürfe archived messages and bytes"
t_eq "$(jget imap Lists/dev archived_messages)/$(jget imap Lists/dev archived_bytes)" \
    "$n_dev/$i_dev" "imap: Lists/dev archived messages and bytes"
t_eq "$(jget imap "Entwürfe" server_messages)/$(jget imap "Entwürfe" server_bytes)" \
    "$drafts_n/$drafts_bytes" "imap: Entwürfe on the server (RFC822.SIZE)"
t_eq "$(jget imap Lists/dev server_messages)/$(jget imap Lists/dev server_bytes)" \
    "$dev_n/$dev_bytes" "imap: Lists/dev on the server (RFC822.SIZE)"

# The same as text.
lp=$(jget good last_poll)
when=$(date -d "@$lp" '+%Y-%m-%d %H:%M')
mh_run status
t_rc 0 "status: exit 0"
t_match "$OUT" "^good: last poll $when, ok\$" "text: good's last poll, local time, ok"
a_h=$(util_human_bytes "$a_bytes")
s_h=$(util_human_bytes "$srv_bytes")
t_match "$OUT" "^  INBOX +$N_INBOX \\($(re_escape "$a_h")\\) +0 +$srv_n \\($(re_escape "$s_h")\\) +none\$" \
    "text: good's INBOX line: archived, imported, on server, next expiry"
t_match "$OUT" "^  folder +archived +imported +on server +next expiry\$" "text: a header line"
t_match "$OUT" "^bad: last poll [0-9-]+ [0-9:]+, login refused\$" "text: bad's result"
t_match "$OUT" "^  error: login failed: " "text: bad's error line"
t_match "$OUT" "^never: never polled\$" "text: never polled"
mh_run status -a imap
t_eq "$(printf '%s\n' "$OUT" | head -n 1 | sed 's/ last poll.*//')" "imap:" \
    "status -a imap: only that account"
t_eq "$(n_lines "$OUT")" 4 "status -a imap: account line, header, two folders"
# The columns line up, also after the two-byte ü: each column starts at
# the same character (not byte) on every line of the table.
t_ok "text: the columns are aligned (counted in characters)" \
    "$MH_PYTHON" -c '
import re, sys
rows = [l for l in sys.argv[1].split("\n") if l.startswith("  ")]
starts = [tuple(m.start() for m in re.finditer(r"(?<=  )\S", r)) for r in rows]
sys.exit(0 if len(set(starts)) == 1 and len(starts[0]) == 5 else
         "column starts differ: %r" % starts)' "$OUT"

# ---------------------------------------------------------------- forget

t_eq "$(state_records good)" "$N_INBOX" "good has $N_INBOX records"
mh_run forget -a good --yes
t_rc 0 "forget -a good --yes: exit 0"
t_eq "$OUT" "forgot $N_INBOX records of account good" "forget says how many"
t_eq "$(state_records good)" 0 "good's records are gone"
t_eq "$(state_records imap)" "$((n_dev + n_drafts))" "other accounts keep theirs"
mh_run status --json
t_eq "$(jget good folders)/$(jget good result)" "/ok" \
    "status after forget: no folder, the last poll stays"
mh_run -a good
t_rc 0 "the next poll of good: exit 0"
t_match "$OUT" "^good: $N_INBOX new " "it archives the $N_INBOX messages again"
t_eq "$(archive_count maildir "$T/A")" "$((2 * N_INBOX))" \
    "the archive holds each message twice (forget's documented consequence)"
t_eq "$(state_records good)" "$N_INBOX" "good has $N_INBOX records again"

# On a terminal: asks; "n" changes nothing, "y" forgets.
tty_forget() {
    printf '%s\n' "$1" | timeout 30 script -qec \
        "$(printf '%q ' "$MAILHAUL" -c "$MH_CONF" forget "${@:2}")" /dev/null \
        >"$T/tty.out" 2>&1
    RC=$?
    OUT=$(tr -d '\r' <"$T/tty.out")
}
tty_forget n -a good
t_eq "$RC" 0 "forget on a TTY answered n: exit 0"
t_match "$OUT" "forget $N_INBOX archived-message records of account good\\? The next poll archives those messages again\\. \\[y/N\\]" \
    "forget on a TTY asks, with the count"
t_match "$OUT" "nothing forgotten" "answered n: says nothing was forgotten"
t_eq "$(state_records good)" "$N_INBOX" "answered n: the records stay"
tty_forget y -a good
t_match "$OUT" "forgot $N_INBOX records of account good" "answered y: forgets"
t_eq "$(state_records good)" 0 "answered y: the records are gone"
mh_run -a good
mh_run forget -a good </dev/null
t_rc 0 "forget without --yes, stdin not a terminal: exit 0"
t_eq "$OUT" "forgot $N_INBOX records of account good" \
    "stdin not a terminal: no question, it forgets"

# --folder: one folder of an IMAP account, by its UTF-8 name.
mh_run forget -a imap --folder "Entwürfe" --yes
t_rc 0 "forget --folder Entwürfe: exit 0"
t_eq "$OUT" "forgot $n_drafts records of account imap, folder Entwürfe" \
    "forget --folder says how many, and which folder"
t_eq "$(state_records imap 'Entw&APw-rfe')/$(state_records imap Lists/dev)" \
    "0/$n_dev" "only Entwürfe's records went; Lists/dev's stay"
mh_run -a imap
t_match "$OUT" "^imap: $n_drafts new " "the next poll archives Entwürfe's messages again, only those"
mh_run forget -a imap --folder Nope --yes
t_rc 78 "forget --folder of an unknown folder: exit 78"
t_match "$ERR" '^mailhaul: imap: no folder "Nope" in the state' "the error names the folder"
t_eq "$(state_records imap)" "$((n_dev + n_drafts))" "an unknown folder deletes nothing"

# Usage: exactly one -a.
mh_run forget --yes
t_rc 64 "forget without -a: exit 64"
t_match "$ERR" '^usage: mailhaul .*forget -a NAME' "forget without -a: usage"
mh_run forget -a good -a imap --yes
t_rc 64 "forget with two -a: exit 64"

# A poll holding the account's lock: forget waits for nobody, exit 75.
mkdir -p "$T/locks"
"$MH_PYTHON" - "$T/locks/imap.lock" "$T/release" "$T/held" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.ftruncate(fd, 0)
os.write(fd, b"%d\n" % os.getpid())
open(sys.argv[3], "w").close()
end = time.time() + 30
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.02)
EOF
holder=$!
for _ in $(seq 1 250); do [ -e "$T/held" ] && break; sleep 0.02; done
mh_run forget -a imap --yes
touch "$T/release"
wait "$holder"
t_rc 75 "forget while the account's lock is held: exit 75"
t_match "$ERR" "^mailhaul: imap: skipped: another mailhaul \\(pid $holder\\) is polling this account" \
    "forget names the lock's holder"
t_eq "$(state_records imap)" "$((n_dev + n_drafts))" "the lock held: nothing deleted"

# An unsettled delivery in the journal: a poll must settle it first.
"$MH_PYTHON" - "$T/state.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO journal SELECT account, folder, uidvalidity, uid, "
           "size, archived_size, hash, header_hash, target, location, "
           "first_archived, 0, 0, '', x'' FROM seen WHERE account = 'imap' "
           "LIMIT 1")
db.commit()
EOF
mh_run forget -a imap --yes
t_rc 75 "forget with an unsettled journal entry: exit 75"
t_match "$ERR" "^mailhaul: imap: the delivery journal holds 1 unsettled .*run a poll of this account first" \
    "it says to run a poll first"
t_eq "$(state_records imap)" "$((n_dev + n_drafts))" "the journal unsettled: nothing deleted"

# A state that cannot be read: 74 and one line.
echo "not a database, just text that is long enough to be a header" >"$T/bad.db"
sed -i "s|^state_file = .*|state_file = \"$T/bad.db\"|" "$MH_CONF"
mh_run status
t_rc 74 "status on a state that is not a database: exit 74"
t_eq "$(n_lines "$ERR")" 1 "one error line"
t_match "$ERR" "^mailhaul: state $(re_escape "$T/bad.db"): " "it names the state file"

t_done
