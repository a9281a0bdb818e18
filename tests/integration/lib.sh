# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# Shared code for mailhaul's integration tests.  Every t-*.sh sources this
# file (bash), then uses:
#
#   TAP      t_ok DESC CMD [ARGS...]     ok if CMD exits 0 (else its output
#                                        and status become diagnostics)
#            t_fails DESC CMD [ARGS...]  ok if CMD exits non-zero
#            t_eq GOT WANT DESC          string equality (got/want shown)
#            t_lt A B DESC               integer A < B
#            t_match TEXT REGEX DESC     some line of TEXT matches ERE REGEX
#            t_nomatch TEXT REGEX DESC   no line of TEXT matches
#            t_rc WANT DESC              $RC of the last mh_run is WANT (else
#                                        its stdout and stderr are shown)
#            t_diag TEXT...              "# " diagnostic lines
#            t_done                      prints "1..N"; exits 1 if any failed
#   $T       a private temporary directory, removed at exit (KEEP=1 keeps
#            it); the exit trap also stops dovecot
#   dovecot  dc_start [--cert good|wronghost|untrusted]   (exports POP3_PORT,
#              with $DC_EXTRA_CONF appended to its configuration and
#              $DC_EXTRA_PASSWD, passwd-file lines, to its users;
#              POP3S_PORT, IMAP_PORT, IMAPS_PORT, CA_FILE, SERVER_PIN,
#              MAIL_USER, MAIL_PASS; alice's Maildir is $MAILDIR_SRV)
#            dc_stop, dc_restart [--cert ...] (new ports!)
#            dc_seed FILE..., dc_server_count
#            dc_log_mark, dc_log_new, dc_log_has REGEX, dc_log_lacks REGEX,
#            dc_no_connection, dc_no_login_attempt USER, dc_log_sync
#   mailhaul mh_require_binary, mh_config NAME [key=value...] [-- NAME2
#            [key=value...]]..., mh_run [ARGS...] (sets RC OUT ERR, and RSS
#            in KB with MH_TIME=1; runs under faketime "$MH_FAKETIME" when
#            set), mh_show_output
#   oracle   expected_from_server DIR, check_archive maildir|mbox PATH DIR,
#            archive_count, archive_empty PATH, archive_digest PATH,
#            mh_mkseed ARGS (tests/integration/mkseed)
#   IMAP     dc_imap_start_seeded, dc_imap_seed [--flags L] [--date E]
#            FOLDER FILE..., dc_imap_dir FOLDER, dc_uidvalidity_reset,
#            imap_oracle CMD... (tests/integration/imaporacle.py),
#            imap_expected DIR [META], imap_count FOLDER, imap_local_path,
#            check_imap_archive flat|maildir++|tree|mboxdir|mbox PATH DIR
#            FOLDER..., imap_check_mtime, imap_check_flags,
#            fake_imap_start SCENARIO, fake_imap_stop (tests/fake/imapfake.py)
#   time     mh_faketime_init (TZ=UTC, DAY, BASE = today 12:00 UTC; ASan
#            accepts libfaketime's preload), mh_at DAYS [HOURS] (BASE plus
#            that, as faketime takes it; with MH_FAKETIME, mh_run runs then)
#   misc     re_escape STR, n_lines TEXT, mh_subjects DIR... (the Subjects
#            of the message files in the DIRs, sorted, on one line),
#            mh_mkmsg DIR NAME [BODYBYTES [FILL]] (DIR/NAME: a message with
#            Subject and Message-ID NAME; equal BODYBYTES and name lengths
#            give equal sizes)
#
# Environment: MAILHAUL (the binary) or MAILHAUL_BUILDDIR (its build
# directory; default ../../build), MH_CERT_DIR (share one test CA between
# tests), KEEP=1, MH_TIMEOUT (seconds before mh_run kills mailhaul, 60).
#
# What dovecot 2.3.19 logs (checked; log_path = $T/dovecot.log).  We extend
# login_log_format_elements with rport= and lport= so that a line can be
# tied to one connection and one listener.  Every connection to a login
# process ends in exactly one "pop3-login: Info:" (or imap-login) line:
#   successful login     "Login: user=<alice>, method=PLAIN, rip=127.0.0.1,
#                        lip=127.0.0.1, rport=N, lport=N, mpid=N, TLS, ..."
#                        (TLS: implicit or after STLS; "secured" for
#                        plaintext, as dovecot trusts loopback)
#   wrong password       "Disconnected: Connection closed (auth failed, 1
#                        attempts in 2 secs): user=<alice>, method=PLAIN, ..."
#                        after auth_failure_delay (2 s), and at once from
#                        auth (auth_verbose): "auth: Info: passwd-file(alice,
#                        127.0.0.1,<session>): Password mismatch"
#   client refused TLS   "Disconnected: Connection closed: SSL_accept() failed:
#                        ... alert bad certificate ... (no auth attempts in 0
#                        secs): user=<>, ..., TLS handshaking: ..." ("alert
#                        unknown ca" for the untrusted CA)
#   no login at all      "Disconnected: Connection closed (no auth attempts
#                        in 0 secs): user=<>, ..." ("Aborted login by logging
#                        out" after QUIT)
# So "no credential was tried for alice" is: no new line matching
# "user=<alice>" or "passwd-file(alice,"; "no connection was made" is: no
# new "-login: " line.  Lines reach the file through dovecot's log process,
# asynchronously: dc_log_sync makes a probe connection of our own (QUIT at
# once) and waits for its line, so what was logged before is in the file;
# dc_log_new leaves the probes out.

