# SPDX-License-Identifier: ISC
# shellcheck shell=bash
# Sourced by the benchmark's adapters (not executable, so the harness does
# not take it for a peer): their two calling forms, see tests/bench/peers.md.
#
#   NAME PROTO HOST PORT USER PASS TARGETDIR KIND
#   NAME --accounts LIST PROTO HOST PORT TARGETDIR KIND
#
# peer_args "$@": sets PROTO HOST PORT TARGET KIND and the arrays USERS and
# PASSES (one entry per account); LIST holds "USER PASS" lines.  Exits 2 on
# a usage error.  Nothing is created yet: an adapter first says (exit 3)
# whether it does PROTO and KIND at all.
# shellcheck disable=SC2034 # the adapter that sources this reads them
peer_args() {
    local u p
    USERS=() PASSES=()
    if [ "${1:-}" = --accounts ] && [ $# = 7 ]; then
        PROTO=$3 HOST=$4 PORT=$5 TARGET=$6 KIND=$7
        [ -r "$2" ] || { echo "${0##*/}: cannot read the account list $2" >&2; exit 2; }
        while read -r u p; do
            [ -n "$u" ] || continue
            USERS+=("$u") PASSES+=("$p")
        done <"$2"
        [ ${#USERS[@]} -gt 0 ] || { echo "${0##*/}: no account in $2" >&2; exit 2; }
        MULTI=1
    elif [ $# = 7 ]; then
        PROTO=$1 HOST=$2 PORT=$3 TARGET=$6 KIND=$7
        USERS=("$4") PASSES=("$5")
        MULTI=0
    else
        echo "usage: ${0##*/} PROTO HOST PORT USER PASS TARGETDIR KIND" >&2
        echo "       ${0##*/} --accounts LIST PROTO HOST PORT TARGETDIR KIND" >&2
        exit 2
    fi
}

# peer_dirs: makes TARGET absolute (creating it) and sets DIRS, each
# account's archive directory: TARGET itself for one account called the
# single way, else TARGET/USER; and STATE, the adapter's own directory
# ($PEER_STATE_DIR, else TARGET/.peerstate).  Exits 2 when it cannot.
# shellcheck disable=SC2034 # DIRS and STATE: for the adapter
peer_dirs() {
    local u
    mkdir -p "$TARGET" || exit 2
    TARGET=$(cd "$TARGET" && pwd) || exit 2
    DIRS=()
    if [ "$MULTI" = 0 ]; then
        DIRS=("$TARGET")
    else
        for u in "${USERS[@]}"; do DIRS+=("$TARGET/$u"); done
    fi
    STATE=${PEER_STATE_DIR:-$TARGET/.peerstate}
    mkdir -p "$STATE" || exit 2
}

# q STRING: STRING in "..." with backslash escapes, as mpop, mbsync and
# fetchmail read it.
q() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
