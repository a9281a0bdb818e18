#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# IMAP with tls = starttls: against dovecot's plain port it works (login
# only after TLS, credentials masked in the -vv trace); a certificate for
# another name is refused (77) before any login, with implicit TLS and after
# STARTTLS.  Against the fake server (tests/fake/imapfake.py): STARTTLS
# missing, refused (NO, BAD), answered with an injected line in the same
# segment, or a PREAUTH greeting before TLS: exit 77, one clear error line,
# no credential byte reaches the server, nothing archived.  Message literals
# cut off, short or NIL: exit 75, that message not archived (nor half of
# it), and never flagged, expunged or moved.  A server that goes silent:
# exit 75 after the timeout.  A server with LOGIN only: it receives exactly
# the configured password (quote, backslash, space, UTF-8), which -vv masks.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

# --- dovecot, STARTTLS on the plain port
dc_start || exit 1
mh_mkseed --only plain-01,from-lines,dots "$T/seed"
dc_imap_seed INBOX "$T"/seed/*
imap_expected "$T/exp" >/dev/null
md=$T/Maildir
mh_config work protocol=imap tls=starttls port="$IMAP_PORT" deliver="maildir:$md"
dc_log_mark
mh_run -vv
t_rc 0 "dovecot, STARTTLS: run exits 0"
t_ok "dovecot, STARTTLS: every message archived once, byte for byte" \
    check_archive maildir "$md" "$T/exp/INBOX"
t_match "$OUT" "^work: 3 new \(.*\) archived to .*, 0 deleted, 3 kept on server\$" \
    "dovecot, STARTTLS: summary line"
t_ok "dovecot saw alice log in over TLS on the plain IMAP port" \
    dc_log_has "imap-login: Info: Login: user=<alice>, .*lport=$IMAP_PORT, .*, TLS"
t_ok "no plaintext login on the plain port" \
    dc_log_lacks "Login: user=<alice>, .*lport=$IMAP_PORT, .*, secured"
t_match "$ERR" "^mailhaul: work: > [^ ]+ STARTTLS" "the -vv trace shows STARTTLS"
t_match "$ERR" "^mailhaul: work: > [^ ]+ (LOGIN|AUTHENTICATE) " "the -vv trace shows the login"
t_match "$ERR" "^mailhaul: work: > .*\*\*\*\*" "the -vv trace shows the credentials masked"
t_nomatch "$ERR" "secret|c2VjcmV0|AGFsaWNlAHNlY3JldA" "the -vv trace never shows the password"

# --- a certificate for another name: refused before any credential, both
# with implicit TLS and after STARTTLS
dc_restart --cert wronghost || exit 1
for tls in implicit starttls; do
    if [ "$tls" = implicit ]; then port=$IMAPS_PORT; else port=$IMAP_PORT; fi
    mh_config work protocol=imap tls="$tls" port="$port" deliver="maildir:$T/md-wrong-$tls"
    dc_log_mark
    mh_run
    t_rc 77 "wrong host name, tls = $tls: exit 77"
    t_eq "$(n_lines "$ERR")" 1 "wrong host name, tls = $tls: one line on stderr"
    t_match "$ERR" "^mailhaul: work: TLS: .*refused: (IP address|host name) mismatch" \
        "wrong host name, tls = $tls: the line says why"
    t_ok "wrong host name, tls = $tls: no credential tried" dc_no_login_attempt alice
    t_ok "wrong host name, tls = $tls: nothing archived" archive_empty "$T/md-wrong-$tls"
done
dc_stop

# --- the fake server
CA_FILE=$MH_CERT_DIR/ca.pem
mkdir -p "$T/fexp" "$T/fexp1"
"$MH_PYTHON" - "$MH_LIB_DIR/../fake" "$T/fexp" "$T/fexp1" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import imapfake
for d, msgs in ((sys.argv[2], (1, 2)), (sys.argv[3], (1,))):
    for n in msgs:
        with open("%s/%d" % (d, n), "wb") as f:
            f.write(imapfake.MSGS[n].replace(b"\r\n", b"\n"))
PY

# no_credentials: the fake received neither user name nor password, in
# the clear, in a literal or in SASL PLAIN (base64), nor a LOGIN at all.
no_credentials() {
    if grep -aiE 'alice|secret|YWxpY2|AGFsaWNl|c2VjcmV0|^[^ ]+ (LOGIN|AUTHENTICATE)' "$T/fake.log"; then
        echo "the fake server received the lines above"
        return 1
    fi
}

# The control case: the fake's STARTTLS works, mailhaul archives both.
fake_imap_start ok || exit 1
mh_config work protocol=imap tls=starttls port="$FAKE_PORT" \
    deliver="maildir:$T/md-ok" timeout=5
mh_run
fake_imap_stop
t_rc 0 "fake ok: run exits 0"
t_ok "fake ok: both messages archived, byte for byte" \
    check_archive maildir "$T/md-ok" "$T/fexp"
t_ok "fake ok: the login came after the TLS handshake" \
    grep -aq 'imapfake: TLS established' "$T/fake.log"

# LOGIN only (no AUTH=PLAIN), with a password that needs quoting: the
# fake decodes exactly the configured credentials; -vv masks them.
pw='p"a\ss wörd'
fake_imap_start login-only || exit 1
mh_config work protocol=imap tls=starttls port="$FAKE_PORT" password="$pw" \
    deliver="maildir:$T/md-login" timeout=5 state_file="$T/state-login.db"
mh_run -vv
fake_imap_stop
t_rc 0 "LOGIN: run exits 0"
t_ok "LOGIN: both messages archived" check_archive maildir "$T/md-login" "$T/fexp"
t_ok "LOGIN: the server decoded exactly the configured user and password" \
    grep -aqxF "[imapfake: LOGIN user=<alice> pass=<$pw>]" "$T/fake.log"
t_match "$ERR" "^mailhaul: work: > .*\*\*\*\*" "LOGIN: the -vv trace masks the credentials"
t_nomatch "$ERR" "wörd|a\\\\ss" "LOGIN: the -vv trace never shows the password"

declare -A why=(
    [no-starttls]="server does not offer STARTTLS"
    [starttls-refused]="server refused STARTTLS: not today"
    [starttls-bad]="server refused STARTTLS: not today"
    [starttls-inject]="server sent data before the TLS handshake"
    [preauth]="PREAUTH"
)
for sc in no-starttls starttls-refused starttls-bad starttls-inject preauth; do
    fake_imap_start "$sc" || exit 1
    mh_config work protocol=imap tls=starttls port="$FAKE_PORT" \
        deliver="maildir:$T/md-$sc" timeout=5 state_file="$T/state-$sc.db"
    mh_run
    fake_imap_stop
    t_rc 77 "$sc: exit 77"
    t_eq "$(n_lines "$ERR")" 1 "$sc: one line on stderr"
    t_match "$ERR" "^mailhaul: work: .*${why[$sc]}" "$sc: the line names the account and the cause"
    t_ok "$sc: no credential byte reached the server" no_credentials
    t_fails "$sc: no mailbox command reached the server" \
        grep -aiE '^[^ ]+ (SELECT|EXAMINE|STATUS|(UID )?FETCH)' "$T/fake.log"
    t_ok "$sc: nothing archived" archive_empty "$T/md-$sc"
done

# uid2_untouched: no STORE, EXPUNGE or MOVE command named UID 2.
uid2_untouched() {
    "$MH_PYTHON" - "$T/fake.log" <<'PY'
import re, sys
bad = []
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    m = re.match(rb"^\S+ UID (STORE|EXPUNGE|MOVE) ([0-9:,*]+)", line, re.I)
    if not m:
        continue
    for part in m.group(2).split(b","):
        ends = [10 ** 9 if x == b"*" else int(x) for x in part.split(b":")]
        if min(ends) <= 2 <= max(ends):
            bad.append(line)
if bad:
    print("commands that touch UID 2:", *bad, sep="\n  ")
    sys.exit(1)
PY
}

declare -A cause=(
    [cut-mid-literal]=".*connection closed by server"
    [short-literal]=".*(cannot be parsed|timeout)"
    [nil-body]=".*message 2 .*(NIL|no body)"
)
for sc in cut-mid-literal short-literal nil-body; do
    fake_imap_start "$sc" || exit 1
    mh_config work protocol=imap tls=starttls port="$FAKE_PORT" keep=no \
        deliver="maildir:$T/md-$sc" timeout=3 state_file="$T/state-$sc.db"
    start=$(date +%s)
    mh_run
    fake_imap_stop
    t_rc 75 "$sc: exit 75"
    t_lt $(($(date +%s) - start)) 8 "$sc: no hang"
    t_eq "$(n_lines "$ERR")" 1 "$sc: one line on stderr"
    t_match "$ERR" "^mailhaul: work: ${cause[$sc]}" "$sc: the error names the account and the cause"
    if [ "$(archive_count maildir "$T/md-$sc" 2>/dev/null)" = 1 ]; then
        t_ok "$sc: only UID 1 is archived, byte for byte" \
            check_archive maildir "$T/md-$sc" "$T/fexp1"
    else
        t_ok "$sc: nothing archived" archive_empty "$T/md-$sc"
    fi
    t_ok "$sc: no partial file in tmp/" \
        test -z "$(find "$T/md-$sc/tmp" -type f 2>/dev/null)"
    t_ok "$sc: UID 2 never flagged, expunged or moved" uid2_untouched
done

# --- a server that greets, then says nothing: the timeout ends it
fake_imap_start silent || exit 1
mh_config work protocol=imap tls=starttls port="$FAKE_PORT" timeout=2 \
    deliver="maildir:$T/md-silent" state_file="$T/state-silent.db"
start=$(date +%s)
mh_run
fake_imap_stop
t_rc 75 "silent server: exit 75"
t_lt $(($(date +%s) - start)) 8 "silent server: gives up after the timeout"
t_match "$ERR" "^mailhaul: work: .*timeout after 2 s" "silent server: the error says timeout"
t_ok "silent server: no credential byte reached the server" no_credentials

t_done