MH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Debian's python3 (a dependency of the suite); any python3 >= 3.7 will do.
if [ -z "${MH_PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then MH_PYTHON=/usr/bin/python3; else MH_PYTHON=python3; fi
fi

# ---------------------------------------------------------------- TAP

T_N=0
T_FAILED=0

t_diag() {
    local line
    printf '%s\n' "$@" | while IFS= read -r line; do
        printf '# %s\n' "$line"
    done
}

# t_result OK(0/1) DESC: prints one TAP line.
t_result() {
    T_N=$((T_N + 1))
    if [ "$1" = 0 ]; then
        printf 'ok %d - %s\n' "$T_N" "$2"
    else
        T_FAILED=$((T_FAILED + 1))
        printf 'not ok %d - %s\n' "$T_N" "$2"
    fi
}

# t_ok DESC CMD [ARGS...]: runs CMD; ok if it exits 0.
t_ok() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" = 0 ]; then
        t_result 0 "$desc"
    else
        t_result 1 "$desc"
        t_diag "command: $*" "exit status: $rc"
        [ -n "$out" ] && t_diag "$out"
    fi
    return "$rc"
}

# t_fails DESC CMD [ARGS...]: runs CMD; ok if it exits non-zero.
t_fails() {
    local desc=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" != 0 ]; then
        t_result 0 "$desc"
        return 0
    fi
    t_result 1 "$desc"
    t_diag "command: $*" "exit status: 0, expected non-zero"
    [ -n "$out" ] && t_diag "$out"
    return 1
}

t_eq() {
    if [ "$1" = "$2" ]; then
        t_result 0 "$3"
        return 0
    fi
    t_result 1 "$3"
    t_diag "got:  '$1'" "want: '$2'"
    return 1
}

t_lt() {
    if [ "$1" -lt "$2" ] 2>/dev/null; then
        t_result 0 "$3"
        return 0
    fi
    t_result 1 "$3"
    t_diag "got:  $1" "want: < $2"
    return 1
}

# t_match TEXT REGEX DESC: ok if some line of TEXT matches the ERE REGEX.
t_match() {
    if printf '%s\n' "$1" | grep -Eq -- "$2"; then
        t_result 0 "$3"
        return 0
    fi
    t_result 1 "$3"
    t_diag "regex: $2" "text:"
    t_diag "${1:-(empty)}"
    return 1
}

t_nomatch() {
    if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then
        t_result 0 "$3"
        return 0
    fi
    t_result 1 "$3"
    t_diag "regex (must not match): $2" "text:"
    t_diag "$1"
    return 1
}

# t_rc WANT DESC: checks $RC of the last mh_run; shows its output if wrong.
t_rc() {
    if [ "$RC" = "$1" ]; then
        t_result 0 "$2"
        return 0
    fi
    t_result 1 "$2"
    t_diag "exit status: got $RC, want $1"
    mh_show_output
    return 1
}

t_done() {
    printf '1..%d\n' "$T_N"
    [ "$T_FAILED" = 0 ]
    exit $?
}

# ---------------------------------------------------------------- temp dir

T=$(mktemp -d "${TMPDIR:-/tmp}/mhit.XXXXXX") || exit 99
# The mail processes run as uid 65534 and must reach $T/home.
chmod 711 "$T"
export T

mh_cleanup() {
    dc_stop >/dev/null 2>&1
    if [ "${KEEP:-0}" = 1 ]; then
        echo "# KEEP=1: left $T" >&2
    else
        rm -rf "$T"
    fi
}
trap mh_cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- certs

# Where the test CA and certificates live.  tests/run points MH_CERT_DIR at
# one directory for the whole run; alone, a test makes its own.
MH_CERT_DIR=${MH_CERT_DIR:-$T/certs}

# mh_cert_leaf NAME SAN CA: key + certificate NAME signed by CA (ca|rogue).
mh_cert_leaf() {
    local d=$MH_CERT_DIR
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$d/$1.key" -out "$d/$1.csr" \
        -subj "/CN=${2%%,*}" 2>/dev/null || return 1
    printf '%s\n' \
        "basicConstraints = critical,CA:FALSE" \
        "keyUsage = critical,digitalSignature" \
        "extendedKeyUsage = serverAuth" \
        "subjectAltName = $2" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$3.pem" -CAkey "$d/$3.key" \
        -CAcreateserial -days 30 -sha256 -extfile "$d/$1.ext" \
        -out "$d/$1.pem" 2>/dev/null || return 1
    rm -f "$d/$1.csr" "$d/$1.ext"
}

mh_cert_ca() {
    local d=$MH_CERT_DIR
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$d/$1.key" -out "$d/$1.pem" -days 30 -sha256 \
        -subj "/CN=$2" \
        -addext "basicConstraints = critical,CA:TRUE" \
        -addext "keyUsage = critical,keyCertSign,cRLSign" \
        2>/dev/null
}

