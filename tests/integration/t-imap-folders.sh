#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# IMAP over implicit TLS, several folders (INBOX, Lists/dev, Lists/ops,
# Entwürfe; Trash not selected) chosen by names and a LIST pattern, into
# each folder layout (flat, maildir++, tree) and into one mbox per folder:
# every folder's messages land where the layout says, byte for byte, each
# once, with the INTERNALDATE as the file's mtime.  A second poll archives
# nothing and sends neither UID FETCH nor UID SEARCH; a message that
# arrives later in one folder is fetched into that folder only; the server
# is left as it was (keep = yes, BODY.PEEK: no \Seen).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_imap_start_seeded
n=$N
F=("${IMAP_SEED_FOLDERS[@]}")
sel=$IMAP_SEED_SELECT
cp "$T/exp.meta" "$T/meta.before"

# mtimes_ok LAYOUT PATH: every folder's Maildir has the INTERNALDATEs.
mtimes_ok() {
    local f rc=0
    for f in "${F[@]}"; do
        imap_check_mtime "$(imap_local_path "$1" "$2" "$f")" "$T/exp" || rc=1
        [ "$1" = flat ] && break
    done
    return "$rc"
}

for layout in flat maildir++ tree; do
    md=$T/md-$layout
    mdre=$(re_escape "maildir:$md")
    mh_config work protocol=imap folders="$sel" folder_layout="$layout" \
        deliver="maildir:$md" state_file="$T/state-$layout.db"
    mh_run -vv
    t_rc 0 "$layout: first run exits 0"
    t_ok "$layout: every folder archived where the layout says, byte for byte, once" \
        check_imap_archive "$layout" "$md" "$T/exp" "${F[@]}"
    t_match "$OUT" \
        "^work: $n new \([0-9.]+ (B|KB|MB)\) archived to $mdre, 0 deleted, $n kept on server\$" \
        "$layout: summary line on stdout"
    t_ok "$layout: each file's mtime is its INTERNALDATE" mtimes_ok "$layout" "$md"
    t_match "$ERR" "^mailhaul: work: > [^ ]+ UID FETCH " \
        "$layout: the -vv trace shows the UID FETCH of the first poll"
    t_nomatch "$ERR" "secret" "$layout: the -vv trace does not show the password"

    case $layout in
    flat)
        t_eq "$(cd "$md" && find . -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')" \
            "./cur ./new ./tmp " "flat: one Maildir, no folders made"
        ;;
    maildir++)
        for d in .Lists.dev .Lists.ops ".Entwürfe"; do
            t_ok "maildir++: $d/maildirfolder exists" test -f "$md/$d/maildirfolder"
        done
        t_ok "maildir++: no maildirfolder file in the INBOX Maildir" \
            test ! -e "$md/maildirfolder"
        t_ok "maildir++: unselected Trash not made" test ! -e "$md/.Trash"
        ;;
    tree)
        t_ok "tree: Lists/dev is a nested Maildir" test -d "$md/Lists/dev/cur"
        t_ok "tree: Entwürfe is a Maildir named in UTF-8" test -d "$md/Entwürfe/new"
        t_ok "tree: no maildirfolder files" \
            test -z "$(find "$md" -name maildirfolder)"
        ;;
    esac

    before=$(archive_digest "$md")
    mh_run -vv
    t_rc 0 "$layout: second run exits 0"
    t_match "$OUT" \
        "^work: 0 new \(0 B\) archived to $mdre, 0 deleted, $n kept on server\$" \
        "$layout: second summary says 0 new"
    t_eq "$(archive_digest "$md")" "$before" "$layout: second run leaves the archive unchanged"
    t_match "$ERR" "^mailhaul: work: > [^ ]+ " "$layout: second run has a -vv trace"
    t_nomatch "$ERR" "^mailhaul: work: > [^ ]+ (UID )?FETCH " \
        "$layout: the no-op poll sends no FETCH"
    t_nomatch "$ERR" "^mailhaul: work: > [^ ]+ (UID )?SEARCH " \
        "$layout: the no-op poll sends no SEARCH"
