#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# UIDVALIDITY changes on the server (dovecot's UID lists and indexes
# rebuilt): the messages already archived come back with new UIDs.  The
# poll that sees the change warns, naming each folder, archives no
# duplicate and deletes nothing even with keep = no; the poll after that
# deletes (keep = no) and the archive still holds each message once.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

# hashes DIR...: the sorted SHA-256 of every file under the DIRs.
hashes() {
    find "$@" -type f -print0 | xargs -0r sha256sum | cut -d' ' -f1 | sort
}

dc_imap_start_seeded
n=$N
F=("${IMAP_SEED_FOLDERS[@]}")
sel=$IMAP_SEED_SELECT

md=$T/Maildir
mdre=$(re_escape "maildir:$md")
mh_config work protocol=imap folders="$sel" keep=yes deliver="maildir:$md"
mh_run
t_rc 0 "first run (keep = yes) exits 0"
t_ok "every message archived once" check_imap_archive flat "$md" "$T/exp" "${F[@]}"

declare -A uv
for f in "${F[@]}"; do uv[$f]=$(imap_oracle uidvalidity "$f"); done
# Not under t_ok: that would run it in a subshell, losing the new ports.
dc_uidvalidity_reset
t_eq "$?" 0 "UIDVALIDITY reset on the server (dovecot restarted)"
changed=0
for f in "${F[@]}"; do
    new=$(imap_oracle uidvalidity "$f")
    case $new in
    "" | *[!0-9]*) ;;
    "${uv[$f]}") ;;
    *) changed=$((changed + 1)) ;;
    esac
done
t_eq "$changed" "${#F[@]}" "the UIDVALIDITY of every selected folder changed"
imap_expected "$T/exp.new" "$T/exp.new.meta"
t_eq "$(hashes "$T/exp.new")" "$(hashes "$T/exp")" "the server holds the same messages"

# New ports: write the configuration again, now with keep = no.
mh_config work protocol=imap folders="$sel" keep=no deliver="maildir:$md"
before=$(archive_digest "$md")
mh_run
t_rc 0 "poll after the UIDVALIDITY change exits 0"
t_eq "$(archive_count maildir "$md")" "$n" "no duplicates: still $n messages"
t_eq "$(archive_digest "$md")" "$before" "the archive is unchanged"
t_match "$OUT" "^work: 0 new \(0 B\) archived to $mdre, 0 deleted, $n kept on server\$" \
    "summary: 0 new, 0 deleted, $n kept"
lerr=$(printf '%s\n' "$ERR" | tr '[:upper:]' '[:lower:]')
for f in "${F[@]}"; do
    fre=$(re_escape "$f" | tr '[:upper:]' '[:lower:]')
    t_match "$lerr" "^mailhaul: work: (.*uidvalidity.*$fre|.*$fre.*uidvalidity)" \
        "a warning on stderr names $f and the UIDVALIDITY change"
done
t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
    "Entwürfe:2,INBOX:$N_INBOX,Lists/dev:3,Lists/ops:2,Trash:0," \
    "nothing deleted on the server in that poll"

mh_run
t_rc 0 "next poll (keep = no) exits 0"
t_match "$OUT" "^work: 0 new \(0 B\) archived to $mdre, $n deleted, 0 kept on server\$" \
    "summary: 0 new, $n deleted"
t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
    "Entwürfe:0,INBOX:0,Lists/dev:0,Lists/ops:0,Trash:0," \
    "the server's selected folders are empty now"
t_ok "the archive still holds every message exactly once" \
    check_imap_archive flat "$md" "$T/exp" "${F[@]}"
t_eq "$(n_lines "$ERR")" 0 "no warning on this poll"

t_done