# Makes (once) the trusted test CA, a rogue CA nobody trusts, and the
# three server certificates.  Concurrent callers are serialised by flock.
mh_certs() {
    mkdir -p "$MH_CERT_DIR" || return 1
    (
        flock 9
        [ -s "$MH_CERT_DIR/untrusted.pem" ] && exit 0
        mh_cert_ca ca "mailhaul test CA" &&
            mh_cert_ca rogue "mailhaul rogue CA" &&
            mh_cert_leaf good "DNS:localhost,IP:127.0.0.1" ca &&
            mh_cert_leaf wronghost "DNS:wrong.example" ca &&
            mh_cert_leaf untrusted "DNS:localhost,IP:127.0.0.1" rogue
    ) 9>"$MH_CERT_DIR/.lock"
}

# Prints the pin of a certificate: "sha256:AB:CD:..." over its DER.
mh_cert_pin() {
    local fp
    fp=$(openssl x509 -in "$1" -noout -fingerprint -sha256) || return 1
    printf 'sha256:%s\n' "${fp#*=}"
}

# ---------------------------------------------------------------- dovecot

export MAIL_USER=alice MAIL_PASS=secret
DC_DIR=$T/dc
DC_LOG=$T/dovecot.log
MAILDIR_SRV=$T/home/alice/Maildir
DC_LOG_MARK=0

# Prints N distinct random ports in 10000-32767 (below the ephemeral
# range) on which no socket exists.  dc_start also checks, once dovecot
# runs, that it is our dovecot that listens on each of them.
mh_free_ports() {
    local n=$1 p got=" "
    for _ in $(seq 1 200); do
        [ "$n" -gt 0 ] || return 0
        p=$((10000 + RANDOM % 22768))
        case $got in *" $p "*) continue ;; esac
        [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
        got="$got$p "
        echo "$p"
        n=$((n - 1))
    done
    return 1
}

dc_write_conf() {
    local cert=$1
    cat >"$T/dovecot.conf" <<EOF
# SPDX-License-Identifier: ISC
# Written by tests/integration/lib.sh: a private dovecot for one test.
instance_name = mailhaul-test-${T##*/}
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
log_path = $DC_LOG
info_log_path = $DC_LOG
listen = 127.0.0.1
protocols = pop3 imap
ssl = yes
ssl_cert = <$MH_CERT_DIR/$cert.pem
ssl_key = <$MH_CERT_DIR/$cert.key
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l rport=%{rport} lport=%{lport} mpid=%e %c session=<%{session}>
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $DC_DIR/passwd
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
${DC_EXTRA_CONF:-}
EOF
}

dc_pid() {
    cat "$DC_DIR/run/master.pid" 2>/dev/null
}

# dc_listening PORT PID: is PID (our master) the process listening on PORT?
dc_listening() {
    ss -Htlnp "( sport = :$1 )" 2>/dev/null | grep -q "pid=$2,"
}

# dc_start [--cert good|wronghost|untrusted]: starts our private dovecot
# and exports POP3_PORT POP3S_PORT IMAP_PORT IMAPS_PORT CA_FILE SERVER_PIN.
dc_start() {
    local cert=good pid p ok
    while [ $# -gt 0 ]; do
        case $1 in
        --cert) cert=$2; shift 2 ;;
        --cert=*) cert=${1#--cert=}; shift ;;
        *) echo "dc_start: unknown option $1" >&2; return 2 ;;
        esac
    done
    case $cert in good | wronghost | untrusted) ;;
    *) echo "dc_start: unknown certificate $cert" >&2; return 2 ;;
    esac
    mh_certs || { echo "dc_start: cannot make certificates" >&2; return 1; }
    export CA_FILE=$MH_CERT_DIR/ca.pem
    SERVER_PIN=$(mh_cert_pin "$MH_CERT_DIR/$cert.pem") || return 1
    export SERVER_PIN DC_CERT=$cert

    mkdir -p "$DC_DIR" "$MAILDIR_SRV"/cur "$MAILDIR_SRV"/new "$MAILDIR_SRV"/tmp
    chmod 755 "$T/home"
    chown -R 65534:65534 "$T/home/alice"
    chmod 700 "$T/home/alice" "$MAILDIR_SRV"
    {
        printf 'alice:{PLAIN}secret:65534:65534::%s::\n' "$T/home/alice"
        if [ -n "${DC_EXTRA_PASSWD:-}" ]; then printf '%s\n' "$DC_EXTRA_PASSWD"; fi
    } >"$DC_DIR/passwd"
    chmod 644 "$DC_DIR/passwd"
    touch "$DC_LOG"

    for _ in 1 2 3 4 5; do
        # shellcheck disable=SC2046 # four numbers, split on purpose
        set -- $(mh_free_ports 4)
        [ $# = 4 ] || continue
        POP3_PORT=$1 POP3S_PORT=$2 IMAP_PORT=$3 IMAPS_PORT=$4
        export POP3_PORT POP3S_PORT IMAP_PORT IMAPS_PORT
        dc_write_conf "$cert"
        if ! dovecot -c "$T/dovecot.conf" 2>>"$DC_LOG"; then
            continue
        fi
        ok=0
        for _ in $(seq 1 100); do
            pid=$(dc_pid)
            if [ -n "$pid" ]; then
                ok=1
                for p in $POP3_PORT $POP3S_PORT $IMAP_PORT $IMAPS_PORT; do
                    dc_listening "$p" "$pid" || ok=0
                done
                [ "$ok" = 1 ] && break
                kill -0 "$pid" 2>/dev/null || break
            fi
            sleep 0.05
        done
        if [ "$ok" = 1 ]; then
            DC_LOG_MARK=$(stat -c %s "$DC_LOG")
            return 0
        fi
        dc_stop
    done
    echo "dc_start: dovecot did not start; its log:" >&2
    tail -n 20 "$DC_LOG" >&2
    return 1
}

