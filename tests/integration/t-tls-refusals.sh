#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Certificates mailhaul must refuse before sending any credential: a
# certificate for another host, one from a CA it does not trust (implicit
# TLS and STLS), and a pinned fingerprint that does not match.  Each: exit
# 77, one stderr line naming the account and the certificate problem, no
# login attempt in dovecot's log, nothing archived.  The right pin works.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

mh_mkseed "$T/seed"
md=$T/Maildir
n=0

# refused DESC CERT implicit|starttls REGEX [key=value...]: one case, with
# dovecot serving CERT (restarted on new ports when it served another).
refused() {
    local desc=$1 cert=$2 tls=$3 re=$4 port
    shift 4
    if [ "${DC_CERT:-}" != "$cert" ]; then
        dc_restart --cert "$cert" || exit 1
    fi
    if [ "$n" = 0 ]; then
        dc_seed "$T"/seed/*
        n=$(dc_server_count)
    fi
    port=$POP3S_PORT
    [ "$tls" = starttls ] && port=$POP3_PORT
    mh_config work deliver="maildir:$md" tls="$tls" port="$port" "$@"
    dc_log_mark
    mh_run
    t_rc 77 "$desc: exit 77"
    t_eq "$(n_lines "$ERR")" 1 "$desc: one line on stderr" || mh_show_output
    t_match "$ERR" "^mailhaul: work: .*$re" "$desc: the line names the account and the problem"
    t_ok "$desc: mailhaul did connect (dovecot logged it)" \
        dc_log_has "pop3-login: .*Disconnected.*no auth attempts.*lport=$port, "
    t_ok "$desc: no login attempt for alice" dc_no_login_attempt alice
    t_ok "$desc: nothing archived" archive_empty "$md"
    t_eq "$(dc_server_count)" "$n" "$desc: the server still has every message"
}

CERT_RE='[Cc]ertificate'
refused "wrong host" wronghost implicit "$CERT_RE"
refused "wrong host over STLS" wronghost starttls "$CERT_RE"
refused "untrusted CA" untrusted implicit "$CERT_RE"
refused "untrusted CA over STLS" untrusted starttls "$CERT_RE"
refused "wrong pin" good implicit '([Ff]ingerprint|pin)' \
    tls_fingerprint="sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

# The right pin is accepted.
expected_from_server "$T/exp" >/dev/null
mh_config work deliver="maildir:$md" port="$POP3S_PORT" tls_fingerprint="$SERVER_PIN"
mh_run
t_rc 0 "right pin ($SERVER_PIN): exit 0"
t_ok "right pin: Maildir holds every message exactly once" \
    check_archive maildir "$md" "$T/exp"

t_done
