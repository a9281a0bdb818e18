#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# A hostile server lists folder names made to leave the archive
# ("../escape", "Lists/../../escape2", "..", "/abs-escape") or to take over
# the terminal (an ESC sequence): with folders = {"*"} and each layout
# that makes paths from names (maildir++, tree, mboxdir), nothing is
# written outside the target, the bad names are refused with an error that
# names them and holds no control character, and the run fails.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
mh_require_binary

export CA_FILE=$MH_CERT_DIR/ca.pem
mkdir -p "$T/fexp"
"$MH_PYTHON" - "$MH_LIB_DIR/../fake" "$T/fexp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import imapfake
for n, b in imapfake.MSGS.items():
    with open("%s/%d" % (sys.argv[2], n), "wb") as f:
        f.write(b.replace(b"\r\n", b"\n"))
PY

# escaped: prints any path a refused name could have made, under $T or /.
escaped() {
    find "$T" \( -name 'escape*' -o -name 'abs-escape' -o -name '*ctl*' \) \
        -print 2>/dev/null
    find / -maxdepth 1 -name 'abs-escape' -print 2>/dev/null
    find "$T/a" -mindepth 1 -maxdepth 1 ! -name "$1" -print 2>/dev/null
}

# no_control TEXT: no byte of TEXT is a control character but newline.
no_control() {
    if printf '%s' "$1" | LC_ALL=C grep -q '[[:cntrl:]]'; then
        printf '%s\n' "$1" | cat -v
        return 1
    fi
}

for kind in tree maildir++ mboxdir; do
    rm -rf "$T/a"
    mkdir -p "$T/a"
    if [ "$kind" = mboxdir ]; then
        target="mboxdir:$T/a/$kind"
        layout=
    else
        target="maildir:$T/a/$kind"
        layout="folder_layout=$kind"
    fi
    fake_imap_start evil-dots || exit 1
    mh_config work protocol=imap tls=starttls port="$FAKE_PORT" timeout=5 \
        folders='{"*"}' $layout deliver="$target" state_file="$T/state-$kind.db"
    mh_run
    fake_imap_stop
    t_fails "$kind: the run fails (exit $RC)" test "$RC" = 0
    t_eq "$(escaped "$kind")" "" "$kind: nothing written outside the target"
    t_match "$ERR" '^mailhaul: work: .*"\.\./escape"' "$kind: the error names the folder"
    t_ok "$kind: stderr holds no control character" no_control "$ERR"
    if [ "$kind" = mboxdir ]; then
        t_ok "$kind: INBOX archived, nothing else" check_archive mbox "$T/a/$kind/INBOX" "$T/fexp"
        t_eq "$(cd "$T/a/$kind" && find . -type f)" "./INBOX" "$kind: the only mbox is INBOX"
    else
        t_ok "$kind: INBOX archived, nothing else" check_archive maildir "$T/a/$kind" "$T/fexp"
        t_eq "$(cd "$T/a/$kind" && find . -mindepth 1 -maxdepth 1 | sort | tr '\n' ' ')" \
            "./cur ./new ./tmp " "$kind: no folder directory made"
    fi
done

# A name with an ESC sequence: refused, and not echoed raw to the terminal.
rm -rf "$T/a"
mkdir -p "$T/a"
fake_imap_start evil-names || exit 1
mh_config work protocol=imap tls=starttls port="$FAKE_PORT" timeout=5 \
    folders='{"*"}' folder_layout=tree deliver="maildir:$T/a/tree" \
    state_file="$T/state-esc.db"
mh_run
fake_imap_stop
t_fails "ESC in a name: the run fails (exit $RC)" test "$RC" = 0
t_match "$ERR" '^mailhaul: work: .*ctl.*name' "ESC in a name: the error names the folder"
t_ok "ESC in a name: stderr holds no control character" no_control "$ERR"
t_eq "$(escaped tree)" "" "ESC in a name: nothing written outside the target"

t_done
