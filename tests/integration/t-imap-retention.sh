#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Retention on IMAP, with the clock moved by libfaketime: delete_after
# removes exactly the messages past their age from each folder (UID
# EXPUNGE of those only) although keep = yes; a poll with nothing due and
# nothing new changes nothing; max_server_size offloads a folder.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

mh_faketime_init
poll_at() { # DAYS HOURS [ARGS...]
    local when
    when=$(mh_at "$1" "$2")
    shift 2
    MH_FAKETIME=$when mh_run "$@"
}

# server FOLDER: the Subjects left in FOLDER on the server, sorted.
server() {
    local dir
    dir=$(dc_imap_dir "$1")
    mh_subjects "$dir/cur" "$dir/new"
}

archived() {
    mh_subjects "$md/cur" "$md/new"
}

dc_start || exit 1
md=$T/Maildir
imap=(protocol=imap tls=none port="$IMAP_PORT" tls_ca_file=
    folders='{"INBOX", "Lists/dev"}' deliver="maildir:$md")
mh_config imr "${imap[@]}" delete_after=5d
imap_oracle create Lists/dev || exit 1

for n in a1 a2 a3; do mh_mkmsg "$T/s0" "$n" 2000 z; done
dc_imap_seed INBOX "$T"/s0/*
poll_at 0 0
t_rc 0 "day 0: exits 0"
for n in b1 b2; do mh_mkmsg "$T/s2" "$n" 2000 z; done
for n in d1 d2; do mh_mkmsg "$T/s2dev" "$n" 2000 z; done
dc_imap_seed INBOX "$T"/s2/*
dc_imap_seed Lists/dev "$T"/s2dev/*
poll_at 2 0
t_rc 0 "day 2: exits 0"
t_eq "$(archived)" "a1 a2 a3 b1 b2 d1 d2" "day 2: all 7 archived"

poll_at 5 1
t_rc 0 "day 5: exits 0"
t_eq "$(server INBOX)" "b1 b2" "day 5: a1-a3 (5 days old) deleted from INBOX"
t_eq "$(server Lists/dev)" "d1 d2" "day 5: Lists/dev untouched"
t_match "$OUT" "^imr: 0 new .*, 3 deleted, 4 kept on server$" "day 5 summary"

poll_at 6 0 -vv
t_rc 0 "day 6: exits 0"
t_eq "$(server INBOX) / $(server Lists/dev)" "b1 b2 / d1 d2" "day 6: nothing due, nothing deleted"
t_nomatch "$ERR" "(UID FETCH|UID SEARCH|UID STORE)" "day 6: no message-level command (the folders are unchanged and nothing is due)"

poll_at 6 0 --dry-run
t_match "$OUT" '^imr: folder "Lists/dev": unchanged since the last poll: nothing to fetch or delete$' \
    "day 6 dry run: an unchanged folder with nothing due says so"

poll_at 7 1 --dry-run
t_match "$OUT" '^imr: folder "INBOX": would delete [0-9]+ \([0-9]+ bytes\): delete_after$' \
    "day 7 dry run: names the folder and the rule"
t_match "$OUT" '^imr: folder "Lists/dev": would fetch 0 \(0 B\), would delete 2, 0 too large, 0 deferred$' \
    "day 7 dry run: the folder's totals"

poll_at 7 1
t_rc 0 "day 7: exits 0"
t_eq "$(server INBOX) / $(server Lists/dev)" " / " "day 7: both folders emptied"
t_eq "$(archived)" "a1 a2 a3 b1 b2 d1 d2" "the archive holds each message once"

# max_server_size: 6 messages of about 2 KB, room for 2.
for n in o1 o2 o3 o4 o5 o6; do mh_mkmsg "$T/so" "$n" 2000 z; done
dc_imap_seed Lists/dev "$T"/so/*
mh_config imr "${imap[@]}" max_server_size=5K
poll_at 8 0
t_rc 0 "max_server_size: exits 0"
t_eq "$(server Lists/dev)" "o5 o6" "max_server_size: the 4 oldest deleted, 2 newest left"
t_eq "$(archived)" "a1 a2 a3 b1 b2 d1 d2 o1 o2 o3 o4 o5 o6" "max_server_size: all archived first"

t_done