# Is PID a live process?  A zombie is not: the daemonised master's parent
# is whoever reaps orphans here, which may take its time.
mh_pid_alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $st in Z*) return 1 ;; esac
    return 0
}

# Stops our dovecot by the pid in its master.pid and waits for it to exit.
dc_stop() {
    local pid
    pid=$(dc_pid)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
        mh_pid_alive "$pid" || break
        sleep 0.05
    done
    if mh_pid_alive "$pid"; then
        echo "dc_stop: dovecot $pid ignored SIGTERM, killing it" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$DC_DIR/run/master.pid"
    DC_CERT=
    return 0
}

dc_restart() {
    dc_stop && dc_start "$@"
}

# dc_start_seeded: starts dovecot with the standard seed messages in
# alice's mailbox, sets N to their count and writes what the oracle reads
# from the server into $T/exp (one check: the oracle sees all N).
dc_start_seeded() {
    dc_start || exit 1
    mh_mkseed "$T/seed"
    dc_seed "$T"/seed/*
    N=$(find "$T/seed" -type f | wc -l)
    expected_from_server "$T/exp" >/dev/null
    t_eq "$(find "$T/exp" -type f | wc -l)" "$N" "oracle sees the $N seeded messages"
}

# dc_seed FILE...: puts copies of the message files into alice's new/.
dc_seed() {
    local f n=0
    for f in "$@"; do
        n=$((n + 1))
        MH_SEED_SEQ=$((${MH_SEED_SEQ:-0} + 1))
        local name
        name="$(date +%s).M${MH_SEED_SEQ}P$$.mhseed"
        cp -- "$f" "$MAILDIR_SRV/tmp/$name" || return 1
        chown 65534:65534 "$MAILDIR_SRV/tmp/$name"
        chmod 600 "$MAILDIR_SRV/tmp/$name"
        mv -- "$MAILDIR_SRV/tmp/$name" "$MAILDIR_SRV/new/$name" || return 1
    done
}

# Prints how many messages alice has on the server.
dc_server_count() {
    find "$MAILDIR_SRV/cur" "$MAILDIR_SRV/new" -maxdepth 1 -type f | wc -l
}

# Makes a connection of our own and waits until dovecot has logged it:
# every line logged before is then in the file.  Prints nothing.
dc_log_sync() {
    "$MH_PYTHON" - "$POP3_PORT" "$DC_LOG" <<'EOF'
import os, socket, sys, time
port, log = int(sys.argv[1]), sys.argv[2]
start = os.path.getsize(log)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
me = s.getsockname()[1]
f = s.makefile("rb")
f.readline()
s.sendall(b"QUIT\r\n")
f.readline()
s.close()
# Our line: the first login-process line after START with our port.  It
# carries a unique session id, so dc_log_new can drop exactly that line.
tag = b"rport=%d," % me
deadline = time.time() + 10
while time.time() < deadline:
    with open(log, "rb") as fh:
        fh.seek(start)
        for line in fh:
            if tag in line and b"-login: " in line and line.endswith(b"\n"):
                with open(log + ".probes", "ab") as p:
                    p.write(line)
                sys.exit(0)
    time.sleep(0.02)
sys.exit("dc_log_sync: dovecot did not log the probe connection")
EOF
}

# Remembers the end of the log: dc_log_new shows what comes after.
dc_log_mark() {
    dc_log_sync || return 1
    DC_LOG_MARK=$(stat -c %s "$DC_LOG")
}

# Prints the log lines since dc_log_mark, without our probe connections.
dc_log_new() {
    dc_log_sync || return 1
    touch "$DC_LOG.probes"
    tail -c +$((DC_LOG_MARK + 1)) "$DC_LOG" | grep -vxF -f "$DC_LOG.probes"
    return 0
}

# dc_log_has REGEX: does a log line since dc_log_mark match REGEX?  If not,
# says so and shows the new lines (on stderr, for t_ok's diagnostics).
dc_log_has() {
    local new
    new=$(dc_log_new) || return 2
    printf '%s\n' "$new" | grep -Eq -- "$1" && return 0
    {
        echo "no dovecot log line matches: $1"
        echo "log lines since the mark:"
        printf '%s\n' "${new:-(none)}"
    } >&2
    return 1
}

# dc_log_lacks REGEX: 0 when no log line since dc_log_mark matches REGEX;
# otherwise 1, showing the lines that do (2: the log could not be synced).
dc_log_lacks() {
    local new
    new=$(dc_log_new) || return 2
    if printf '%s\n' "$new" | grep -E -- "$1"; then
        return 1
    fi
    return 0
}

# The proofs the tests want, in the terms of the lines documented above.
dc_no_connection() { dc_log_lacks '-login: '; }
dc_no_login_attempt() { dc_log_lacks "user=<$1>|passwd-file\\($1,"; }

# ---------------------------------------------------------------- mailhaul

if [ -z "${MAILHAUL:-}" ]; then
    MAILHAUL=${MAILHAUL_BUILDDIR:-$MH_LIB_DIR/../../build}/src/mailhaul
fi
MH_CONF=$T/mailhaul.conf

# Quotes a libconfuse string.
mh_quote() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# mh_config NAME [key=value...] [-- NAME2 [key=value...]]...
# Writes $MH_CONF (mode 600).  Each account starts from the defaults below
# (POP3S to our dovecot, Maildir $T/Maildir); key=value overrides, "key="
# leaves the key out.  state_file=, log_level= and max_parallel= set the
# global options.
# Numbers and booleans are written bare, everything else quoted; so is a
# list (a value starting with "{", e.g. folders='{"INBOX", "Lists/*"}').
# protocol=imap without port= gets our dovecot's IMAPS port (IMAP_PORT
# with tls=starttls or tls=none).
mh_config() {
    local global_state="$T/state.db" global_level="" global_par="" name kv k v port_set
    local -a blocks=()
    local block=""
    while [ $# -gt 0 ]; do
        name=$1
        shift
        port_set=0
        local -A opt=(
            [protocol]=pop3 [host]=127.0.0.1 [port]=$POP3S_PORT
            [tls]=implicit [tls_ca_file]=$CA_FILE
            [user]=$MAIL_USER [password]=$MAIL_PASS
            [deliver]="maildir:$T/Maildir" [keep]=yes [timeout]=30
        )
        local -a order=(protocol host port tls tls_ca_file user password
            deliver keep timeout)
        while [ $# -gt 0 ] && [ "$1" != -- ]; do
            kv=$1
            shift
            k=${kv%%=*}
            v=${kv#*=}
            case $k in
            state_file) global_state=$v; continue ;;
            log_level) global_level=$v; continue ;;
            max_parallel) global_par=$v; continue ;;
            esac
            [ "$k" = port ] && port_set=1
            [ -n "${opt[$k]+x}" ] || order+=("$k")
            opt[$k]=$v
        done
        [ "${1:-}" = -- ] && shift
        if [ "${opt[protocol]}" = imap ] && [ "$port_set" = 0 ]; then
            case ${opt[tls]} in
            starttls | none) opt[port]=${IMAP_PORT:-} ;;
            *) opt[port]=${IMAPS_PORT:-} ;;
            esac
        fi
        block="account $(mh_quote "$name") {"$'\n'
        for k in "${order[@]}"; do
            v=${opt[$k]}
            [ -n "$v" ] || continue
            case $k in
            port | timeout | keep | keep_flags | expunge_without_uidplus | \
                fetch_limit | fetch_all) ;;
            *) case $v in
                "{"*) ;;
                *) v=$(mh_quote "$v") ;;
                esac ;;
            esac
            block+="  $k = $v"$'\n'
        done
        block+="}"$'\n'
        blocks+=("$block")
        unset opt order
    done
    {
        echo "# SPDX-License-Identifier: ISC"
        [ -n "$global_state" ] && echo "state_file = $(mh_quote "$global_state")"
        [ -n "$global_level" ] && echo "log_level = $(mh_quote "$global_level")"
        [ -n "$global_par" ] && echo "max_parallel = $global_par"
        printf '%s' "${blocks[@]}"
    } >"$MH_CONF.tmp"
    chmod 600 "$MH_CONF.tmp"
    mv "$MH_CONF.tmp" "$MH_CONF"
}

# shellcheck disable=SC2034 # RC OUT ERR RSS are for the tests
# mh_run [ARGS...]: runs mailhaul -c $MH_CONF ARGS with stdout in $T/out,
# stderr in $T/err, the exit status in RC (124: killed after MH_TIMEOUT s).
# MH_TIME=1: the peak RSS in KB goes to RSS.
mh_run() {
    local -a pre=(timeout -k 5 "${MH_TIMEOUT:-60}")
    if [ -n "${MH_FAKETIME:-}" ]; then
        pre+=(env FAKETIME_DONT_FAKE_MONOTONIC=1 faketime "$MH_FAKETIME")
    fi
    RSS=
    if [ "${MH_TIME:-0}" = 1 ]; then
        pre+=(/usr/bin/time -q -f %M -o "$T/rss")
    fi
    "${pre[@]}" "$MAILHAUL" -c "$MH_CONF" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "${MH_TIME:-0}" = 1 ]; then
        RSS=$(tail -n 1 "$T/rss" 2>/dev/null)
    fi
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
    return 0
}

# mh_require_binary: ends the test (one failure) if there is no binary.
mh_require_binary() {
    if [ ! -x "$MAILHAUL" ]; then
        t_result 1 "mailhaul binary exists"
        t_diag "no executable at $MAILHAUL (set MAILHAUL or MAILHAUL_BUILDDIR)"
        t_done
    fi
}

# Escapes STR for use in an ERE.
re_escape() {
    printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

# Prints the number of lines of TEXT (0 for empty).
n_lines() {
    if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi
}

# Shows the last mh_run's stdout and stderr as TAP diagnostics.
mh_show_output() {
    t_diag "stdout:" "${OUT:-(empty)}" "stderr:" "${ERR:-(empty)}"
}

# ---------------------------------------------------------------- oracle

# expected_from_server DIR: downloads every message on the server with
# python's poplib (plaintext POP3, no deletion) into DIR/<UIDL>, with LF
# line ends: what mailhaul must archive byte for byte.  Logs in as alice,
# so call it before dc_log_mark in tests that look for login attempts.
expected_from_server() {
    mkdir -p "$1" &&
        "$MH_PYTHON" "$MH_LIB_DIR/pop3oracle.py" 127.0.0.1 "$POP3_PORT" \
            "$MAIL_USER" "$MAIL_PASS" "$1"
}

# check_archive maildir|mbox PATH EXPECTED_DIR: exit 0 if the archive holds
# exactly the expected messages, each once; otherwise says what differs.
check_archive() {
    "$MH_PYTHON" "$MH_LIB_DIR/archive.py" check "$@"
}

# archive_count maildir|mbox PATH: prints how many messages PATH holds.
archive_count() {
    "$MH_PYTHON" "$MH_LIB_DIR/archive.py" count "$@"
}

# archive_empty PATH: the archive does not exist or holds no message.
archive_empty() {
    if [ -d "$1" ]; then
        [ -z "$(find "$1" -type f)" ] || {
            echo "archive $1 holds files:"
            find "$1" -type f
            return 1
        }
    elif [ -e "$1" ]; then
        [ ! -s "$1" ] || { echo "mbox $1 is not empty:"; head -c 300 "$1"; return 1; }
    fi
    return 0
}

# archive_digest PATH: a digest of a Maildir's file names and contents, or
# of an mbox file; equal digests mean the archive was not touched.
archive_digest() {
    if [ -d "$1" ]; then
        (cd "$1" && find . -type f -print0 | sort -z |
            xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
    elif [ -e "$1" ]; then
        sha256sum <"$1" | cut -d' ' -f1
    else
        echo absent
    fi
}

# Seeds: tests/integration/mkseed writes the standard message set.
mh_mkseed() {
    "$MH_PYTHON" "$MH_LIB_DIR/mkseed" "$@"
}

# ---------------------------------------------------------------- IMAP
#
# Folders are given by their UTF-8 display names ("Lists/dev",
# "Entwürfe").  On the server (dovecot, Maildir++, separator "/") a folder
# is $MAILDIR_SRV/.<modified UTF-7, "/" -> ".">: "Lists/dev" is .Lists.dev,
# "Entwürfe" is .Entw&APw-rfe (checked with dovecot 2.3.19's CREATE).
# dovecot takes a Maildir file's mtime as its INTERNALDATE and the info
# letters after ":2," as its flags (S \Seen, R \Answered, F \Flagged,
# D \Draft, T \Deleted).

# The folders dc_imap_start_seeded fills, and the folders= value that
# selects them (one pattern among the names).
# shellcheck disable=SC2034 # for the tests
IMAP_SEED_FOLDERS=(INBOX Lists/dev Lists/ops "Entwürfe")
# shellcheck disable=SC2034 # for the tests
IMAP_SEED_SELECT='{"INBOX", "Lists/*", "Entwürfe"}'

# imap_oracle COMMAND [ARGS...]: tests/integration/imaporacle.py as alice
# on our dovecot's plain IMAP port (see its usage for the commands).
imap_oracle() {
    "$MH_PYTHON" "$MH_LIB_DIR/imaporacle.py" --port "${IMAP_PORT:-0}" \
        --user "$MAIL_USER" --password "$MAIL_PASS" "$@"
}

# dc_imap_dir FOLDER: prints the server's Maildir directory of FOLDER.
dc_imap_dir() {
    local enc
    case ${1^^} in
    INBOX) printf '%s\n' "$MAILDIR_SRV"; return 0 ;;
    esac
    enc=$("$MH_PYTHON" "$MH_LIB_DIR/imaporacle.py" mutf7 "$1") || return 1
    printf '%s/.%s\n' "$MAILDIR_SRV" "${enc//\//.}"
}

# dc_imap_seed [--flags LETTERS] [--date EPOCH] FOLDER FILE...: puts copies
# of the message files into FOLDER on the server (creating it), in new/
# without flags, in cur/NAME:2,LETTERS with them.  Every message gets a
# distinct INTERNALDATE (file mtime): EPOCH, EPOCH+1h, ...; without
# --date, a date that no other seeded message has.
dc_imap_seed() {
    local flags="" date="" dir f name
    while [ $# -gt 0 ]; do
        case $1 in
        --flags) flags=$2; shift 2 ;;
        --date) date=$2; shift 2 ;;
        *) break ;;
        esac
    done
    dir=$(dc_imap_dir "$1") || return 1
    shift
    mkdir -p "$dir/cur" "$dir/new" "$dir/tmp" || return 1
    [ "$dir" = "$MAILDIR_SRV" ] || touch "$dir/maildirfolder"
    chown 65534:65534 "$dir" "$dir/cur" "$dir/new" "$dir/tmp"
    [ "$dir" = "$MAILDIR_SRV" ] || chown 65534:65534 "$dir/maildirfolder"
    chmod 700 "$dir"
    for f in "$@"; do
        MH_SEED_SEQ=$((${MH_SEED_SEQ:-0} + 1))
        MH_IMAP_DATE=${MH_IMAP_DATE:-1672628645}
        if [ -n "$date" ]; then
            MH_IMAP_DATE_NOW=$date
            date=$((date + 3600))
        else
            MH_IMAP_DATE=$((MH_IMAP_DATE + 3607))
            MH_IMAP_DATE_NOW=$MH_IMAP_DATE
        fi
        name="$(date +%s).M${MH_SEED_SEQ}P$$.mhseed"
        cp -- "$f" "$dir/tmp/$name" || return 1
        chown 65534:65534 "$dir/tmp/$name"
        chmod 600 "$dir/tmp/$name"
        touch -d "@$MH_IMAP_DATE_NOW" "$dir/tmp/$name"
        if [ -n "$flags" ]; then
            mv -- "$dir/tmp/$name" "$dir/cur/$name:2,$flags" || return 1
        else
            mv -- "$dir/tmp/$name" "$dir/new/$name" || return 1
        fi
    done
}

# imap_expected DIR [META]: the oracle's download of every folder into
# DIR/<folder>/<uid> (LF line ends, mtime = INTERNALDATE), META gets
# "FOLDER<TAB>UID<TAB>EPOCH<TAB>FLAGS" lines.  Starts from an empty DIR.
imap_expected() {
    rm -rf "$1" && mkdir -p "$1" &&
        imap_oracle fetch "$@" >/dev/null
}

# dc_imap_start_seeded: starts dovecot with the standard seed set in INBOX,
# and a few prefixed messages in Lists/dev, Lists/ops and Entwürfe (some
# of them with flags), an empty Trash; sets N (all messages), N_INBOX,
# and writes the oracle's view into $T/exp (+ $T/exp.meta).  One check:
# the oracle sees every seeded message in its folder.
dc_imap_start_seeded() {
    dc_start || exit 1
    mh_mkseed "$T/seed/INBOX"
    mh_mkseed --prefix dev- --only plain-01,plain-02,from-lines "$T/seed/dev"
    mh_mkseed --prefix ops- --only plain-03,dots "$T/seed/ops"
    mh_mkseed --prefix drafts- --only plain-04,8bit-utf8 "$T/seed/drafts"
    dc_imap_seed INBOX "$T"/seed/INBOX/*
    dc_imap_seed Lists/dev "$T"/seed/dev/*
    dc_imap_seed --flags S Lists/ops "$T"/seed/ops/ops-plain-03
    dc_imap_seed --flags FS Lists/ops "$T"/seed/ops/ops-dots
    dc_imap_seed --flags D "Entwürfe" "$T"/seed/drafts/*
    imap_oracle create Trash || exit 1
    N_INBOX=$(find "$T/seed/INBOX" -type f | wc -l)
    N=$(find "$T/seed" -type f | wc -l)
    imap_expected "$T/exp" "$T/exp.meta"
    t_eq "$(imap_oracle folders | tr '\t\n' ':,')" \
        "Entwürfe:2,INBOX:$N_INBOX,Lists/dev:3,Lists/ops:2,Trash:0," \
        "oracle sees the $N seeded messages in their folders"
}

# imap_count FOLDER: prints how many messages FOLDER holds on the server.
imap_count() {
    imap_oracle count "$1"
}

# imap_local_path KIND PATH FOLDER: where mailhaul puts FOLDER's messages
# under the configured PATH.  KIND: flat (one Maildir), maildir++, tree,
# mboxdir, mbox (one file).
imap_local_path() {
    local kind=$1 base=$2 folder=$3
    case $kind:${folder^^} in
    flat:* | mbox:* | maildir++:INBOX | tree:INBOX) printf '%s\n' "$base" ;;
    maildir++:*) printf '%s/.%s\n' "$base" "${folder//\//.}" ;;
    tree:* | mboxdir:*) printf '%s/%s\n' "$base" "$folder" ;;
    *) echo "imap_local_path: unknown kind $kind" >&2; return 2 ;;
    esac
}

# imap_mbox_expected SRC DST: copies the expected messages for an mbox:
# IMAP sends a message without a final newline as it is (POP3 cannot), and
# an mbox cannot hold one (the separator needs a line end), so mailhaul, as
# every mbox writer, ends it with "\n".  Nothing else changes.
imap_mbox_expected() {
    local f
    mkdir -p "$2" || return 2
    for f in "$1"/*; do
        [ -f "$f" ] || continue
        cp -p -- "$f" "$2/" || return 2
        if [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
            printf '\n' >>"$2/${f##*/}"
        fi
    done
}

