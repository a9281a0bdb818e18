#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Real mail readers read mailhaul's archives: the standard seeds plus the
# extra hostile ones (a forged "Content-Length: 5", a Content-Length aimed
# at a From_ line inside the body; with the From_ lines, no final newline,
# NUL and 8-bit of the standard set) are fetched over POP3 into a Maildir
# and an mbox, and over IMAP into an mbox.  Each archive is read by
# python's mailbox module, the mboxes by "formail -s", and every archive by
# a second private dovecot whose mail_location is (a copy of) the archive,
# over IMAP.  Each reader must see exactly the expected messages, byte for
# byte (modulo what the reader itself documents changing), none split,
# merged, lost or doubled.
#
# Facts about the readers (checked with dovecot 2.3.19, procmail 3.24's
# formail, python 3.11; the tests below assert the correct reading):
#  * dovecot's mbox driver honours a Content-Length header when it points
#    at "\nFrom " + a valid From_ line (else it ignores it): a message whose
#    Content-Length spans the next message is served merged with it.  So is
#    formail -s.  python's mbox ignores Content-Length.  A forged value that
#    points into the body is harmless only because mailhaul quotes every
#    body "From " line: an unquoted From_ lookalike would be a message
#    boundary for all three readers.
#  * dovecot hides the mbox headers it uses itself (Content-Length, Status,
#    X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase), does not undo mboxrd
#    quoting (serves ">From "), sends NUL as 0x80 over IMAP, and rewrites
#    the mbox (X-IMAPbase, X-UID, Status) even for EXAMINE: it reads a copy.
#  * formail -s writes each message with its From_ line and the blank line
#    that follows it, and does not unquote.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

readers() {
    "$MH_PYTHON" "$MH_LIB_DIR/readers.py" "$@"
}

# ------------------------------------------------- the second dovecot
# A private IMAP-only dovecot of our own; each of its users (password
# "secret", uid 65534) has a mail_location of its own: one archive copy.

RD_DIR=$T/rd
RD_LOG=$T/rd.log

rd_pid() {
    cat "$RD_DIR/run/master.pid" 2>/dev/null
}

rd_stop() {
    local pid
    pid=$(rd_pid)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
        mh_pid_alive "$pid" || break
        sleep 0.05
    done
    mh_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    rm -f "$RD_DIR/run/master.pid"
    return 0
}
trap 'rd_stop; mh_cleanup' EXIT

