#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# mailhaul import: fetchmail (POP3), mpop (POP3) and getmail6 (POP3, and
# IMAP in two folders) fetch what the server holds, leaving it there; more
# mail arrives; `mailhaul import` reads the tool's own state file, and the
# first mailhaul poll (into a new, empty Maildir) archives exactly the new
# messages, a second poll none.  Then the refusals: no matching account,
# several, the wrong one, a broken file; and importing twice adds nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

for tool in fetchmail mpop getmail; do
    t_ok "$tool is installed" command -v "$tool"
done

dc_start || exit 1
mh_mkseed "$T/seed0"
dc_seed "$T"/seed0/*
N0=$(find "$T/seed0" -type f | wc -l)
t_eq "$(dc_server_count)" "$N0" "the server holds the $N0 seeded messages"

# The old tools run as root with their HOME here.
OLDHOME=$T/oldhome
mkdir -p "$OLDHOME"

# Seq for distinct seed prefixes.
SEEDS=0

# seed_more M: puts M new messages on the server and writes into
# $T/new.<SEEDS> the server's copies of exactly those (file name: UIDL).
seed_more() {
    local m=$1 before=$T/before.$SEEDS after=$T/after.$SEEDS f
    SEEDS=$((SEEDS + 1))
    rm -rf "$before" "$after"
    expected_from_server "$before" >/dev/null || return 1
    mh_mkseed --prefix "n$SEEDS-" --count "$m" --only \
        "$(seq -s, -f 'plain-%02g' 1 "$m")" "$T/seed.$SEEDS" || return 1
    dc_seed "$T/seed.$SEEDS"/* || return 1
    expected_from_server "$after" >/dev/null || return 1
    NEW=$T/new.$SEEDS
    mkdir -p "$NEW"
    for f in "$after"/*; do
        [ -e "$before/${f##*/}" ] || cp -p -- "$f" "$NEW/"
    done
    [ "$(find "$NEW" -type f | wc -l)" = "$m" ]
}

# poll_twice NAME MAILDIR M [config...]: with the configuration already
# written, the first poll archives exactly the M messages in $NEW, the
# second nothing.
poll_twice() {
    local name=$1 md=$2 m=$3 mdre
    mdre=$(re_escape "maildir:$md")
    mh_run -a "$name"
    t_rc 0 "$name: first poll after the import exits 0"
    t_match "$OUT" "^$name: $m new \(.*\) archived to $mdre, 0 deleted, [0-9]+ kept on server\$" \
        "$name: first poll says $m new"
    t_ok "$name: the archive holds exactly the $m messages the old tool had not" \
        check_archive maildir "$md" "$NEW"
    mh_run -a "$name"
    t_rc 0 "$name: second poll exits 0"
    t_match "$OUT" "^$name: 0 new \(0 B\) archived to $mdre, 0 deleted, [0-9]+ kept on server\$" \
        "$name: second poll says 0 new"
    t_ok "$name: the archive is unchanged" check_archive maildir "$md" "$NEW"
}

# import_ok NAME FORMAT FILE WANT_ADDED WANT_KNOWN [ARGS...]
import_ok() {
    local name=$1 fmt=$2 file=$3 added=$4 known=$5
    shift 5
    mh_run import --from "$fmt" "$@" "$file"
    t_rc 0 "$name: import --from $fmt exits 0"
    t_eq "$OUT" "imported $added records for account $name from $file ($known were known already)" \
        "$name: import reports $added new, $known known"
}

# state_rows DB ACCOUNT: "origin|count" of the account's seen records.
state_rows() {
    "$MH_PYTHON" - "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute("SELECT origin, count(*), min(size), max(size) FROM seen "
                      "WHERE account = ? GROUP BY origin", (sys.argv[2],)):
    print("|".join(str(x) for x in row))
EOF
}

# ------------------------------------------------------------ fetchmail

cat >"$OLDHOME/fetchmailrc" <<EOF
set no bouncemail
poll localhost via 127.0.0.1 protocol pop3 port $POP3S_PORT uidl
  user "alice" password "secret" is root here
  ssl sslcertfile "$CA_FILE" sslcertck sslcommonname localhost
  keep mda "/bin/sh -c 'cat >>$OLDHOME/fetchmail.out'"
EOF
chmod 600 "$OLDHOME/fetchmailrc"
HOME=$OLDHOME fetchmail -f "$OLDHOME/fetchmailrc" -i "$OLDHOME/.fetchids" \
    >"$T/fetchmail.log" 2>&1
t_eq "$(wc -l <"$OLDHOME/.fetchids" 2>/dev/null)" "$N0" \
    "fetchmail: kept all $N0 messages and listed them in .fetchids" ||
    t_diag "$(tail -n 20 "$T/fetchmail.log")"