# check_imap_archive KIND PATH EXPDIR FOLDER...: the archive (KIND as for
# imap_local_path) holds exactly the oracle's messages of those folders,
# each once and byte for byte: per folder (maildir++, tree, mboxdir), or
# all of them together (flat, mbox).  Says what differs.  In an mbox, a
# message the server sends without a final newline is expected with one
# (imap_mbox_expected).
check_imap_archive() {
    local kind=$1 base=$2 exp=$3 folder rc=0 u f
    shift 3
    u=$(mktemp -d "$T/expected.XXXXXX") || return 2
    case $kind in
    flat | mbox)
        for folder in "$@"; do
            for f in "$exp/$folder"/*; do
                [ -f "$f" ] || continue
                cp -p -- "$f" "$u/${folder//\//%}-${f##*/}" || return 2
            done
        done
        if [ "$kind" = mbox ]; then
            imap_mbox_expected "$u" "$u.mbox" || return 2
            check_archive mbox "$base" "$u.mbox" || rc=1
        else
            check_archive maildir "$base" "$u" || rc=1
        fi
        ;;
    mboxdir)
        for folder in "$@"; do
            imap_mbox_expected "$exp/$folder" "$u/${folder//\//%}" || return 2
            check_archive mbox "$(imap_local_path "$kind" "$base" "$folder")" \
                "$u/${folder//\//%}" || rc=1
        done
        ;;
    *)
        for folder in "$@"; do
            check_archive maildir "$(imap_local_path "$kind" "$base" "$folder")" \
                "$exp/$folder" || rc=1
        done
        ;;
    esac
    rm -rf "$u" "$u.mbox"
    return "$rc"
}

