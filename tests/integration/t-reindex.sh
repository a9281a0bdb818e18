#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# mailhaul reindex -a NAME after the state was lost: over archives made by
# mailhaul itself (POP3 and IMAP, Maildir and mbox) it records every
# archived message as a poll would have (same records, found by their
# headers alone), the next poll downloads nothing and leaves the archive
# as it was, and later mail is archived once.  Over archives made by the
# real mpop (which puts a Received field in front of each message), with
# and without mpop's UIDLs imported, the next poll downloads only what
# mpop had not.  A partial archive: exactly the missing messages are
# fetched again.  An empty server, an empty archive, usage and failure
# exit codes.
# shellcheck shell=bash
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1

# Messages whose header section is awkward, besides the standard set.
mkdir -p "$T/odd"
printf 'Subject: no body\nMessage-ID: <nobody@mailhaul.test>\n\n' >"$T/odd/nobody"
printf 'Subject: no empty line\nMessage-ID: <noempty@mailhaul.test>\n' >"$T/odd/noempty"
printf 'Subject: no empty line, no newline\nFrom: x@example.org' >"$T/odd/noemptynonl"
{
    printf 'Subject: folded\n\tover two lines\n  and three\n'
    printf 'Message-ID:\n <folded@mailhaul.test>\n'
    printf 'X-Long: %s\n' "$(head -c 3000 /dev/zero | tr '\0' a)"
    printf 'References: <a@b>\n\t<c@d>\n\t<e@f>\n\nbody\n\nmore\n'
} >"$T/odd/folded"
printf '\nThis message starts with an empty line.\n' >"$T/odd/leadingempty"
# Two copies of one message: each must be matched to its own copy.
printf 'Subject: twice\nMessage-ID: <twice@mailhaul.test>\n\nsame\n' >"$T/odd/twice-1"
cp "$T/odd/twice-1" "$T/odd/twice-2"

# records DB: the seen records, sorted, without the archiving time.
records() {
    sqlite3 "$1" "SELECT folder, uidvalidity, uid, size, archived_size, hash,
        header_hash, target, location, origin FROM seen ORDER BY 1, 2, 3, 4"
}

reindex_line() { # N FOUND ALREADY MISSING
    printf 'reindex work: %s on the server, %s found in the archive and recorded, %s already recorded, %s not archived (the next poll fetches them)' "$@"
}

# --- an empty server ---------------------------------------------------

mh_config work deliver="maildir:$T/empty-md"
mh_run reindex -a work
t_rc 0 "reindex with nothing on the server exits 0"
t_eq "$OUT" "$(reindex_line 0 0 0 0)" "reindex says there is nothing on the server"
t_ok "reindex did not create the archive" test ! -e "$T/empty-md"
t_eq "$(records "$T/state.db" | wc -l)" 0 "nothing recorded"

