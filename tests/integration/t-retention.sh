#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Retention rules against dovecot, with the clock moved by libfaketime:
# delete_after deletes exactly the messages past their age, never earlier,
# also after the clock is set back; a message whose archived copy was
# removed is archived again, not deleted; max_server_size deletes the
# oldest archived first and only archived ones; skip_larger_than and
# fetch_limit; --dry-run prints the plan and changes nothing; imported
# records never authorise a deletion; a lost state is noticed; fetch_all
# fills a new target without touching the records.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

mh_faketime_init

on_server() {
    mh_subjects "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new"
}

in_archive() {
    mh_subjects "$1/cur" "$1/new"
}

seed() {
    local d=$T/seed-$1 n
    shift
    for n in "$@"; do mh_mkmsg "$d" "$n"; done
    dc_seed "$d"/*
}

# poll_at DAYS HOURS [ARGS...]: a poll at that fake time.  Polls that
# should find messages due come an hour after the due time: faketime
# starts the clock at the given second, and a run takes a moment.
poll_at() {
    MH_FAKETIME=$(mh_at "$1" "$2")
    shift 2
    mh_run "$@"
    MH_FAKETIME=
}

dc_start || exit 1
md=$T/Maildir
plain=(tls=none port="$POP3_PORT" tls_ca_file=)

# ------------------------------------------------------------ delete_after
mh_config ret "${plain[@]}" deliver="maildir:$md" delete_after=5d
seed A a1 a2 a3
poll_at 0 0
t_rc 0 "day 0: archives A"
seed B b1 b2 b3
poll_at 2 0
t_rc 0 "day 2: archives B"
seed C c1 c2 c3
poll_at 4 0
t_rc 0 "day 4: archives C"
t_eq "$(on_server)" "a1 a2 a3 b1 b2 b3 c1 c2 c3" "day 4: nothing deleted yet"

poll_at 5 1 --dry-run
t_rc 0 "day 5 dry run exits 0"
t_match "$OUT" "^ret: would delete [0-9A-Fa-f]+ \([0-9]+ bytes\): delete_after$" \
    "dry run: message 1 would be deleted by delete_after"
t_eq "$(grep -c 'would delete [0-9A-Fa-f]* (' <<<"$OUT")" 3 "dry run: 3 would be deleted"
t_match "$OUT" "^ret: would fetch 0 \(0 B\), would delete 3, 0 too large, 0 deferred$" \
    "dry run: the totals"
t_eq "$(on_server)" "a1 a2 a3 b1 b2 b3 c1 c2 c3" "dry run deleted nothing"

poll_at 5 1
t_rc 0 "day 5: exits 0"
t_eq "$(on_server)" "b1 b2 b3 c1 c2 c3" "day 5: exactly A (5 days old) deleted"
t_match "$OUT" "^ret: 0 new .*, 3 deleted, 6 kept on server$" "day 5 summary"

# The clock is set back 2 days: nothing is due early, and what arrives
# now is recorded at the later time the state saw.
seed D d1 d2 d3
poll_at 3 0
t_rc 0 "clock set back to day 3: exits 0"
t_eq "$(on_server)" "b1 b2 b3 c1 c2 c3 d1 d2 d3" "day 3 (set back): nothing deleted, D archived"
poll_at 6 0
t_eq "$(on_server)" "b1 b2 b3 c1 c2 c3 d1 d2 d3" "day 6: B (4 days old) stays"
poll_at 7 1
t_eq "$(on_server)" "c1 c2 c3 d1 d2 d3" "day 7: B deleted"
poll_at 9 1
t_eq "$(on_server)" "d1 d2 d3" "day 9: C deleted; D, archived during the set-back clock, stays"
t_eq "$(in_archive "$md")" "a1 a2 a3 b1 b2 b3 c1 c2 c3 d1 d2 d3" "the archive holds each message once"

# d1's archived file disappears behind mailhaul's back.
rm -f "$(grep -l '^Subject: d1$' "$md"/new/* "$md"/cur/* 2>/dev/null)"
t_eq "$(in_archive "$md")" "a1 a2 a3 b1 b2 b3 c1 c2 c3 d2 d3" "d1's archived copy removed"
poll_at 10 2
t_rc 0 "day 10: exits 0"
t_eq "$(on_server)" "d1" "day 10: d2 d3 deleted, d1 kept on the server"
t_eq "$(in_archive "$md")" "a1 a2 a3 b1 b2 b3 c1 c2 c3 d1 d2 d3" "d1 archived again"
t_match "$ERR" "ret: warning: message [^ ]+: the archived copy .* is gone or changed .*archiving it again" \
    "the warning says d1 is archived again"
poll_at 11 1
t_eq "$(on_server)" "" "day 11: d1, now archived again, deleted (its age counts from day 5)"
t_eq "$(in_archive "$md")" "a1 a2 a3 b1 b2 b3 c1 c2 c3 d1 d2 d3" "each message archived once at the end"

# ------------------------------------------------------------ max_server_size
# 50 messages: 40 archived on day 20 and 21, 10 not archived (too large).
md2=$T/Maildir2
st2=$T/state2.db
names1=() names2=() big=()
for i in $(seq -w 1 20); do names1+=("m$i"); done
for i in $(seq -w 21 40); do names2+=("m$i"); done
for i in $(seq -w 41 50); do big+=("z$i"); done
for n in "${names1[@]}"; do mh_mkmsg "$T/seed-M1" "$n" 1000; done
dc_seed "$T"/seed-M1/*
mh_config off "${plain[@]}" deliver="maildir:$md2" state_file="$st2" \
    skip_larger_than=10K
poll_at 20 0
t_rc 0 "offload: day 20 archives 20"
for n in "${names2[@]}"; do mh_mkmsg "$T/seed-M2" "$n" 1000; done
for n in "${big[@]}"; do mh_mkmsg "$T/seed-M2" "$n" 20000; done
dc_seed "$T"/seed-M2/*
poll_at 21 0
t_rc 0 "offload: day 21 archives 20 more, skips 10 too large"
t_eq "$(find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -type f | wc -l)" 50 "the folder holds 50 messages"
t_match "$ERR" "off: warning: message [^ ]+ \([0-9]+ bytes\) is larger than skip_larger_than: not downloaded" \
    "a too-large message is reported"
t_eq "$(grep -c 'larger than skip_larger_than' <<<"$ERR")" 10 "each of the 10 reported once"
poll_at 21 0
t_eq "$(grep -c 'larger than skip_larger_than' <<<"$ERR")" 0 "and not again on the next poll"

# The limit: the 10 big ones plus 15 of the archived ones fit.
sizes=$("$MH_PYTHON" - "$POP3_PORT" "$MAIL_USER" "$MAIL_PASS" <<'EOF'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
sizes = {}
for line in p.list()[1]:
    num, size = line.split()
    top = p.top(int(num), 0)[1]
    subj = [l[9:].decode() for l in top if l.startswith(b"Subject: ")][0]
    sizes[subj] = int(size)
p.quit()
print(" ".join(f"{k}={v}" for k, v in sorted(sizes.items())))
EOF
)
declare -A SZ
for kv in $sizes; do SZ[${kv%%=*}]=${kv#*=}; done
total=0 bigtotal=0 small=0
for n in "${names1[@]}" "${names2[@]}"; do total=$((total + SZ[$n])); small=${SZ[$n]}; done
for n in "${big[@]}"; do bigtotal=$((bigtotal + SZ[$n])); done
limit=$((bigtotal + 15 * small))
# oldest archived first: m01..m20 (day 20) before m21..m40 (day 21), each
# in server order; until what is left is at or below the limit.
expect=() left=$((total + bigtotal))
for n in "${names1[@]}" "${names2[@]}"; do
    if [ "$left" -gt "$limit" ]; then left=$((left - SZ[$n])); else expect+=("$n"); fi
done
expect+=("${big[@]}")
want=$(printf '%s\n' "${expect[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
mh_config off "${plain[@]}" deliver="maildir:$md2" state_file="$st2" \
    skip_larger_than=10K max_server_size="$limit"
poll_at 22 1
t_rc 0 "offload: day 22 with max_server_size exits 0"
t_eq "$(on_server)" "$want" "offload: the oldest archived deleted until at or below the limit, big ones kept"
t_eq "$(find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -type f | wc -l)" 25 "offload: 25 messages left"
t_eq "$(in_archive "$md2" | wc -w)" 40 "offload: the archive holds the 40 archived ones"
# A limit below what cannot be deleted: all archived ones go, the rest
# stays, with a warning.
mh_config off "${plain[@]}" deliver="maildir:$md2" state_file="$st2" \
    skip_larger_than=10K max_server_size=1K
poll_at 23 1
t_rc 0 "offload below the big ones: exits 0"
t_eq "$(on_server)" "$(printf '%s\n' "${big[@]}" | tr '\n' ' ' | sed 's/ $//')" \
    "offload: only the 10 unarchived big ones stay"
t_match "$ERR" "off: warning: [0-9]+ bytes stay on the server, more than max_server_size" \
    "offload: a warning says the limit cannot be met"

# ------------------------------------------------------------ fetch_limit
find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -type f -delete
for i in 1 2 3 4 5 6 7; do mh_mkmsg "$T/seed-L" "l$i"; done
dc_seed "$T"/seed-L/*
md3=$T/Maildir3
mh_config lim "${plain[@]}" deliver="maildir:$md3" state_file="$T/state3.db" \
    fetch_limit=3
mh_run
t_rc 0 "fetch_limit: exits 0"
t_eq "$(in_archive "$md3")" "l1 l2 l3" "fetch_limit 3: the oldest three"
mh_run
t_eq "$(in_archive "$md3")" "l1 l2 l3 l4 l5 l6" "next poll: three more"
mh_run
t_eq "$(in_archive "$md3")" "l1 l2 l3 l4 l5 l6 l7" "then the last one"

# ------------------------------------------------------------ imported records
# Records imported from fetchmail stop re-downloads but never authorise a
# deletion, even with keep = no.
find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -type f -delete
for i in 1 2 3 4 5; do mh_mkmsg "$T/seed-I" "i$i"; done
dc_seed "$T"/seed-I/*
uidls=$("$MH_PYTHON" - "$POP3_PORT" "$MAIL_USER" "$MAIL_PASS" <<'EOF'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user(sys.argv[2]); p.pass_(sys.argv[3])
for line in p.uidl()[1][:2]:
    print(line.split()[1].decode())
p.quit()
EOF
)
for u in $uidls; do echo "$MAIL_USER@127.0.0.1 $u"; done >"$T/fetchids"
md4=$T/Maildir4
mh_config imp "${plain[@]}" deliver="maildir:$md4" state_file="$T/state4.db" keep=no
mh_run import --from fetchmail -a imp "$T/fetchids"
t_rc 0 "import of 2 fetchmail records exits 0"
mh_run --dry-run
t_eq "$(grep -c ': protected$' <<<"$OUT")" 2 "dry run: the 2 imported messages are protected"
mh_run
t_rc 0 "keep = no poll after the import exits 0"
t_eq "$(on_server)" "i1 i2" "the 2 imported messages stay on the server"
t_eq "$(in_archive "$md4")" "i3 i4 i5" "the 3 others are archived (and deleted)"

# ------------------------------------------------------------ state lost
# The state of an account whose archive holds mail is gone: more than a
# handful to fetch is refused with exit 78; --force archives anyway.
find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -type f -delete
for i in 1 2 3 4 5 6 7 8; do mh_mkmsg "$T/seed-S" "s$i"; done
dc_seed "$T"/seed-S/*
md5=$T/Maildir5
mh_config lost "${plain[@]}" deliver="maildir:$md5" state_file="$T/state5.db"
mh_run
t_rc 0 "state lost: the first poll archives 8"
rm -f "$T"/state5.db*
mh_run
t_rc 78 "state lost: the next poll refuses with 78"
t_match "$ERR" "^mailhaul: lost: maildir:$(re_escape "$md5") already holds mail but the state has no record of this account, so 8 messages may be archived twice; run \"mailhaul reindex -a lost\" to record what is there, or poll once with --force to archive them anyway$" \
    "state lost: one line naming both ways out"
t_eq "$(in_archive "$md5")" "s1 s2 s3 s4 s5 s6 s7 s8" "state lost: nothing archived twice"
mh_run --force
t_rc 0 "state lost: --force archives anyway"
t_eq "$(in_archive "$md5" | wc -w)" 16 "state lost: --force archived all 8 again"

# A second account archiving into the same target is no lost state: the
# target's mail is known from the first account's records.
mh_config lost2 "${plain[@]}" deliver="maildir:$md5" state_file="$T/state5.db"
mh_run
t_rc 0 "a second account sharing the target is not refused"

# ------------------------------------------------------------ fetch_all
# Filling a new target: --fetch-all archives everything again into it, and
# the records keep pointing at the first target's copies.
md6=$T/Maildir6
mh_config lost "${plain[@]}" deliver="maildir:$md6" state_file="$T/state5.db"
before=$(sqlite3 "$T/state5.db" "SELECT target, location FROM seen ORDER BY uid" | md5sum)
mh_run --fetch-all
t_rc 0 "fetch_all into a new target: exits 0"
t_eq "$(in_archive "$md6")" "s1 s2 s3 s4 s5 s6 s7 s8" "the new target holds every message once"
t_eq "$(sqlite3 "$T/state5.db" "SELECT target, location FROM seen ORDER BY uid" | md5sum)" \
    "$before" "the records of the first target are untouched"
mh_run
t_rc 0 "a normal poll afterwards exits 0"
t_match "$OUT" "^lost: 0 new " "and fetches nothing"

t_done