# imap_check_mtime MAILDIR EXPDIR: every archived file's mtime is the
# INTERNALDATE of the server's message with the same bytes.
imap_check_mtime() {
    "$MH_PYTHON" "$MH_LIB_DIR/imaporacle.py" check-mtime "$@"
}

# imap_check_flags MAILDIR EXPDIR META: every archived file is in new/ or
# cur/NAME:2,LETTERS as its server flags (META from imap_expected) say.
imap_check_flags() {
    "$MH_PYTHON" "$MH_LIB_DIR/imaporacle.py" check-flags "$@"
}

# dc_uidvalidity_reset: stops dovecot, deletes its UID lists and indexes in
# every folder of alice's Maildir (the messages stay, the UIDVALIDITY of
# every folder changes) and starts it again: new ports, so write the
# configuration again.  Fails if INBOX's UIDVALIDITY did not change.
dc_uidvalidity_reset() {
    local before after
    before=$(imap_oracle uidvalidity INBOX) || return 1
    dc_stop
    find "$MAILDIR_SRV" \( -name dovecot-uidlist -o -name 'dovecot.index*' \
        -o -name 'dovecot.list.index*' \) -type f -delete || return 1
    dc_start "$@" || return 1
    after=$(imap_oracle uidvalidity INBOX) || return 1
    if [ "$before" = "$after" ]; then
        echo "dc_uidvalidity_reset: UIDVALIDITY of INBOX is still $after" >&2
        return 1
    fi
}

