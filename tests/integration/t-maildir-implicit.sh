#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# POP3 over implicit TLS (POP3S) into a Maildir, keep = yes: every message
# archived byte for byte exactly once, nothing removed from the server, and
# a second run archives nothing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded
n=$N

md=$T/Maildir
mh_config work tls=implicit port="$POP3S_PORT" deliver="maildir:$md" keep=yes
dc_log_mark
mh_run
t_rc 0 "first run exits 0"
t_ok "Maildir holds every message exactly once, byte for byte" \
    check_archive maildir "$md" "$T/exp"
t_eq "$(find "$md/cur" -type f 2>/dev/null | wc -l)" 0 \
    "messages are delivered to new/, none to cur/"
t_eq "$(dc_server_count)" "$n" "every message is still on the server"
mdre=$(re_escape "maildir:$md")
t_match "$OUT" \
    "^work: $n new \([0-9.]+ (B|KB|MB)\) archived to $mdre, 0 deleted, $n kept on server\$" \
    "summary line on stdout"
t_eq "$(n_lines "$OUT")" 1 "stdout is the one summary line"
t_ok "dovecot saw alice log in over TLS on the POP3S port" \
    dc_log_has "pop3-login: Info: Login: user=<alice>, .*lport=$POP3S_PORT, .*, TLS, "
t_ok "the state file was created" test -s "$T/state.db"

before=$(archive_digest "$md")
dc_log_mark
mh_run
t_rc 0 "second run exits 0"
t_eq "$(archive_digest "$md")" "$before" "second run leaves the archive unchanged"
t_match "$OUT" \
    "^work: 0 new \(0 B\) archived to $mdre, 0 deleted, $n kept on server\$" \
    "second summary says 0 new"
t_eq "$(dc_server_count)" "$n" "every message is still on the server"
t_ok "Maildir still holds every message exactly once" \
    check_archive maildir "$md" "$T/exp"

t_done
