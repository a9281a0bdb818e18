#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# deliver = "mda:COMMAND": every message piped into a delivery program of
# our own (a script storing each message as one file of a Maildir).  Exit 0
# delivers; exit 75, a signal or a hang (killed after mda_timeout) is a
# temporary failure (exit 75); another status is a local one (exit 74);
# in every failure nothing is recorded and nothing deleted.
# shellcheck shell=bash disable=SC2016
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start_seeded
n=$N

# mk_mda NAME BODY: writes an executable sh script $T/NAME.
mk_mda() {
    printf '#!/bin/sh\n%s\n' "$2" >"$T/$1"
    chmod 755 "$T/$1"
}
# The good MDA: records its arguments (one line per run, "|"-joined) in
# DIR.args and stores its stdin as DIR/new/UNIQUE.
mk_mda good 'd=$1; shift
printf "%s|" "$@" >>"$d.args"; echo >>"$d.args"
mkdir -p "$d/new" "$d/cur" "$d/tmp"
f="$d/tmp/$$.$(date +%s%N)"
cat >"$f" && mv "$f" "$d/new/${f##*/}"'
# Like good, but the first line (the From_ line) goes to DIR.from.
mk_mda fromline 'd=$1; shift
printf "%s|" "$@" >>"$d.args"; echo >>"$d.args"
mkdir -p "$d/new" "$d/cur" "$d/tmp"
IFS= read -r first && printf "%s\n" "$first" >>"$d.from"
f="$d/tmp/$$.$(date +%s%N)"
cat >"$f" && mv "$f" "$d/new/${f##*/}"'
mk_mda tempfail 'cat >/dev/null; exit 75'
mk_mda fail 'cat >/dev/null; echo "mda: the disk is full" >&2; exit 1'
mk_mda hang 'sleep 60'

md=$T/box
mkdir -p "$md"

# ---- failures: nothing delivered, recorded or deleted
mh_config work keep=no deliver="mda:$T/tempfail"
mh_run
t_rc 75 "an MDA exiting 75: exit 75"
t_match "$ERR" 'mda ".*tempfail" exited with status 75' "the error names the MDA and its status"
t_eq "$(dc_server_count)" "$n" "keep=no: nothing deleted after exit 75"

mh_config work keep=no deliver="mda:$T/fail"
mh_run
t_rc 74 "an MDA exiting 1: exit 74"
t_match "$ERR" 'exited with status 1: mda: the disk is full' "the error quotes the MDA's stderr"
t_eq "$(dc_server_count)" "$n" "keep=no: nothing deleted after exit 1"

mh_config work keep=no deliver="mda:$T/hang" mda_timeout=2
start=$(date +%s)
mh_run
took=$(($(date +%s) - start))
t_rc 75 "a hanging MDA: killed, exit 75"
t_match "$ERR" 'timed out after 2 s and was killed' "the error says it timed out"
t_lt "$took" 20 "in bounded time (${took}s)"
t_eq "$(dc_server_count)" "$n" "keep=no: nothing deleted after a timeout"
t_ok "no MDA left running" sh -c "! pgrep -f '^/bin/sh $T/hang'"

# ---- delivery: argv without a shell, %u %a %f
mh_config work deliver="mda:$T/good $md %u %a %f 100%%"
mh_run
t_rc 0 "a good MDA: exit 0"
t_ok "every message delivered once, byte for byte" \
    check_archive maildir "$md" "$T/exp"
t_match "$OUT" "^work: $n new \(.*\) archived to mda:.*, 0 deleted, $n kept on server\$" \
    "summary says $n new"
t_eq "$(wc -l <"$md.args")" "$n" "the MDA ran once per message"
t_eq "$(grep -c "^$MAIL_USER|work|[^|]\+|100%|\$" "$md.args")" "$n" \
    "%u, %a, %f and %% arrive as arguments"

mh_run
t_rc 0 "second poll exits 0"
t_match "$OUT" "^work: 0 new " "second poll delivers nothing"
t_eq "$(wc -l <"$md.args")" "$n" "the MDA did not run again"

mh_config work keep=no deliver="mda:$T/good $md %u %a %f 100%%"
mh_run
t_rc 0 "keep=no after delivery: exit 0"
t_eq "$(dc_server_count)" 0 "delivered messages are deleted"
t_ok "still every message once" check_archive maildir "$md" "$T/exp"

# ---- the shell and the From_ line
mh_mkseed --prefix sh- "$T/seed2"
dc_seed "$T"/seed2/*
rm -rf "$T/exp"
expected_from_server "$T/exp" >/dev/null
md2=$T/box2
mh_config work keep=no mda_shell=yes mda_from_line=yes \
    deliver="mda:exec $T/fromline $md2 %f >/dev/null 2>&1 && true"
mh_run
t_rc 0 "mda_shell + mda_from_line: exit 0"
t_ok "every message delivered once after its From_ line" \
    check_archive maildir "$md2" "$T/exp"
t_eq "$(grep -cE '^From [^ ]+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "$md2.from")" \
    "$N" "each message started with a From_ line"
t_eq "$(cut -d' ' -f2 "$md2.from" | sort)" "$(cut -d'|' -f1 "$md2.args" | sort)" \
    "the From_ line's sender is %f"
t_eq "$(dc_server_count)" 0 "and they are deleted"

t_done