t_eq "$(dc_server_count)" "$N0" "fetchmail: left the mail on the server"
t_match "$(cat "$OLDHOME/.fetchids")" "^alice@127\.0\.0\.1 [[:graph:]]+\$" \
    "fetchmail: .fetchids lines are USER@HOST UIDL"
seed_more 2 || t_result 1 "seed 2 more messages"
N1=$((N0 + 2))

mh_config fm state_file="$T/fm.db" deliver="maildir:$T/fm-md"
import_ok fm fetchmail "$OLDHOME/.fetchids" "$N0" 0
t_eq "$(state_rows "$T/fm.db" fm)" "fetchmail|$N0|0|0" \
    "fetchmail: $N0 records of origin fetchmail, size 0"
poll_twice fm "$T/fm-md" 2
import_ok fm fetchmail "$OLDHOME/.fetchids" 0 "$N0"

# ------------------------------------------------------------ mpop

cat >"$OLDHOME/mpoprc" <<EOF
account default
host 127.0.0.1
port $POP3S_PORT
tls on
tls_starttls off
tls_trust_file $CA_FILE
auth user
user alice
password secret
keep on
delivery mbox $OLDHOME/mpop.mbox
EOF
chmod 600 "$OLDHOME/mpoprc"
MPOP_FILE=$OLDHOME/.mpop_uidls/alice_at_127.0.0.1
HOME=$OLDHOME mpop -C "$OLDHOME/mpoprc" >"$T/mpop.log" 2>&1
t_match "$(cat "$MPOP_FILE" 2>/dev/null)" "^ $N1 127\.0\.0\.1 alice\$" \
    "mpop: its UIDLS file lists all $N1 messages for alice at 127.0.0.1" ||
    t_diag "$(tail -n 20 "$T/mpop.log")"
t_eq "$(dc_server_count)" "$N1" "mpop: left the mail on the server"
seed_more 3 || t_result 1 "seed 3 more messages"
N2=$((N1 + 3))

mh_config mp state_file="$T/mp.db" deliver="maildir:$T/mp-md"
import_ok mp mpop "$MPOP_FILE" "$N1" 0
t_eq "$(state_rows "$T/mp.db" mp)" "mpop|$N1|0|0" \
    "mpop: $N1 records of origin mpop, size 0"
poll_twice mp "$T/mp-md" 3

# ------------------------------------------------------------ getmail POP3

GMDIR=$OLDHOME/getmail
mkdir -p "$GMDIR" "$OLDHOME/gm-md/cur" "$OLDHOME/gm-md/new" "$OLDHOME/gm-md/tmp"
# getmail refuses to deliver as root: it delivers as nobody.
chown -R 65534:65534 "$OLDHOME/gm-md"
chmod 755 "$OLDHOME"
cat >"$GMDIR/getmailrc" <<EOF
[retriever]
type = SimplePOP3SSLRetriever
server = 127.0.0.1
port = $POP3S_PORT
username = alice
password = secret
ca_certs = $CA_FILE
[destination]
type = Maildir
path = $OLDHOME/gm-md/
user = nobody
[options]
delete = false
read_all = false
EOF
GM_POP=$GMDIR/oldmail-127.0.0.1-$POP3S_PORT-alice
HOME=$OLDHOME getmail --getmaildir "$GMDIR" -r "$GMDIR/getmailrc" \
    >"$T/getmail.log" 2>&1
t_eq "$(tr -cd '\n' <"$GM_POP" 2>/dev/null | wc -c)" "$N2" \
    "getmail: its oldmail file lists all $N2 messages" ||
    t_diag "$(tail -n 20 "$T/getmail.log")"
t_eq "$(find "$OLDHOME/gm-md/new" -type f | wc -l)" "$N2" \
    "getmail: delivered $N2 messages"
t_eq "$(dc_server_count)" "$N2" "getmail: left the mail on the server"
seed_more 2 || t_result 1 "seed 2 more messages"
N3=$((N2 + 2))

mh_config gp state_file="$T/gp.db" deliver="maildir:$T/gp-md"
import_ok gp getmail "$GM_POP" "$N2" 0
"$MH_PYTHON" - "$T/gp.db" "$GM_POP" >"$T/gp.times" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
got = dict(db.execute("SELECT uid, first_archived FROM seen WHERE origin = 'getmail'"))
want = {}
for line in open(sys.argv[2], "rb"):
    uid, t = line.strip().split(b"\0")
    want[uid.decode()] = int(t)
print("same" if got == want else "differ: got %r want %r" % (got, want))
EOF
t_eq "$(cat "$T/gp.times")" same \
    "getmail: each record's first_archived is getmail's timestamp"
poll_twice gp "$T/gp-md" 2

# ------------------------------------------------------------ getmail IMAP