mh_mkseed --count 12 "$T/seed"
dc_seed "$T"/seed/* "$T"/odd/*
N=$(dc_server_count)
expected_from_server "$T/exp" >/dev/null
imap_expected "$T/iexp"
t_eq "$(find "$T/exp" -type f | wc -l)" "$N" "oracle sees the $N seeded messages"

# --- usage and failures ------------------------------------------------

mh_run reindex
t_rc 64 "reindex without -a is a usage error"
t_match "$ERR" "usage: mailhaul reindex -a NAME" "the usage line is shown"

mh_run reindex -a work
t_rc 0 "reindex over an empty archive exits 0"
t_eq "$OUT" "$(reindex_line "$N" 0 0 "$N")" "empty archive: every message is left for the poll"
t_ok "reindex never creates the archive" test ! -e "$T/empty-md"

mh_config work deliver="maildir:$T/empty-md" password=wrong
mh_run reindex -a work
t_rc 77 "a refused login exits 77"
mh_config work deliver="maildir:$T/empty-md" port="$(mh_free_ports 1)"
mh_run reindex -a work
t_rc 75 "no server exits 75"

mkdir -p "$T/broken-md/cur" "$T/broken-md/tmp"
: >"$T/broken-md/new"
mh_config work deliver="maildir:$T/broken-md" state_file="$T/broken.db"
mh_run reindex -a work
t_rc 74 "an archive that cannot be read exits 74"
t_eq "$(records "$T/broken.db" | wc -l)" 0 "nothing recorded from an unreadable archive"

mh_config work deliver="mda:/bin/cat" state_file="$T/mda.db"
mh_run reindex -a work
t_rc 78 "an account delivering to an MDA is refused (78)"
t_match "$ERR" "reindex reads a Maildir or an mbox" "the refusal says why"

# --- archives made by mailhaul ------------------------------------------

# check_kind NAME PROTO KIND PATH: the archive holds the server's mail.
check_kind() {
    case $2:$3 in
    pop3:maildir) check_archive maildir "$4" "$T/exp" ;;
    pop3:mbox) check_archive mbox "$4" "$T/exp" ;;
    imap:maildir) check_imap_archive flat "$4" "$T/iexp" INBOX ;;
    imap:mbox) check_imap_archive mbox "$4" "$T/iexp" INBOX ;;
    esac
}

# config_kind PROTO KIND PATH DB
config_kind() {
    mh_config work protocol="$1" deliver="$2:$3" state_file="$4"
}

COMBOS="pop3:maildir pop3:mbox imap:maildir imap:mbox"
for combo in $COMBOS; do
    proto=${combo%:*} kind=${combo#*:}
    path=$T/arch-$proto-$kind db=$T/state-$proto-$kind.db
    config_kind "$proto" "$kind" "$path" "$db"
    mh_run
    t_rc 0 "$combo: first poll exits 0"
    t_ok "$combo: the archive holds the $N messages" check_kind x "$proto" "$kind" "$path"
    records "$db" >"$T/records-$combo"
    before=$(archive_digest "$path")
    rm -f "$db" "$db"-wal "$db"-shm

    mh_run reindex -a work
    t_rc 0 "$combo: reindex exits 0"
    t_eq "$OUT" "$(reindex_line "$N" "$N" 0 0)" "$combo: reindex finds all $N"
    t_eq "$(records "$db")" "$(cat "$T/records-$combo")" \
        "$combo: the records are those the poll made (hashes, header hashes, places)"
    t_eq "$(archive_digest "$path")" "$before" "$combo: reindex left the archive alone"

    mh_run reindex -a work
    t_eq "$OUT" "$(reindex_line "$N" 0 "$N" 0)" "$combo: a second reindex finds them recorded"

    mh_run
    t_rc 0 "$combo: poll after reindex exits 0"
    t_match "$OUT" "^work: 0 new " "$combo: the poll downloads nothing"
    t_eq "$(archive_digest "$path")" "$before" "$combo: the archive is unchanged"
done

# Later mail: archived once, next to what reindex recorded.
mh_mkseed --count 5 --prefix later- --only plain-01,plain-02,plain-03,plain-04,plain-05 "$T/later"
dc_seed "$T"/later/*
rm -rf "$T/exp" "$T/iexp"
expected_from_server "$T/exp" >/dev/null
imap_expected "$T/iexp"
for combo in $COMBOS; do
    proto=${combo%:*} kind=${combo#*:}
    path=$T/arch-$proto-$kind db=$T/state-$proto-$kind.db
    config_kind "$proto" "$kind" "$path" "$db"
    mh_run
    t_match "$OUT" "^work: 5 new " "$combo: the next poll archives the 5 new messages"
    t_ok "$combo: every message once, nothing else" check_kind x "$proto" "$kind" "$path"
done
N=$((N + 5))

# --- a partial archive --------------------------------------------------

path=$T/arch-pop3-maildir db=$T/state-pop3-maildir.db
config_kind pop3 maildir "$path" "$db"
find "$path/new" "$path/cur" -type f | sort | sed -n '2p;7p;12p' | xargs rm -f
rm -f "$db" "$db"-wal "$db"-shm
mh_run reindex -a work
t_rc 0 "partial archive: reindex exits 0"
t_eq "$OUT" "$(reindex_line "$N" $((N - 3)) 0 3)" "partial archive: 3 not archived"
mh_run
t_match "$OUT" "^work: 3 new " "partial archive: the poll fetches exactly the 3 removed"
t_ok "partial archive: every message once" check_archive maildir "$path" "$T/exp"

# --- archives made by mpop ----------------------------------------------

# mpop_fetch KIND PATH UIDLS: real mpop, keep on, into PATH.
mpop_fetch() {
    cat >"$T/mpoprc" <<EOF
account default
host 127.0.0.1
port $POP3_PORT
tls off
auth user
user $MAIL_USER
password $MAIL_PASS
keep on
uidls_file $3
delivery $1 $2
EOF
    chmod 600 "$T/mpoprc"
    mpop -C "$T/mpoprc" -q -a
}

# mpop_normalize KIND PATH DIR: each archived message into the Maildir
# DIR, with the Received field mpop put in front taken away again.
mpop_normalize() {
    rm -rf "$3" && mkdir -p "$3/new" "$3/cur" "$3/tmp" &&
        "$MH_PYTHON" - "$MH_LIB_DIR" "$@" <<'EOF'
import os, re, sys
sys.path.insert(0, sys.argv[1])
import archive
kind, path, out = sys.argv[2:5]
mpop = re.compile(rb"Received: from [^\n]*\n\tby [^\n]* \(mpop-[^\n]*\n\tfor [^\n]*\n")
for i, (_, data) in enumerate(archive.read_archive(kind, path)):
    m = mpop.match(data)
    with open(os.path.join(out, "new", "%04d" % i), "wb") as f:
        f.write(data[m.end():] if m else data)
EOF
}

M=$(dc_server_count)
for kind in maildir mbox; do
    path=$T/mpop-$kind db=$T/state-mpop-$kind.db
    mkdir -p "$path"/new "$path"/cur "$path"/tmp
    [ "$kind" = mbox ] && { rm -rf "$path"; : >"$path"; }
    t_ok "mpop $kind: mpop archives the $M messages" mpop_fetch "$kind" "$path" "$T/uidls-$kind"
    t_eq "$(archive_count "$kind" "$path")" "$M" "mpop $kind: mpop wrote $M messages"
done
t_match "$(head -n 3 "$(find "$T/mpop-maildir/new" -type f | head -n 1)")" \
    '^Received: from 127\.0\.0\.1 ' "mpop puts a Received field in front"

mh_mkseed --count 3 --prefix after-mpop- --only plain-01,plain-02,plain-03 "$T/aftermpop"
dc_seed "$T"/aftermpop/*
rm -rf "$T/exp"
expected_from_server "$T/exp" >/dev/null

for kind in maildir mbox; do
    path=$T/mpop-$kind db=$T/state-mpop-$kind.db
    mh_config work deliver="$kind:$path" state_file="$db"
    if [ "$kind" = mbox ]; then
        # As if mpop's UIDLs had been imported: records with no size and
        # no archived copy, which reindex upgrades.
        mh_run reindex -a work # creates the database (and fills it)
        sqlite3 "$db" "DELETE FROM seen"
        grep -v '^[# ]' "$T/uidls-$kind" | grep . | while read -r u; do
            printf "INSERT INTO seen (account, folder, uidvalidity, uid, size,
                archived_size, hash, header_hash, target, location,
                first_archived, origin) VALUES ('work', '', 0, '%s', 0, 0,
                '', '', '', '', 1, 'mpop');\n" "$u"
        done | sqlite3 "$db"
        t_eq "$(sqlite3 "$db" "SELECT count(*) FROM seen WHERE origin = 'mpop'")" \
            "$M" "mpop $kind: $M imported records to upgrade"
    fi
    before=$(archive_digest "$path")
    mh_run reindex -a work
    t_rc 0 "mpop $kind: reindex exits 0"
    t_eq "$OUT" "$(reindex_line $((M + 3)) "$M" 0 3)" \
        "mpop $kind: the $M messages mpop archived are found, 3 are not"
    t_eq "$(archive_digest "$path")" "$before" "mpop $kind: reindex left the archive alone"
    t_eq "$(sqlite3 "$db" "SELECT count(*) FROM seen WHERE origin = ''")/$(sqlite3 "$db" "SELECT count(*) FROM seen WHERE origin <> ''")" \
        "$M/0" "mpop $kind: $M records of mailhaul's own, no imported one left"
    if [ "$kind" = mbox ]; then
        t_eq "$(sqlite3 "$db" "SELECT count(*) FROM seen WHERE first_archived = 1")" \
            "$M" "mpop $kind: the records keep the imported time"
    fi
    t_ok "mpop $kind: each record has the archived copy's own size and hash" \
        "$MH_PYTHON" - "$MH_LIB_DIR" "$kind" "$path" "$db" <<'EOF'
import hashlib, sqlite3, sys
sys.path.insert(0, sys.argv[1])
import archive
kind, path, db = sys.argv[2:5]
have = {(len(d), hashlib.sha256(d).hexdigest()) for _, d in archive.read_archive(kind, path)}
rows = sqlite3.connect(db).execute("SELECT uid, archived_size, hash FROM seen").fetchall()
bad = [r for r in rows if (r[1], r[2]) not in have]
for r in bad:
    print("record %s: no archived copy of %d bytes with hash %s" % r)
sys.exit(1 if bad or not rows else 0)
EOF
    mh_run
    t_rc 0 "mpop $kind: poll after reindex exits 0"
    t_match "$OUT" "^work: 3 new " "mpop $kind: the poll downloads only the 3 mpop had not"
    t_eq "$(archive_count "$kind" "$path")" $((M + 3)) "mpop $kind: $((M + 3)) messages in the archive"
    mpop_normalize "$kind" "$path" "$T/norm-$kind"
    t_ok "mpop $kind: every server message once (mpop's Received field aside)" \
        check_archive maildir "$T/norm-$kind" "$T/exp"
done

t_done
