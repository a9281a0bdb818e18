#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# password_command: the first line of its output is the password; a failing
# command is an error naming it; a hanging one is killed after a timeout.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed --count 2 --only plain-01,plain-02,dots "$T/seed"
dc_seed "$T"/seed/*
n=$(dc_server_count)
expected_from_server "$T/exp" >/dev/null
md=$T/Maildir

mh_config work password= password_command="/bin/echo secret" deliver="maildir:$md"
mh_run
t_rc 0 "password_command = /bin/echo secret: exit 0"
t_ok "Maildir holds every message exactly once" check_archive maildir "$md" "$T/exp"

rm -rf "$md" "$T/state.db"
mh_config work password= password_command="/bin/false" deliver="maildir:$md"
dc_log_mark
mh_run
t_ok "failing command: exit status non-zero ($RC)" test "$RC" != 0
t_ok "failing command: exit status is 77 or 78 ($RC)" test "$RC" = 77 -o "$RC" = 78
t_match "$ERR" '^mailhaul: work: .*/bin/false' "failing command: stderr names the command"
t_ok "failing command: no login attempt" dc_no_login_attempt alice
t_ok "failing command: nothing archived" archive_empty "$md"

# A unique duration, so we can tell our sleep from anyone else's.
nap="1000.$$"
mh_config work password= password_command="/bin/sleep $nap" timeout=5 \
    deliver="maildir:$md"
dc_log_mark
start=$(date +%s)
MH_TIMEOUT=45 mh_run
took=$(($(date +%s) - start))
t_lt "$took" 36 "hanging command: mailhaul ends within 35 s (took $took s)"
t_ok "hanging command: exit status non-zero ($RC, not killed by the harness)" \
    test "$RC" != 0 -a "$RC" != 124 -a "$RC" != 137
t_match "$ERR" '^mailhaul: work: .*sleep' "hanging command: stderr names the command"
t_match "$ERR" '[Tt]ime' "hanging command: stderr says it timed out"
left=$(pgrep -f -x "/bin/sleep $nap")
t_eq "$left" "" "hanging command: the command was killed, not left behind"
for pid in $left; do kill "$pid"; done
t_ok "hanging command: no login attempt" dc_no_login_attempt alice
t_eq "$(dc_server_count)" "$n" "the server still has every message"

t_done