# Two folders: INBOX (the N3 messages so far) and Lists/dev, whose file
# name getmail spells "Lists.dev".
mh_mkseed --prefix dev- --only plain-01,plain-02,plain-03 "$T/seed.dev"
dc_imap_seed Lists/dev "$T"/seed.dev/*
cat >"$GMDIR/getmailrc-imap" <<EOF
[retriever]
type = SimpleIMAPSSLRetriever
server = 127.0.0.1
port = $IMAPS_PORT
username = alice
password = secret
ca_certs = $CA_FILE
mailboxes = ("INBOX", "Lists/dev")
[destination]
type = Maildir
path = $OLDHOME/gm-md/
user = nobody
[options]
delete = false
read_all = false
EOF
GM_IN=$GMDIR/oldmail-127.0.0.1-$IMAPS_PORT-alice-INBOX
GM_DEV=$GMDIR/oldmail-127.0.0.1-$IMAPS_PORT-alice-Lists.dev
HOME=$OLDHOME getmail --getmaildir "$GMDIR" -r "$GMDIR/getmailrc-imap" \
    >"$T/getmail-imap.log" 2>&1
t_eq "$(tr -cd '\n' <"$GM_IN" 2>/dev/null | wc -c):$(tr -cd '\n' <"$GM_DEV" 2>/dev/null | wc -c)" \
    "$N3:3" "getmail IMAP: oldmail files for INBOX ($N3) and Lists/dev (3)" ||
    t_diag "$(tail -n 20 "$T/getmail-imap.log")"
t_match "$(tr '\0' ' ' <"$GM_IN")" "^[0-9]+/[0-9]+ [0-9]+\$" \
    "getmail IMAP: lines are UIDVALIDITY/UID, NUL, timestamp"

imap_expected "$T/imap.before" >/dev/null
mh_mkseed --prefix in4- --only plain-01,plain-02 "$T/seed.in4"
mh_mkseed --prefix dev4- --only plain-04 "$T/seed.dev4"
dc_imap_seed INBOX "$T"/seed.in4/*
dc_imap_seed Lists/dev "$T"/seed.dev4/*
imap_expected "$T/imap.after" >/dev/null
for folder in INBOX Lists/dev; do
    mkdir -p "$T/imap.new/$folder"
    for f in "$T/imap.after/$folder"/*; do
        [ -e "$T/imap.before/$folder/${f##*/}" ] ||
            cp -p -- "$f" "$T/imap.new/$folder/"
    done
done
t_eq "$(find "$T/imap.new" -type f | wc -l)" 3 "IMAP: 3 new messages on the server"

mh_config gi protocol=imap state_file="$T/gi.db" deliver="maildir:$T/gi-md" \
    folders='{"INBOX", "Lists/dev"}'
import_ok gi getmail "$GM_IN" "$N3" 0
import_ok gi getmail "$GM_DEV" 3 0
uv=$(imap_oracle uidvalidity INBOX)
uvdev=$(imap_oracle uidvalidity Lists/dev)
t_eq "$(echo "SELECT folder, uidvalidity IN ($uv, $uvdev) AND uidvalidity = CASE folder WHEN 'INBOX' THEN $uv ELSE $uvdev END, count(*) FROM seen GROUP BY folder ORDER BY folder;" |
    "$MH_PYTHON" -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); [print("|".join(map(str,r))) for r in db.execute(sys.stdin.read())]' "$T/gi.db")" \
    "INBOX|1|$N3"$'\n'"Lists/dev|1|3" \
    "getmail IMAP: records under the folder names and their UIDVALIDITY"
mh_run -a gi
t_rc 0 "gi: first poll after the import exits 0"
t_match "$OUT" "^gi: 3 new \(.*\) archived to " "gi: first poll says 3 new"
t_ok "gi: the archive holds exactly the 3 messages getmail had not" \
    check_imap_archive flat "$T/gi-md" "$T/imap.new" INBOX Lists/dev
mh_run -a gi
t_rc 0 "gi: second poll exits 0"
t_match "$OUT" "^gi: 0 new \(0 B\) archived to " "gi: second poll says 0 new"

# Without Lists/dev among the configured folders "Lists.dev" is ambiguous.
mh_config gi2 protocol=imap state_file="$T/gi2.db" deliver="maildir:$T/gi2-md"
mh_run import --from getmail "$GM_DEV"
t_rc 78 "getmail IMAP: a dotted folder name nobody configured: exit 78"
t_match "$ERR" "Lists\.dev\" in the file name may stand for several names .*name it with --folder\$" \
    "getmail IMAP: the error asks for --folder"
mh_run import --from getmail --folder Lists/dev "$GM_DEV"
t_rc 0 "getmail IMAP: --folder Lists/dev imports it"
t_eq "$OUT" "imported 3 records for account gi2 from $GM_DEV (0 were known already)" \
    "getmail IMAP: --folder: 3 records"

