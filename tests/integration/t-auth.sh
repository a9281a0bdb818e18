#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A wrong password: exit 77, "mailhaul: NAME: login failed: <server text>",
# nothing archived, nothing deleted.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed "$T/seed"
dc_seed "$T"/seed/*
n=$(dc_server_count)
md=$T/Maildir

mh_config work deliver="maildir:$md" password=wrong keep=no
dc_log_mark
mh_run
t_rc 77 "wrong password: exit 77"
t_eq "$(n_lines "$ERR")" 1 "one line on stderr" || mh_show_output
# dovecot answers "-ERR [AUTH] Authentication failed."
t_match "$ERR" '^mailhaul: work: login failed: .*Authentication failed' \
    "stderr says login failed, with the server's text"
t_ok "dovecot logged the failed attempt for alice" \
    dc_log_has "pop3-login: .*auth failed.*user=<alice>"
t_ok "nothing archived" archive_empty "$md"
t_eq "$(dc_server_count)" "$n" "nothing deleted from the server (keep = no)"

t_done
