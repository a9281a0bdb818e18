#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A 10 MB message is streamed: archived byte for byte into a Maildir and an
# mbox, and the peak RSS of the run stays within 5 MB of a run that fetched
# only small messages (so the message is never held in memory whole).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed "$T/seed"
dc_seed "$T"/seed/*
expected_from_server "$T/exp" >/dev/null

md=$T/Maildir
mh_config work deliver="maildir:$md"
MH_TIME=1 mh_run
small=$RSS
t_rc 0 "run with small messages exits 0"
t_match "$small" '^[0-9]+$' "peak RSS measured for the small run (${small:-?} KB)"
t_ok "Maildir holds the small messages" check_archive maildir "$md" "$T/exp"

mh_mkseed --big 10 "$T/big"
dc_seed "$T"/big/*
expected_from_server "$T/exp" >/dev/null
t_eq "$(stat -c %s "$T/exp"/* | sort -n | tail -n 1)" "$(stat -c %s "$T"/big/*)" \
    "oracle got the 10 MB message"
MH_TIME=1 mh_run
big=$RSS
t_rc 0 "run with the 10 MB message exits 0"
t_match "$OUT" "^work: 1 new \(" "summary says 1 new"
t_ok "Maildir holds every message, the 10 MB one byte for byte" \
    check_archive maildir "$md" "$T/exp"
t_lt "${big:-999999999}" "$(( ${small:-0} + 5120 ))" \
    "peak RSS ${big:-?} KB < small run ${small:-?} KB + 5 MB"

# The same into an mbox, from scratch (new state file): small + big.
mh_config work deliver="mbox:$T/mbox" state_file="$T/state2.db"
MH_TIME=1 mh_run
t_rc 0 "mbox run with every message exits 0"
t_ok "mbox holds every message, the 10 MB one byte for byte" \
    check_archive mbox "$T/mbox" "$T/exp"
t_lt "${RSS:-999999999}" "$(( ${small:-0} + 5120 ))" \
    "mbox run peak RSS ${RSS:-?} KB < small run ${small:-?} KB + 5 MB"

t_done