# ------------------------------------------------------------ refusals

# Two POP3 accounts of alice at 127.0.0.1: the file cannot say which.
mh_config one state_file="$T/amb.db" deliver="maildir:$T/amb1" -- \
    two port="$POP3_PORT" tls=none deliver="maildir:$T/amb2"
mh_run import --from fetchmail "$OLDHOME/.fetchids"
t_rc 78 "ambiguous: exit 78"
t_eq "$ERR" "mailhaul: import: $OLDHOME/.fetchids: several accounts match alice@127.0.0.1 (pop3): one, two; use -a NAME" \
    "ambiguous: the error names both accounts"
t_eq "$OUT" "" "ambiguous: nothing imported"
mh_run -a two import --from fetchmail "$OLDHOME/.fetchids"
t_rc 0 "ambiguous: -a two imports"
t_match "$OUT" "^imported $N0 records for account two from " "ambiguous: -a two: $N0 records"

# No account of that user.
mh_config other user=bob state_file="$T/none.db" -- \
    imapacct protocol=imap deliver="maildir:$T/none"
mh_run import --from mpop "$MPOP_FILE"
t_rc 78 "no match: exit 78"
t_eq "$ERR" "mailhaul: import: $MPOP_FILE: no configured account matches alice@127.0.0.1 (pop3); use -a NAME" \
    "no match: the error names what the file holds"
mh_run -a imapacct import --from mpop "$MPOP_FILE"
t_rc 78 "an IMAP account for POP3 UIDLs: exit 78"
t_eq "$ERR" "mailhaul: imapacct: import: $MPOP_FILE: nothing in it is for this imap account (alice@127.0.0.1): it holds alice@127.0.0.1 (pop3)" \
    "an IMAP account for POP3 UIDLs: the error says why"
mh_run -a other import --from mpop "$MPOP_FILE"
t_rc 0 "-a other: a single-list file goes to the named account"

# A file that is not the format: named with its line.
printf 'alice@127.0.0.1 0001\ngarbage\n' >"$T/broken"
mh_run -a other import --from fetchmail "$T/broken"
t_rc 65 "broken file: exit 65"
t_eq "$ERR" "mailhaul: import: $T/broken:2: expected \"USER@HOST UIDL\"" \
    "broken file: file and line named"
mh_run -a other import --from mpop "$OLDHOME/.fetchids"
t_rc 65 "a fetchmail file read as mpop: exit 65"
t_match "$ERR" "^mailhaul: import: $(re_escape "$OLDHOME/.fetchids"):1: UID without a list" \
    "a fetchmail file read as mpop: file and line named"
mh_run import --from mpop "$T/absent"
t_rc 66 "missing file: exit 66"
t_eq "$ERR" "mailhaul: import: $T/absent: No such file or directory" \
    "missing file: says so"
mh_run import --from thunderbird "$T/broken"
t_rc 64 "unknown format: exit 64 (usage)"

# An invalid UIDL is skipped with a warning, the rest imported.
printf 'alice@127.0.0.1 ok-1\nalice@127.0.0.1 %s\n' "$(printf 'x%.0s' $(seq 1 71))" \
    >"$T/longuidl"
mh_run -a other import --from fetchmail "$T/longuidl"
t_rc 0 "an overlong UIDL: exit 0"
t_eq "$OUT" "imported 1 records for account other from $T/longuidl (0 were known already)" \
    "an overlong UIDL: the valid one imported"
t_match "$ERR" "^mailhaul: other: warning: import: .*: skipped 1 invalid message identifiers \(the first on line 2\)\$" \
    "an overlong UIDL: warned with its line"

# The account lock: an import does not write while a poll holds it (here a
# POSIX record lock of our own on the lock file, which conflicts with
# mailhaul's OFD lock), and gives up like a poll would: exit 75.
mh_config fm state_file="$T/fm.db" deliver="maildir:$T/fm-md"
"$MH_PYTHON" - "$T/locks/fm.lock" "$T/lock.held" "$T/lock.release" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
deadline = time.time() + 30
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    time.sleep(0.05)
EOF
lockpid=$!
for _ in $(seq 1 100); do
    [ -e "$T/lock.held" ] && break
    sleep 0.05
done
before=$(state_rows "$T/fm.db" fm)
mh_run import --from fetchmail "$OLDHOME/.fetchids"
t_rc 75 "account lock held: exit 75"
t_match "$ERR" "^mailhaul: fm: import: " "account lock held: the error names the account"
touch "$T/lock.release"
wait "$lockpid"
t_eq "$(state_rows "$T/fm.db" fm)" "$before" "account lock held: nothing written"

t_done
