#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Accounts polled in parallel worker processes (max_parallel): never more
# workers than allowed, each taking account after account, every account
# archived exactly once, whole lines on stdout and stderr; a failing
# account or a dying worker does not stop the others (a dead worker is
# replaced) and its failure decides the exit status.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed --count 4 --only plain-01,plain-02,from-lines,dots "$T/seed"
dc_seed "$T"/seed/*
n=$(dc_server_count)
expected_from_server "$T/exp" >/dev/null

# The password command of every account notes when its worker starts and
# ends asking, and holds it for a moment, so that workers overlap.
# "kill" as its argument kills its own worker instead.
cat >"$T/pw" <<EOF
#!/bin/sh
echo "+ \$1 \$PPID" >>"$T/pw.log"
[ "\${2:-}" = kill ] && { kill -KILL \$PPID; exit 0; }
sleep 0.4
echo "- \$1" >>"$T/pw.log"
echo $MAIL_PASS
EOF
chmod 755 "$T/pw"

# most_at_once: the largest number of password commands running at once.
most_at_once() {
    awk '/^\+/ { n++; if (n > m) m = n } /^-/ { n-- } END { print m + 0 }' \
        "$T/pw.log"
}

# kind_of I: the archive kind of account aI (every third is an mbox).
kind_of() {
    if [ $(($1 % 3)) = 0 ]; then echo mbox; else echo maildir; fi
}

# twelve_accounts MAX [EXTRA...]: a config of 12 accounts, POP3 and IMAP,
# Maildir and mbox, each its own target under $T/arch.
twelve_accounts() {
    local max=$1 i proto kind args=()
    shift
    for i in $(seq 1 12); do
        proto=pop3
        [ $((i % 2)) = 0 ] && proto=imap
        kind=$(kind_of "$i")
        [ "$i" -gt 1 ] && args+=(--)
        args+=("a$i" protocol=$proto password= "password_command=$T/pw a$i"
            deliver="$kind:$T/arch/a$i")
        [ "$i" = 1 ] && args+=(max_parallel="$max")
    done
    mh_config "${args[@]}" "$@"
}

# each_archived [SKIP...]: every account's archive but those numbered
# SKIP holds the server's mail once.
each_archived() {
    local i
    for i in $(seq 1 12); do
        case " $* " in *" $i "*) continue ;; esac
        check_archive "$(kind_of "$i")" "$T/arch/a$i" "$T/exp" ||
            { echo "a$i"; return 1; }
    done
}

: >"$T/pw.log"
twelve_accounts 4
mh_run
t_rc 0 "12 accounts, max_parallel = 4: exit 0"
t_ok "every account's archive holds every message exactly once" each_archived
t_eq "$(most_at_once)" 4 "4 workers at most, and 4 at once"
t_eq "$(awk '/^\+/ { print $3 }' "$T/pw.log" | sort -u | wc -l)" 4 \
    "4 worker processes took the 12 accounts between them"
t_eq "$(grep -c '^+' "$T/pw.log")" 12 "each account asked for its password once"
t_eq "$(grep -Ec "^a[0-9]+: $n new \(.*\) archived to (maildir|mbox):$(re_escape "$T")/arch/a[0-9]+, 0 deleted, $n kept on server\$" "$T/out")" 12 \
    "12 whole summary lines on stdout"
t_eq "$(n_lines "$OUT")" 12 "nothing else on stdout"
t_eq "$ERR" "" "nothing on stderr"

mh_run
t_rc 0 "the re-poll: exit 0"
t_eq "$(grep -Ec "^a[0-9]+: 0 new \(0 B\) archived to .*, 0 deleted, $n kept on server\$" "$T/out")" 12 \
    "the re-poll archives nothing new for any of the 12"
t_ok "still every message exactly once" each_archived

rm -rf "$T/arch" "$T/state.db"
: >"$T/pw.log"
twelve_accounts 1
mh_run
t_rc 0 "max_parallel = 1: exit 0"
t_eq "$(most_at_once)" 1 "max_parallel = 1: one account at a time"
t_eq "$(awk '/^\+/ { printf "%s ", $2 }' "$T/pw.log")" \
    "a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 " "max_parallel = 1: in the order of the file"
t_ok "max_parallel = 1: every message exactly once" each_archived

# A wrong password and a worker killed by a signal, among healthy accounts.
rm -rf "$T/arch" "$T/state.db"
: >"$T/pw.log"
twelve_accounts 6
sed -i "s|\"$T/pw a5\"|\"$T/pw a5 kill\"|; /account \"a7\"/,/}/s|password_command = .*|password = \"wrong\"|" "$MH_CONF"
mh_run
t_rc 77 "a refused login and a killed worker: exit 77 (the most serious)"
t_match "$ERR" '^mailhaul: a5: the worker polling this account died of signal 9 \(Killed\)$' \
    "the killed worker is named, with its signal"
t_match "$ERR" '^mailhaul: a7: login failed: ' "the refused login is named"
t_eq "$(grep -vc '^mailhaul: a[57]: ' <<<"$ERR")" 0 "no other line on stderr" || mh_show_output
t_ok "the killed worker archived nothing" archive_empty "$T/arch/a5"
t_ok "the refused account archived nothing" archive_empty "$T/arch/a7"
t_ok "the 10 other accounts archived everything" each_archived 5 7
t_eq "$(n_lines "$OUT")" 10 "10 summary lines"

# Two accounts delivering into one mbox at the same moment: the mbox lock
# keeps their messages whole.
rm -rf "$T/arch" "$T/state.db"
mkdir -p "$T/arch"
mh_config x protocol=pop3 deliver="mbox:$T/arch/shared" max_parallel=2 \
    -- y protocol=imap deliver="mbox:$T/arch/shared"
mh_run
t_rc 0 "two accounts into one mbox in parallel: exit 0"
t_eq "$(archive_count mbox "$T/arch/shared")" $((2 * n)) "the shared mbox holds both copies of each message"
t_eq "$(n_lines "$OUT")" 2 "two summary lines"

# Out of range.
mh_config a max_parallel=0
mh_run
t_rc 78 "max_parallel = 0: exit 78"
t_match "$ERR" 'max_parallel' "the error names max_parallel"

t_done
