#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# --check-config: exit 0, one line per account in config order, and no
# connection, no archive.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed --only plain-01 "$T/seed"
dc_seed "$T"/seed/*

mh_config work tls=implicit port="$POP3S_PORT" deliver="maildir:$T/Maildir" keep=yes \
    -- home tls=starttls port="$POP3_PORT" deliver="mbox:$T/mbox" keep=no
dc_log_mark
mh_run --check-config
t_rc 0 "--check-config exits 0"
want="work: pop3 127.0.0.1:$POP3S_PORT tls=implicit deliver=maildir:$T/Maildir keep=yes
home: pop3 127.0.0.1:$POP3_PORT tls=starttls deliver=mbox:$T/mbox keep=no"
t_eq "$OUT" "$want" "one line per account on stdout"
t_ok "no connection made" dc_no_connection
t_ok "no Maildir created" test ! -e "$T/Maildir"
t_ok "no mbox created" test ! -e "$T/mbox"

# A third account with tls = none.
mh_config plain tls=none port="$POP3_PORT" tls_ca_file= deliver="maildir:$T/Maildir"
mh_run --check-config
t_rc 0 "--check-config (tls=none) exits 0"
t_eq "$OUT" "plain: pop3 127.0.0.1:$POP3_PORT tls=none deliver=maildir:$T/Maildir keep=yes" \
    "tls=none account line"

# A bad config is reported by --check-config too.
printf '%s\n' '# SPDX-License-Identifier: ISC' 'account "x" {' '  nonsense = 1' '}' >"$MH_CONF"
chmod 600 "$MH_CONF"
mh_run --check-config
t_rc 78 "--check-config on a bad config exits 78"
t_match "$ERR" "^mailhaul: $(re_escape "$MH_CONF"):3: " "and names FILE:LINE"
t_ok "still no connection made" dc_no_connection

t_done
