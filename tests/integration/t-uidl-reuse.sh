#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A POP3 server that reuses UIDLs (dovecot with pop3_uidl_format = %u):
# messages are archived, then the mailbox is replaced and dovecot's index
# wiped, so that new messages come back under the old UIDLs, some of them
# with the old sizes too.  A poll with delete_after long past archives
# every new message and deletes none of them before it is archived.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

mh_faketime_init

uidls() {
    "$MH_PYTHON" - "$POP3_PORT" "$MAIL_USER" "$MAIL_PASS" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
print(" ".join(l.split()[1].decode() for l in p.uidl()[1]))
p.quit()
PY
}

export DC_EXTRA_CONF='protocol pop3 {
  pop3_uidl_format = %u
}'
dc_start || exit 1
md=$T/Maildir
for i in 1 2 3 4 5 6; do mh_mkmsg "$T/old" "old-$i" 400; done
dc_seed "$T"/old/*
t_eq "$(uidls)" "1 2 3 4 5 6" "dovecot hands out UIDLs 1..6"
conf() {
    mh_config reuse tls=none port="$POP3_PORT" tls_ca_file= \
        deliver="maildir:$md" delete_after=1d
}
conf
MH_FAKETIME=$(mh_at 0) mh_run
t_rc 0 "day 0: the old messages are archived"
t_eq "$(mh_subjects "$md/new" "$md/cur")" "old-1 old-2 old-3 old-4 old-5 old-6" "archive holds the 6 old ones"

# The mailbox is replaced; dovecot starts counting UIDs at 1 again.
dc_stop
rm -f "$MAILDIR_SRV"/cur/* "$MAILDIR_SRV"/new/* "$MAILDIR_SRV"/dovecot-uidlist \
    "$MAILDIR_SRV"/dovecot.index* "$MAILDIR_SRV"/dovecot-uidvalidity*
# new-1..new-3: same size as old-1..old-3 (other bytes); new-4..new-6
# another size.
for i in 1 2 3; do mh_mkmsg "$T/new" "new-$i" 400 y; done
for i in 4 5 6; do mh_mkmsg "$T/new" "new-$i" 900 y; done
dc_start || exit 1
dc_seed "$T"/new/*
conf
t_eq "$(uidls)" "1 2 3 4 5 6" "the new messages reuse UIDLs 1..6"
t_eq "$(stat -c %s "$T/new/new-1")" "$(stat -c %s "$T/old/old-1")" "new-1 has old-1's size"

MH_FAKETIME=$(mh_at 5) mh_run
t_rc 0 "day 5 (delete_after long past): exits 0"
t_eq "$(mh_subjects "$md/new" "$md/cur")" \
    "new-1 new-2 new-3 new-4 new-5 new-6 old-1 old-2 old-3 old-4 old-5 old-6" \
    "every new message is archived, the old ones once"
t_eq "$(mh_subjects "$MAILDIR_SRV/new" "$MAILDIR_SRV/cur")" \
    "new-1 new-2 new-3 new-4 new-5 new-6" "no new message was deleted (each is 0 days old)"
t_match "$ERR" "reuse: warning: the server reuses UIDL 1 for a different message: archiving it as new" \
    "a warning names a reused UIDL of the same size"
MH_FAKETIME=$(mh_at 7) mh_run
t_rc 0 "day 7: exits 0"
t_eq "$(mh_subjects "$MAILDIR_SRV/new" "$MAILDIR_SRV/cur")" "" \
    "day 7: the new messages, archived on day 5, are deleted"
t_eq "$(mh_subjects "$md/new" "$md/cur")" \
    "new-1 new-2 new-3 new-4 new-5 new-6 old-1 old-2 old-3 old-4 old-5 old-6" \
    "the archive holds all 12, each once"

t_done
