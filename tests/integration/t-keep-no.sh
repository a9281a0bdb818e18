#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# keep = no: everything archived, then deleted from the server; a message
# that arrives later is fetched and deleted by the next run.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded
n=$N

md=$T/Maildir
mdre=$(re_escape "maildir:$md")
mh_config work keep=no deliver="maildir:$md"
mh_run
t_rc 0 "first run exits 0"
t_ok "Maildir holds every message exactly once" \
    check_archive maildir "$md" "$T/exp"
t_eq "$(dc_server_count)" 0 "the server is empty afterwards"
t_match "$OUT" "^work: $n new \(.*\) archived to $mdre, $n deleted, 0 kept on server\$" \
    "summary says $n new, $n deleted"

mh_mkseed --prefix late- --only plain-02 "$T/seed2"
dc_seed "$T"/seed2/*
expected_from_server "$T/exp" >/dev/null
t_eq "$(find "$T/exp" -type f | wc -l)" "$((n + 1))" "oracle now expects $((n + 1)) messages"
mh_run
t_rc 0 "second run exits 0"
t_ok "Maildir holds all $((n + 1)) messages exactly once" \
    check_archive maildir "$md" "$T/exp"
t_eq "$(dc_server_count)" 0 "the late message is deleted too"
t_match "$OUT" "^work: 1 new \(.*\) archived to $mdre, 1 deleted, 0 kept on server\$" \
    "summary says 1 new, 1 deleted"

mh_run
t_rc 0 "third run (empty server) exits 0"
t_match "$OUT" "^work: 0 new \(0 B\) archived to $mdre, 0 deleted, 0 kept on server\$" \
    "summary says 0 new"
t_ok "Maildir unchanged: still $((n + 1)) messages exactly once" \
    check_archive maildir "$md" "$T/exp"

t_done
