#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Several accounts in one file: a failing account does not stop the others
# and the most serious failure decides the exit status; -a NAME polls only
# the named account.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed --count 3 --only plain-01,plain-02,plain-03,from-lines "$T/seed"
dc_seed "$T"/seed/*
n=$(dc_server_count)
expected_from_server "$T/exp" >/dev/null

mh_config good deliver="maildir:$T/A" \
    -- bad password=wrong deliver="mbox:$T/B"
mh_run
t_rc 77 "one account with a wrong password: exit 77"
t_match "$OUT" "^good: $n new \(.*\) archived to $(re_escape "maildir:$T/A"), 0 deleted, $n kept on server\$" \
    "the good account's summary is on stdout"
t_match "$ERR" '^mailhaul: bad: login failed: ' "the bad account's error is on stderr"
t_ok "the good account archived everything" check_archive maildir "$T/A" "$T/exp"
t_ok "the bad account archived nothing" archive_empty "$T/B"

mh_config one deliver="maildir:$T/C" -- two deliver="maildir:$T/D" \
    -- three deliver="maildir:$T/E"
mh_run -a two -a three
t_rc 0 "-a two -a three: exit 0"
t_ok "account two archived everything" check_archive maildir "$T/D" "$T/exp"
t_ok "account three archived everything" check_archive maildir "$T/E" "$T/exp"
t_ok "account one was not polled" archive_empty "$T/C"
t_nomatch "$OUT" '^one: ' "no summary for account one"
t_eq "$(n_lines "$OUT")" 2 "two summary lines"

dc_log_mark
mh_run -a nosuch
t_ok "-a nosuch: non-zero exit ($RC)" test "$RC" != 0
t_match "$ERR" 'nosuch' "-a nosuch: stderr names the unknown account"
t_ok "-a nosuch: no connection made" dc_no_connection

t_done
