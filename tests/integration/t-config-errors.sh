#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Bad configurations: each exits 78 with "mailhaul: FILE:LINE: cause" on
# stderr (the right line, a cause naming the problem) and makes no
# connection.  Every file below would otherwise reach our dovecot, so a
# mailhaul that ignored the error would show up in dovecot's log.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

dc_start || exit 1
mh_mkseed --only plain-01 "$T/seed"
dc_seed "$T"/seed/*
unset UNSET_VAR_XYZ
F=$(re_escape "$MH_CONF")

# conf LINE...: writes $MH_CONF, one argument per line, mode 600.
conf() {
    printf '%s\n' "$@" >"$MH_CONF"
    chmod 600 "$MH_CONF"
}

# The account's lines (file lines 3-13 when written after two lines).
ACCOUNT=(
    'account "work" {'                          # 3
    '  protocol = pop3'                         # 4
    '  host = "127.0.0.1"'                      # 5
    "  port = $POP3S_PORT"                      # 6
    '  tls = implicit'                          # 7
    "  tls_ca_file = \"$CA_FILE\""              # 8
    '  user = "alice"'                          # 9
    '  password = "secret"'                     # 10
    "  deliver = \"maildir:$T/Maildir\""        # 11
    '  keep = yes'                              # 12
    '}'                                         # 13
)
HEAD=('# SPDX-License-Identifier: ISC' "state_file = \"$T/state.db\"")

# account_with N LINE: the account with its line N (file numbering)
# replaced by LINE ("" drops it, keeping the numbering with a comment).
account_with() {
    local i out=()
    for i in "${!ACCOUNT[@]}"; do
        if [ $((i + 3)) = "$1" ]; then
            out+=("${2:-  # (removed)}")
        else
            out+=("${ACCOUNT[$i]}")
        fi
    done
    printf '%s\n' "${out[@]}"
}

# bad DESC LINE_RE CAUSE_RE: runs mailhaul on $MH_CONF and checks it.
bad() {
    dc_log_mark
    mh_run
    t_rc 78 "$1: exit 78"
    t_match "$ERR" "^mailhaul: $F:($2): .*($3)" "$1: stderr names $MH_CONF:$2 and the cause"
    t_ok "$1: no connection made" dc_no_connection
    t_ok "$1: nothing archived" archive_empty "$T/Maildir"
}

# Sanity: the good file works (else the cases below prove nothing).
conf "${HEAD[@]}" "${ACCOUNT[@]}"
mh_run --check-config
t_rc 0 "the unmodified config passes --check-config"

mapfile -t acct < <(account_with 9 '  colour = "blue"')
conf "${HEAD[@]}" "${acct[@]}"
bad "unknown option" 9 colour

conf "${HEAD[@]}" "${ACCOUNT[@]}" "" "${ACCOUNT[@]}"
bad "duplicate account name" 15 work

mapfile -t acct < <(account_with 5 "")
conf "${HEAD[@]}" "${acct[@]}"
bad "missing host" 3 host

mapfile -t acct < <(account_with 11 "")
conf "${HEAD[@]}" "${acct[@]}"
bad "missing deliver" 3 deliver

mapfile -t acct < <(account_with 10 '  password = "${UNSET_VAR_XYZ}"')
conf "${HEAD[@]}" "${acct[@]}"
bad "password empty after \${UNSET_VAR_XYZ} expansion" '3|10' password

mapfile -t acct < <(account_with 7 '  tls = bogus')
conf "${HEAD[@]}" "${acct[@]}"
bad "tls = bogus" 7 'bogus|tls'

mapfile -t acct < <(account_with 4 '  protocol = smtp')
conf "${HEAD[@]}" "${acct[@]}"
bad "protocol = smtp" 4 'smtp|protocol'

# A good file holding a password, readable by others.
conf "${HEAD[@]}" "${ACCOUNT[@]}"
chmod 644 "$MH_CONF"
dc_log_mark
mh_run
t_rc 78 "password in a 0644 file: exit 78"
t_match "$ERR" "^mailhaul: $F.*chmod 600" "0644: stderr names the file and says chmod 600"
t_ok "0644: no connection made" dc_no_connection
t_ok "0644: nothing archived" archive_empty "$T/Maildir"

t_done