# fake_imap_start SCENARIO: starts tests/fake/imapfake.py on a free port
# (FAKE_PORT, pid FAKE_PID); what it receives goes to $T/fake.log (raw
# bytes, emptied first), its own errors to $T/fake.err.  TLS with the test
# CA's "good" certificate.  The exit trap stops it too; left alone, it
# ends itself after 120 s without a connection.
fake_imap_start() {
    fake_imap_stop
    mh_certs || return 1
    FAKE_PORT=$(mh_free_ports 1)
    : >"$T/fake.log"
    coproc FAKE_PROC {
        exec "$MH_PYTHON" "$MH_LIB_DIR/../fake/imapfake.py" "$FAKE_PORT" "$1" \
            "$T/fake.log" "$MH_CERT_DIR/good.pem" "$MH_CERT_DIR/good.key" \
            2>>"$T/fake.err"
    }
    FAKE_PID=$FAKE_PROC_PID
    trap 'fake_imap_stop; mh_cleanup' EXIT
    local ready=
    read -r -t 10 ready <&"${FAKE_PROC[0]}"
    [ "$ready" = ready ]
}

# fake_imap_stop: ends the fake server (if still there) and waits for it.
fake_imap_stop() {
    if [ -n "${FAKE_PID:-}" ]; then
        kill "$FAKE_PID" 2>/dev/null
        wait "$FAKE_PID" 2>/dev/null
        FAKE_PID=
    fi
    return 0
}

# ---------------------------------------------------------------- time

mh_faketime_init() {
    export TZ=UTC
    DAY=86400
    BASE=$(($(date +%s) / DAY * DAY + 12 * 3600))
    # libfaketime is preloaded: with ASan, it comes before libasan.
    if [ -n "${ASAN_OPTIONS:-}" ] || ldd "$MAILHAUL" 2>/dev/null | grep -q libasan; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    fi
}

mh_at() {
    date -u -d "@$((BASE + $1 * DAY + ${2:-0} * 3600))" '+%Y-%m-%d %H:%M:%S'
}

mh_subjects() {
    find "$@" -maxdepth 1 -type f -exec sed -n 's/^Subject: //p' {} + 2>/dev/null |
        sort | tr '\n' ' ' | sed 's/ $//'
}

mh_mkmsg() {
    mkdir -p "$1"
    {
        printf 'From: Seed <seed@example.org>\nTo: alice@example.org\n'
        printf 'Subject: %s\nMessage-ID: <%s@mailhaul.test>\n\n' "$2" "$2"
        head -c "${3:-300}" /dev/zero | tr '\0' "${4:-x}" | fold -w 60
        printf '\n'
    } >"$1/$2"
}
