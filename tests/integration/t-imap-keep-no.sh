#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# IMAP keep = no: every selected folder is archived, then emptied on the
# server, except a message another session had flagged \Deleted without
# expunging (mailhaul expunges only its own UIDs): it is still there,
# still \Deleted, afterwards.  Unselected folders are untouched.  With
# move_to = "Trash" the messages are moved into Trash instead: Trash then
# holds exactly them, byte for byte.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

# hashes DIR...: the sorted SHA-256 of every file under the DIRs.
hashes() {
    find "$@" -type f -print0 | xargs -0r sha256sum | cut -d' ' -f1 | sort
}

dc_imap_start_seeded
n=$N
F=("${IMAP_SEED_FOLDERS[@]}")
sel=$IMAP_SEED_SELECT

# Another session marks INBOX UID 3 \Deleted and does not expunge.
t_ok "another session flags INBOX UID 3 \\Deleted" \
    imap_oracle store INBOX 3 +FLAGS '\Deleted'
t_eq "$(imap_oracle flags INBOX | grep '^3 ')" '3 \Deleted' "the oracle sees UID 3 \\Deleted"
# What mailhaul must archive: everything; UID 3 may be left out.
mkdir -p "$T/exp-no3"
cp -a "$T/exp/." "$T/exp-no3/"
rm "$T/exp-no3/INBOX/3"
imap_oracle create Other >/dev/null
mh_mkseed --prefix other- --only plain-06 "$T/seed-other"
dc_imap_seed Other "$T"/seed-other/*

md=$T/Maildir
mdre=$(re_escape "maildir:$md")
mh_config work protocol=imap folders="$sel" keep=no deliver="maildir:$md"
mh_run
t_rc 0 "keep = no: run exits 0"
if grep -rqF -- "$(sed -n 's/^Message-ID: *//Ip' "$T/exp/INBOX/3" | head -n 1)" "$md" 2>/dev/null; then
    t_diag "the \\Deleted message was archived too"
    t_ok "every message archived exactly once, byte for byte" \
        check_imap_archive flat "$md" "$T/exp" "${F[@]}"
else
    t_diag "the \\Deleted message was not archived"
    t_ok "every message but the \\Deleted one archived exactly once, byte for byte" \
        check_imap_archive flat "$md" "$T/exp-no3" "${F[@]}"
fi
t_match "$OUT" "^work: [0-9]+ new \(.*\) archived to $mdre, $((n - 1)) deleted, 1 kept on server\$" \
    "summary: $((n - 1)) deleted, 1 kept"
t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
    "Entwürfe:0,INBOX:1,Lists/dev:0,Lists/ops:0,Other:1,Trash:0," \
    "selected folders are empty on the server but for the \\Deleted message; Other untouched"
t_eq "$(imap_oracle flags INBOX)" '3 \Deleted' \
    "the other session's \\Deleted message is still there, still \\Deleted"

before=$(archive_digest "$md")
mh_run
t_rc 0 "second run exits 0"
t_match "$OUT" "^work: 0 new \(0 B\) archived to $mdre, 0 deleted, 1 kept on server\$" \
    "second summary: 0 new, 0 deleted, 1 kept"
t_eq "$(archive_digest "$md")" "$before" "second run leaves the archive unchanged"
t_eq "$(imap_oracle flags INBOX)" '3 \Deleted' "the \\Deleted message is still on the server"

# --- move_to = "Trash" (the \Deleted message expunged first)
t_ok "the oracle expunges the \Deleted message" imap_oracle expunge INBOX
mh_mkseed --prefix move- --only plain-01,plain-02,long-line "$T/seed-move"
dc_imap_seed INBOX "$T"/seed-move/move-plain-01 "$T"/seed-move/move-long-line
dc_imap_seed --flags S Lists/dev "$T"/seed-move/move-plain-02
imap_expected "$T/exp2" "$T/exp2.meta"
t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
    "Entwürfe:0,INBOX:2,Lists/dev:1,Lists/ops:0,Other:1,Trash:0," \
    "move_to: three new messages on the server"
md2=$T/Maildir-move
mh_config work protocol=imap folders="$sel" keep=no move_to=Trash \
    deliver="maildir:$md2" state_file="$T/state-move.db"
mh_run
t_rc 0 "move_to: run exits 0"
t_match "$OUT" "^work: 3 new \(" "move_to: summary says 3 new"
t_ok "move_to: the three messages are archived, byte for byte" \
    check_imap_archive flat "$md2" "$T/exp2" "${F[@]}"
imap_expected "$T/exp3" "$T/exp3.meta"
t_eq "$(hashes "$T/exp3/Trash")" "$(hashes "$T/exp2/INBOX" "$T/exp2/Lists/dev")" \
    "move_to: Trash holds exactly the three messages, byte for byte"
t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
    "Entwürfe:0,INBOX:0,Lists/dev:0,Lists/ops:0,Other:1,Trash:3," \
    "move_to: the selected folders are empty, Other untouched"
t_eq "$(grep -c $'^Trash\t.*\\\\Seen' "$T/exp3.meta")" 1 \
    "move_to: the moved \\Seen message keeps its flag in Trash"

# --- archived with keep = yes, then keep = no: the next poll deletes what
# was archived before (as POP3 does), though UIDNEXT did not change.
mh_mkseed --prefix switch- --only plain-03,plain-04 "$T/seed-switch"
dc_imap_seed INBOX "$T"/seed-switch/*
md3=$T/Maildir-switch
mh_config work protocol=imap keep=yes deliver="maildir:$md3" state_file="$T/state-switch.db"
mh_run
t_rc 0 "keep = yes: run exits 0"
t_match "$OUT" "^work: 2 new \(.*\) archived to .*, 0 deleted, 2 kept on server\$" "keep = yes: 2 new, 2 kept"
mh_config work protocol=imap keep=no deliver="maildir:$md3" state_file="$T/state-switch.db"
mh_run
t_rc 0 "then keep = no: run exits 0"
t_match "$OUT" "^work: 0 new \(0 B\) archived to .*, 2 deleted, 0 kept on server\$" \
    "then keep = no: 0 new, 2 deleted"
t_eq "$(imap_count INBOX)" 0 "then keep = no: INBOX is empty on the server"
t_eq "$(archive_count maildir "$md3")" 2 "the archive still holds the 2 messages, once each"

t_done