# rd_start USER=MAIL_LOCATION...: starts it; sets RD_PORT (plain IMAP).
rd_start() {
    local u pid
    mkdir -p "$RD_DIR/home" || return 1
    : >"$RD_DIR/passwd"
    for u in "$@"; do
        mkdir -p "$RD_DIR/home/${u%%=*}"
        printf '%s:{PLAIN}secret:65534:65534::%s::userdb_mail=%s\n' \
            "${u%%=*}" "$RD_DIR/home/${u%%=*}" "${u#*=}" >>"$RD_DIR/passwd"
    done
    chown -R 65534:65534 "$RD_DIR/home"
    chmod 755 "$RD_DIR" "$RD_DIR/home"
    chmod 644 "$RD_DIR/passwd"
    touch "$RD_LOG"
    for _ in 1 2 3 4 5; do
        RD_PORT=$(mh_free_ports 1) || continue
        cat >"$T/rd.conf" <<EOF
# SPDX-License-Identifier: ISC
# Written by t-readers.sh: a second private dovecot that reads archives.
instance_name = mailhaul-readers-${T##*/}
base_dir = $RD_DIR/run
state_dir = $RD_DIR/state
log_path = $RD_LOG
info_log_path = $RD_LOG
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $RD_DIR/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $RD_DIR/passwd
}
service imap-login {
  inet_listener imap {
    port = $RD_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
        dovecot -c "$T/rd.conf" 2>>"$RD_LOG" || continue
        for _ in $(seq 1 100); do
            pid=$(rd_pid)
            if [ -n "$pid" ] && dc_listening "$RD_PORT" "$pid"; then
                return 0
            fi
            sleep 0.05
        done
        rd_stop
    done
    echo "rd_start: the second dovecot did not start; its log:" >&2
    tail -n 20 "$RD_LOG" >&2
    return 1
}

# rd_copy maildir|mbox ARCHIVE NAME: a copy of ARCHIVE under $T/rdmail/NAME
# that the mail uid owns; prints the mail_location that reads it.
rd_copy() {
    local d=$T/rdmail/$3
    mkdir -p "$d" || return 1
    if [ "$1" = maildir ]; then
        cp -a -- "$2/." "$d/" || return 1
        echo "maildir:$d"
    else
        cp -- "$2" "$d/inbox" || return 1
        echo "mbox:$d:INBOX=$d/inbox"
    fi
    chmod 755 "$T/rdmail"
    chown -R 65534:65534 "$d"
}

# formail_split MBOX DIR: formail -s writes each message to DIR/<number>.
formail_split() {
    rm -rf "$2" && mkdir -p "$2" || return 1
    # shellcheck disable=SC2016 # expanded by the sh that formail runs
    formail -s sh -c 'cat >"$0/$FILENO"' "$2" <"$1"
}

# ------------------------------------------------- archives to read

t_ok "formail is installed (Debian package procmail)" command -v formail

dc_start || exit 1
mh_mkseed --extra "$T/seed"
dc_seed "$T"/seed/*
N=$(find "$T/seed" -type f | wc -l)
expected_from_server "$T/exp" >/dev/null
t_eq "$(find "$T/exp" -type f | wc -l)" "$N" \
    "oracle sees the $N seeded messages (standard set + forged Content-Length)"
t_ok "the seeds include a forged Content-Length: 5" \
    grep -lx 'Content-Length: 5' -r "$T/exp"

md=$T/Maildir
mbox=$T/mbox
imbox=$T/imap.mbox
mh_config work tls=implicit port="$POP3S_PORT" deliver="maildir:$md" \
    state_file="$T/state-md.db"
mh_run
t_rc 0 "POP3 into a Maildir exits 0"
mh_config work tls=implicit port="$POP3S_PORT" deliver="mbox:$mbox" \
    state_file="$T/state-mbox.db"
mh_run
t_rc 0 "POP3 into an mbox exits 0"

# IMAP sends what POP3 cannot: a message without its final newline (an
# mbox writer adds one) and NUL as 0x80 (dovecot's substitution).
imap_expected "$T/iexp"
imap_mbox_expected "$T/iexp/INBOX" "$T/iexp.mbox"
t_eq "$(find "$T/iexp.mbox" -type f | wc -l)" "$N" \
    "the IMAP oracle sees the $N messages in INBOX"
mh_config work protocol=imap deliver="mbox:$imbox" state_file="$T/state-imap.db"
mh_run
t_rc 0 "IMAP into an mbox exits 0"

# mailhaul's own oracle first: if this fails, the readers' verdicts below
# say something about the archive, not about the readers.
t_ok "the Maildir holds the expected messages (archive.py)" \
    check_archive maildir "$md" "$T/exp"
t_ok "the POP3 mbox holds the expected messages (archive.py)" \
    check_archive mbox "$mbox" "$T/exp"
t_ok "the IMAP mbox holds the expected messages (archive.py)" \
    check_archive mbox "$imbox" "$T/iexp.mbox"
t_ok "the forged Content-Length is archived as it came" \
    grep -qx 'Content-Length: 5' "$mbox"

# ------------------------------------------------- python's mailbox

t_ok "python mailbox.Maildir reads exactly the $N messages, byte for byte" \
    readers pymaildir "$md" "$T/exp"
t_ok "python mailbox.mbox reads exactly the $N messages of the POP3 mbox" \
    readers pymbox "$mbox" "$T/exp"
t_ok "python mailbox.mbox reads exactly the $N messages of the IMAP mbox" \
    readers pymbox "$imbox" "$T/iexp.mbox"

# ------------------------------------------------- formail -s

formail_split "$mbox" "$T/fm-pop3"
t_eq "$(find "$T/fm-pop3" -type f | wc -l)" "$N" \
    "formail -s splits the POP3 mbox into exactly $N messages"
t_ok "formail -s: each message of the POP3 mbox byte for byte" \
    readers split "$T/fm-pop3" "$T/exp"
formail_split "$imbox" "$T/fm-imap"
t_eq "$(find "$T/fm-imap" -type f | wc -l)" "$N" \
    "formail -s splits the IMAP mbox into exactly $N messages"
t_ok "formail -s: each message of the IMAP mbox byte for byte" \
    readers split "$T/fm-imap" "$T/iexp.mbox"

# ------------------------------------------------- dovecot

if ! { loc_md=$(rd_copy maildir "$md" md) &&
    loc_mbox=$(rd_copy mbox "$mbox" mbox) &&
    loc_imbox=$(rd_copy mbox "$imbox" imbox); }; then
    t_result 1 "copy the archives for the second dovecot"
    t_done
fi
if ! rd_start "rmd=$loc_md" "rmbox=$loc_mbox" "rimbox=$loc_imbox"; then
    t_result 1 "the second dovecot starts"
    t_done
fi
t_ok "dovecot reading the Maildir serves exactly the $N messages" \
    readers imap "$RD_PORT" rmd secret "$T/exp" maildir
t_ok "dovecot reading the POP3 mbox serves exactly the $N messages" \
    readers imap "$RD_PORT" rmbox secret "$T/exp" mbox
t_ok "dovecot reading the IMAP mbox serves exactly the $N messages" \
    readers imap "$RD_PORT" rimbox secret "$T/iexp.mbox" mbox
t_nomatch "$(grep -v ' Info: ' "$RD_LOG")" . \
    "the second dovecot logged no error or warning"

t_done
