#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# IMAP keep_flags = yes: a message's server flags become its Maildir info
# (\Draft D, \Flagged F, \Answered R, \Seen S, in ASCII order) and put it
# in cur/; a message without any of them goes to new/.  The server's flags
# are unchanged afterwards (BODY.PEEK: no \Seen added).  keep_flags = no
# puts every message in new/.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed "$T/seed"
s=$T/seed
dc_imap_seed INBOX "$s/plain-01" "$s/nul-byte"
dc_imap_seed --flags S INBOX "$s/plain-02"
dc_imap_seed --flags F INBOX "$s/plain-03"
dc_imap_seed --flags R INBOX "$s/plain-04"
dc_imap_seed --flags D INBOX "$s/plain-05"
dc_imap_seed --flags DFRS INBOX "$s/plain-06"
dc_imap_seed --flags RS INBOX "$s/from-lines"
dc_imap_seed --flags FS INBOX "$s/dots"
imap_expected "$T/exp" "$T/exp.meta"
t_eq "$(cut -f4 "$T/exp.meta" | LC_ALL=C sort | tr '\n' ',')" \
    ',,\Answered,\Answered \Draft \Flagged \Seen,\Answered \Seen,\Draft,\Flagged,\Flagged \Seen,\Seen,' \
    "the oracle sees the seeded flags"

md=$T/Maildir
mh_config work protocol=imap keep_flags=yes deliver="maildir:$md"
mh_run
t_rc 0 "keep_flags = yes: run exits 0"
t_ok "every message archived once, byte for byte" \
    check_archive maildir "$md" "$T/exp/INBOX"
t_ok "each message is in new/ or cur/NAME:2,FLAGS as its server flags say" \
    imap_check_flags "$md" "$T/exp" "$T/exp.meta"
t_eq "$(find "$md/new" -type f | wc -l)" 2 "the two unflagged messages are in new/"
t_eq "$(find "$md/cur" -type f -name '*:2,*' | sed 's/.*:2,//' | sort | tr '\n' ' ')" \
    "D DFRS F FS R RS S " "cur/ holds the flagged ones with :2,LETTERS in ASCII order"
t_ok "archived files keep their INTERNALDATE as mtime" \
    imap_check_mtime "$md" "$T/exp"
imap_expected "$T/exp.after" "$T/meta.after"
t_ok "the server's flags are unchanged (no \\Seen added)" \
    diff "$T/exp.meta" "$T/meta.after"

md2=$T/Maildir-noflags
mh_config work protocol=imap keep_flags=no deliver="maildir:$md2" \
    state_file="$T/state2.db"
mh_run
t_rc 0 "keep_flags = no: run exits 0"
t_ok "keep_flags = no: every message archived once" \
    check_archive maildir "$md2" "$T/exp/INBOX"
t_eq "$(find "$md2/new" -type f | wc -l)" 9 "keep_flags = no: every message in new/"
imap_expected "$T/exp.after2" "$T/meta.after2"
t_ok "the server's flags are still unchanged" diff "$T/exp.meta" "$T/meta.after2"

t_done
