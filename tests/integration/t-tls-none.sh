#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# tls = none on the plain POP3 port: works, and really is plaintext; -vv
# traces the protocol without showing the password.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded
n=$N

md=$T/Maildir
mh_config plain tls=none port="$POP3_PORT" tls_ca_file= deliver="maildir:$md"
dc_log_mark
mh_run
t_rc 0 "run exits 0"
t_ok "Maildir holds every message exactly once, byte for byte" \
    check_archive maildir "$md" "$T/exp"
t_eq "$(dc_server_count)" "$n" "every message is still on the server"
t_match "$OUT" \
    "^plain: $n new \(.*\) archived to $(re_escape "maildir:$md"), 0 deleted, $n kept on server\$" \
    "summary line on stdout"
t_ok "dovecot saw a plaintext login on the plain port" \
    dc_log_has "pop3-login: Info: Login: user=<alice>, .*lport=$POP3_PORT, .*, secured, "

# -vv: a protocol trace on stderr, with the credentials masked.  A fresh
# server with a password that no message body contains.
dc_restart || exit 1
sed -i "s/^alice:{PLAIN}[^:]*:/alice:{PLAIN}hunter2-secret:/" "$DC_DIR/passwd"
mh_config plain tls=none port="$POP3_PORT" tls_ca_file= deliver="maildir:$md" \
    password=hunter2-secret
rm -f "$T"/state.db*
rm -rf "$md"
mh_run -vv
t_match "$ERR" "^mailhaul: plain: > RETR 1" "-vv traces the commands"
t_match "$ERR" "^mailhaul: plain: > \\*\\*\\*\\*\$" "-vv masks the credentials"
t_nomatch "$ERR" "hunter2-secret" "-vv never shows the password"

t_done