done

# A late message in Lists/ops goes to Lists/ops only (maildir++).
mh_mkseed --prefix late- --only plain-05 "$T/late"
dc_imap_seed Lists/ops "$T"/late/*
imap_expected "$T/exp" "$T/exp.meta"
md=$T/md-maildir++
mh_config work protocol=imap folders="$sel" folder_layout=maildir++ \
    deliver="maildir:$md" state_file="$T/state-maildir++.db"
mh_run
t_rc 0 "maildir++: run with a late message exits 0"
t_match "$OUT" "^work: 1 new \(.*\) archived to .*, 0 deleted, $((n + 1)) kept on server\$" \
    "maildir++: summary says 1 new"
t_ok "maildir++: the late message is in .Lists.ops, nothing else changed" \
    check_imap_archive maildir++ "$md" "$T/exp" "${F[@]}"

# One mbox per folder.
mb=$T/mboxes
mh_config work protocol=imap folders="$sel" deliver="mboxdir:$mb" \
    state_file="$T/state-mboxdir.db"
mh_run
t_rc 0 "mboxdir: run exits 0"
t_ok "mboxdir: one mbox per folder (INBOX, Lists/dev, ...), byte for byte" \
    check_imap_archive mboxdir "$mb" "$T/exp" "${F[@]}"
t_ok "mboxdir: unselected Trash has no mbox" test ! -e "$mb/Trash"
before=$(archive_digest "$mb/INBOX")
mh_run
t_rc 0 "mboxdir: second run exits 0"
t_match "$OUT" "^work: 0 new \(0 B\)" "mboxdir: second summary says 0 new"
t_eq "$(archive_digest "$mb/INBOX")" "$before" "mboxdir: INBOX mbox unchanged"

# "%" stops at the separator: INBOX, Entwürfe and Trash, not the
# \Noselect "Lists" (which must not be selected) nor its children; all of
# it into one mbox.
mh_config work protocol=imap folders='{"%"}' deliver="mbox:$T/top.mbox" \
    state_file="$T/state-top.db"
mh_run
t_rc 0 "folders = {\"%\"}: run exits 0"
t_ok "folders = {\"%\"}: the mbox holds INBOX, Entwürfe and Trash, not Lists/*" \
    check_imap_archive mbox "$T/top.mbox" "$T/exp" INBOX "Entwürfe" Trash

# A name (no pattern) that does not exist, or cannot be selected: a
# configuration error before anything is fetched.
mh_config work protocol=imap folders='{"INBOX", "NoSuch"}' \
    deliver="maildir:$T/md-nosuch" state_file="$T/state-nosuch.db"
mh_run
t_rc 78 "a folder that does not exist: exit 78"
t_match "$ERR" '^mailhaul: work: .*folder "?NoSuch"? does not exist on the server' \
    "a folder that does not exist: the error names it"
t_ok "a folder that does not exist: nothing archived" archive_empty "$T/md-nosuch"
mh_config work protocol=imap folders='{"Lists"}' \
    deliver="maildir:$T/md-noselect" state_file="$T/state-noselect.db"
mh_run
t_rc 78 "a \\Noselect folder by name: exit 78"
t_match "$ERR" '^mailhaul: work: .*folder "?Lists"? cannot be selected' \
    "a \\Noselect folder by name: the error says so"

imap_expected "$T/exp.after" "$T/meta.after"
t_eq "$(comm -23 <(sort "$T/meta.before") <(sort "$T/meta.after"))" "" \
    "the server still holds every seeded message, flags unchanged (no \\Seen added)"
t_eq "$(comm -13 <(sort "$T/meta.before") <(sort "$T/meta.after") | cut -f1)" \
    "Lists/ops" "the only other message on the server is the late one"

t_done
