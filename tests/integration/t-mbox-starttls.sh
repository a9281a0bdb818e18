#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# POP3 with STLS on the plain port into an mboxrd file, keep = yes: the
# mbox is created 0600, holds every message exactly once (From_ lines
# quoted), the server keeps everything, a second run adds nothing, and a
# message that arrives later is appended without disturbing the others.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded
n=$N

mbox=$T/mbox
mh_config work tls=starttls port="$POP3_PORT" deliver="mbox:$mbox" keep=yes
umask 022
dc_log_mark
mh_run
t_rc 0 "first run exits 0"
t_ok "mbox holds every message exactly once, byte for byte" \
    check_archive mbox "$mbox" "$T/exp"
t_eq "$(stat -c %a "$mbox" 2>&1)" 600 "mbox created with mode 0600 (umask 022)"
t_eq "$(dc_server_count)" "$n" "every message is still on the server"
mbre=$(re_escape "mbox:$mbox")
t_match "$OUT" \
    "^work: $n new \([0-9.]+ (B|KB|MB)\) archived to $mbre, 0 deleted, $n kept on server\$" \
    "summary line on stdout"
t_ok "dovecot saw alice log in after STLS on the plain port" \
    dc_log_has "pop3-login: Info: Login: user=<alice>, .*lport=$POP3_PORT, .*, TLS, "
t_ok "no plaintext login on the plain port" \
    dc_log_lacks "Login: user=<alice>, .*lport=$POP3_PORT, .*, secured, "

before=$(archive_digest "$mbox")
mh_run
t_rc 0 "second run exits 0"
t_eq "$(archive_digest "$mbox")" "$before" "second run leaves the mbox unchanged"
t_match "$OUT" \
    "^work: 0 new \(0 B\) archived to $mbre, 0 deleted, $n kept on server\$" \
    "second summary says 0 new"

mh_mkseed --prefix late- --only plain-01 "$T/seed2"
dc_seed "$T"/seed2/*
expected_from_server "$T/exp" >/dev/null
size=$(stat -c %s "$mbox")
mh_run
t_rc 0 "third run (one new message) exits 0"
t_match "$OUT" "^work: 1 new \(.*\) archived to $mbre, 0 deleted, $((n + 1)) kept on server\$" \
    "third summary says 1 new"
t_eq "$(head -c "$size" "$mbox" | sha256sum | cut -d' ' -f1)" "$before" \
    "the earlier messages are untouched (append only)"
t_ok "mbox holds all $((n + 1)) messages exactly once" \
    check_archive mbox "$mbox" "$T/exp"
t_eq "$(stat -c %a "$mbox")" 600 "mbox mode is still 0600"

t_done
