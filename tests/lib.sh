# tests/lib.sh - shared helpers for Postern's shell tests (source it)
#
# Output is TAP-like: "ok - text" / "not ok - text" per case, "# text" for
# diagnostics; done_testing exits 0 when every case passed, 1 otherwise.
# Every server a test starts is recorded and stopped at exit (trap EXIT),
# also when the test fails half way. Everything listens on 127.0.0.1; the
# only other addresses used are 127.0.0.2 and 127.0.0.3 as SMTP client
# addresses (127.0.0.2 is the RFC 5782 test entry every DNSBL lists).
#
# Environment: TOP (source tree, default derived from this file), BUILD
# (build tree, default TOP), TMPDIR (default /tmp), KEEP_TMP=1 keeps the
# temp dirs, E2E_VERBOSE=1 prints the logs of failed cases.

set -u

: "${TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# BUILD defaults to TOP (in-tree build), or TOP/build when only that has
# the daemon (tests/run exports BUILD=TOP/build itself)
if [ -z "${BUILD:-}" ]; then
	BUILD=$TOP
	[ ! -x "$TOP/filterd/postern-filterd" ] &&
	    [ -x "$TOP/build/filterd/postern-filterd" ] && BUILD=$TOP/build
fi
export TOP BUILD
FILTERD=$BUILD/filterd/postern-filterd
MTA=$BUILD/mta/postern-mta
POSTERNCTL=$BUILD/tools/posternctl

# Debian's sbin holds postfix, postconf, postqueue, smtp-sink.
case ":$PATH:" in
*:/usr/sbin:*) ;;
*) PATH=$PATH:/usr/sbin:/sbin ;;
esac

_tap_total=0
_tap_failed=0
_tmp_dirs=()
_bg_pids=()
_bg_names=()
_pf_confs=()
TESTTMP=

# --- TAP ---------------------------------------------------------------

# ok - report a passed case
ok() {
	_tap_total=$((_tap_total + 1))
	printf 'ok - %s\n' "$*"
}

# not_ok - report a failed case
not_ok() {
	_tap_total=$((_tap_total + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok - %s\n' "$*"
}

# diag - print a diagnostic line (or several)
diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# diag_file FILE [MAXLINES] - print (the tail of) a file as diagnostics
diag_file() {
	local f=$1 max=${2:-40}
	if [ -r "$f" ]; then
		printf '# --- %s (last %s lines)\n' "$f" "$max"
		tail -n "$max" "$f" | tr -d '\r' | sed 's/^/#   /'
	else
		printf '# --- %s: (missing)\n' "$f"
	fi
}

# check DESC CMD... - ok when CMD succeeds
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; return 1; fi
}

# is GOT WANT DESC - string equality
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:      '$1'" "expected: '$2'"
		return 1
	fi
}

# like TEXT REGEX DESC - TEXT (any line) matches extended REGEX
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3"
		diag "no line matches /$2/ in:"
		diag "$(printf '%s\n' "$1" | head -n 30)"
		return 1
	fi
}

# unlike TEXT REGEX DESC - no line of TEXT matches REGEX
unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		not_ok "$3"
		diag "unexpected match of /$2/:"
		diag "$(printf '%s\n' "$1" | grep -E -- "$2" | head -n 10)"
		return 1
	else
		ok "$3"
	fi
}

# setup_fail REASON - the test cannot run at all
setup_fail() {
	not_ok "setup: $*"
	exit 1
}

# skip_all REASON - nothing to test here (counts as passed)
skip_all() {
	printf 'ok - # SKIP %s\n' "$*"
	exit 0
}

# done_testing - print the tally and exit 0 (all passed) or 1
done_testing() {
	if [ "$_tap_total" -eq 0 ]; then
		not_ok "no test cases ran"
	fi
	printf '# %d case(s), %d failed\n' "$_tap_total" "$_tap_failed"
	[ "$_tap_failed" -eq 0 ] && exit 0
	exit 1
}

# --- temp dirs, processes ----------------------------------------------

# mktmp [NAME] - make a temp dir (traversable by postfix/nobody), print it;
# the first one also becomes TESTTMP. Removed at exit unless KEEP_TMP=1.
# Call it as "mktmp >/dev/null; D=$TESTTMP" or "D=$(mktmp)" only when you
# do not need the cleanup registration (command substitution is a
# subshell); prefer mktmp_var.
mktmp() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/postern-${1:-test}.XXXXXX") || return 1
	chmod 755 "$d"
	_tmp_dirs+=("$d")
	[ -n "$TESTTMP" ] || TESTTMP=$d
	printf '%s\n' "$d"
}

# mktmp_var VAR [NAME] - like mktmp, storing the path in VAR
mktmp_var() {
	local _d
	_d=$(mktemp -d "${TMPDIR:-/tmp}/postern-${2:-test}.XXXXXX") ||
	    return 1
	chmod 755 "$_d"
	_tmp_dirs+=("$_d")
	[ -n "$TESTTMP" ] || TESTTMP=$_d
	printf -v "$1" '%s' "$_d"
}

# free_port - an unused TCP port on 127.0.0.1 (bind port 0 and release it)
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_listening PORT [HOST] - a listener exists (checked without connecting)
port_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q "${2:-127.0.0.1}:$1"
}

# wait_port PORT [SECS] [HOST] - wait until something listens there
wait_port() {
	local port=$1 secs=${2:-15} host=${3:-127.0.0.1} i
	for ((i = 0; i < secs * 10; i++)); do
		port_listening "$port" "$host" && return 0
		sleep 0.1
	done
	return 1
}

# start_bg NAME CMD... - run CMD in the background, output to
# $TESTTMP/NAME.log (or $BG_LOG if set); PID in BG_PID, stopped at exit
start_bg() {
	local name=$1 log
	shift
	log=${BG_LOG:-${TESTTMP:-/tmp}/$name.log}
	"$@" </dev/null >>"$log" 2>&1 &
	BG_PID=$!
	_bg_pids+=("$BG_PID")
	_bg_names+=("$name")
	return 0
}

# stop_pid PID [SECS] - SIGTERM, wait, then SIGKILL
stop_pid() {
	local pid=$1 secs=${2:-5} i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# stop_all - stop every Postfix instance and background process, remove
# the temp dirs (unless KEEP_TMP=1)
stop_all() {
	local i conf pid
	for conf in "${_pf_confs[@]}"; do
		postfix_stop "$conf"
	done
	_pf_confs=()
	for ((i = ${#_bg_pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${_bg_pids[$i]}"
	done
	_bg_pids=()
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		for i in "${_tmp_dirs[@]}"; do
			printf '# kept %s\n' "$i"
		done
	else
		for i in "${_tmp_dirs[@]}"; do
			rm -rf -- "$i"
		done
	fi
	_tmp_dirs=()
}

trap 'stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- smtp-sink -----------------------------------------------------------

# start_testmilter DIR NAME JSON - tests/smtp/testmilter.py with that
# script (files DIR/NAME.*); sets TM_SOCK (mta syntax), TM_LOG, TM_PID
start_testmilter() {
	local dir=$1 name=$2 json=$3 i
	printf '%s\n' "$json" >"$dir/$name.json"
	TM_LOG=$dir/$name.log
	: >"$TM_LOG"
	rm -f "$dir/$name.ready"
	BG_LOG=$dir/$name.out start_bg "tm-$name" /usr/bin/python3 \
	    "$TOP/tests/smtp/testmilter.py" --script "$dir/$name.json" \
	    --log "$TM_LOG" --inet 127.0.0.1:0 --ready "$dir/$name.ready"
	TM_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		[ -s "$dir/$name.ready" ] && break
		sleep 0.05
	done
	TM_SOCK=$(head -n 1 "$dir/$name.ready" 2>/dev/null)
	[ -n "$TM_SOCK" ] || { diag_file "$dir/$name.out"; return 1; }
}

# start_spamd DIR PORT RULES - SpamAssassin's spamd on 127.0.0.1:PORT
# with only the local rules RULES (a .cf text; required_score and
# util_rb_tld are added), no network tests, no user configs; in its own
# process group (its children go with it: stop_spamd). Waits for PONG.
# Sets SPAMD_PID.
start_spamd() {
	local dir=$1 port=$2 rules=$3 i
	mkdir -p "$dir/rules" "$dir/site"
	chmod 755 "$dir" "$dir/rules" "$dir/site"
	printf 'required_score 5.0\nutil_rb_tld com net org example\n%s\n' \
	    "$rules" >"$dir/rules/50_postern.cf"
	echo "loadplugin Mail::SpamAssassin::Plugin::Check" >"$dir/site/init.pre"
	chmod 644 "$dir/rules/50_postern.cf" "$dir/site/init.pre"
	BG_LOG=$dir/spamd.log start_bg spamd setsid spamd \
	    --listen="127.0.0.1:$port" --pidfile="$dir/spamd.pid" \
	    --nouser-config --configpath="$dir/rules" \
	    --siteconfigpath="$dir/site" --local --max-children=1 \
	    --syslog=stderr
	SPAMD_PID=$BG_PID
	for ((i = 0; i < 600; i++)); do
		if /usr/bin/python3 - "$port" <<'PY' 2>/dev/null; then
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.sendall(b"PING SPAMC/1.5\r\n\r\n")
sys.exit(0 if b" 0 PONG" in s.recv(100) else 1)
PY
			return 0
		fi
		kill -0 "$SPAMD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag_file "$dir/spamd.log"
	return 1
}

# stop_spamd - spamd and its children (its process group)
stop_spamd() {
	kill -TERM -- "-$SPAMD_PID" 2>/dev/null
	stop_pid "$SPAMD_PID" 5
}

# start_rawsink DIR PORT - tests/smtp/rawsink.py on 127.0.0.1:PORT,
# keeping each DATA byte for byte in DIR/data.K and a log in DIR/log;
# sets RAWSINK_PID
start_rawsink() {
	local dir=$1 port=$2 i
	mkdir -p "$dir"
	rm -f "$dir/ready"
	BG_LOG=$dir/out start_bg rawsink /usr/bin/python3 \
	    "$TOP/tests/smtp/rawsink.py" --port "$port" --dir "$dir" \
	    --ready "$dir/ready"
	RAWSINK_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		[ -s "$dir/ready" ] && return 0
		sleep 0.05
	done
	diag_file "$dir/out"
	return 1
}

# start_sink DIR PORT - smtp-sink on 127.0.0.1:PORT writing one file per
# message into DIR/sink/ (as user nobody); sets SINK_DIR, SINK_PORT
start_sink() {
	local dir=$1 port=$2
	SINK_DIR=$dir/sink
	SINK_PORT=$port
	mkdir -p "$SINK_DIR"
	chown nobody "$SINK_DIR"
	BG_LOG=$dir/sink.log start_bg sink \
	    smtp-sink -u nobody -d "$SINK_DIR/msg." -h sink.example \
	    "127.0.0.1:$port" 64
	SINK_PID=$BG_PID
	wait_port "$port" 10
}

# sink_find TEXT [SECS] - wait for a sink file containing fixed TEXT;
# prints its name
sink_find() {
	local text=$1 secs=${2:-15} i f
	for ((i = 0; i < secs * 10; i++)); do
		f=$(grep -rlF -- "$text" "$SINK_DIR"/ 2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# sink_has TEXT - some sink file contains TEXT right now
sink_has() {
	grep -rqF -- "$1" "$SINK_DIR"/ 2>/dev/null
}

# --- DNS (nsd) -------------------------------------------------------------

# free_dns_port - a port free for both UDP and TCP on 127.0.0.1 right now
# (nsd binds both; free_port only checks TCP)
free_dns_port() {
	python3 -c 'import socket
for _ in range(20):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port))
    except OSError:
        u.close()
        continue
    print(port)
    break
else:
    raise SystemExit(1)'
}

# dns_probe PORT NAME - one SOA query for NAME by UDP to 127.0.0.1:PORT
# answers NOERROR within 0.2 s (python3, so drill is not required)
dns_probe() {
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2].rstrip(".")
q = struct.pack(">HHHHHH", 0x5053, 0, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\0" + struct.pack(">HH", 6, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
try:
    s.sendto(q, ("127.0.0.1", port))
    r = s.recv(4096)
except OSError:
    sys.exit(1)
sys.exit(0 if len(r) >= 12 and r[:2] == q[:2] and r[3] & 15 == 0 else 1)
PY
}

# start_nsd DIR [ZONE...] - a private nsd on 127.0.0.1 serving ZONEs (file
# names in $TOP/tests/data/zones; default: every file there), config and
# state in DIR, stderr in DIR/nsd.stderr; waits until the first zone
# answers. Sets NSD_PORT, NSD_PID, NSD_CONF.
start_nsd() {
	local dir=$1 zonedir=$TOP/tests/data/zones z i
	local -a zones
	shift
	zones=("$@")
	if [ "${#zones[@]}" -eq 0 ]; then
		for z in "$zonedir"/*; do
			[ -f "$z" ] && zones+=("${z##*/}")
		done
	fi
	if [ "${#zones[@]}" -eq 0 ]; then
		diag "start_nsd: no zones in $zonedir"
		return 1
	fi
	if ! command -v nsd >/dev/null; then
		diag "start_nsd: nsd is not installed"
		return 1
	fi
	mkdir -p "$dir"
	NSD_PORT=$(free_dns_port) || {
		diag "start_nsd: no free port"
		return 1
	}
	NSD_CONF=$dir/nsd.conf
	{
		printf 'server:\n\tip-address: 127.0.0.1@%s\n' "$NSD_PORT"
		printf '\tzonesdir: "%s"\n\tdatabase: ""\n' "$zonedir"
		printf '\tpidfile: "%s/nsd.pid"\n' "$dir"
		printf '\txfrdfile: "%s/xfrd.state"\n' "$dir"
		printf '\tzonelistfile: "%s/zone.list"\n' "$dir"
		printf '\tlogfile: "%s/nsd.log"\n' "$dir"
		printf '\tusername: ""\n\tserver-count: 1\n\tverbosity: 1\n'
		printf 'remote-control:\n\tcontrol-enable: no\n'
		for z in "${zones[@]}"; do
			printf 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' "$z" "$z"
		done
	} >"$NSD_CONF"
	if ! nsd-checkconf "$NSD_CONF" >"$dir/nsd-checkconf.out" 2>&1; then
		diag "nsd-checkconf rejects $NSD_CONF"
		diag_file "$dir/nsd-checkconf.out"
		return 1
	fi
	BG_LOG=$dir/nsd.stderr start_bg nsd nsd -d -c "$NSD_CONF"
	NSD_PID=$BG_PID
	for ((i = 0; i < 50; i++)); do
		dns_probe "$NSD_PORT" "${zones[0]}" && return 0
		kill -0 "$NSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "nsd does not answer for ${zones[0]} on 127.0.0.1@$NSD_PORT"
	diag_file "$dir/nsd.stderr"
	diag_file "$dir/nsd.log"
	return 1
}

# start_silent_dns [DIR] - a UDP socket on 127.0.0.1 that reads queries
# and never answers, for DNS timeouts; the port is written to
# DIR/silent-dns.port (DIR defaults to TESTTMP). Sets SILENT_DNS_PORT,
# SILENT_DNS_PID.
start_silent_dns() {
	local dir=${1:-${TESTTMP:-/tmp}} pf i
	pf=$dir/silent-dns.port
	rm -f "$pf"
	BG_LOG=$dir/silent-dns.log start_bg silent-dns python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    s.recvfrom(65535)' "$pf"
	SILENT_DNS_PID=$BG_PID
	for ((i = 0; i < 50; i++)); do
		if [ -s "$pf" ]; then
			SILENT_DNS_PORT=$(cat "$pf")
			return 0
		fi
		kill -0 "$SILENT_DNS_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "the silent DNS socket does not start"
	diag_file "$dir/silent-dns.log"
	return 1
}

# --- Postfix -------------------------------------------------------------

# start_postfix DIR PORT [key=value...] - a private Postfix instance:
# config in DIR/etc, queue in DIR/spool, data in DIR/data, log in
# DIR/maillog; SMTP on 127.0.0.1:PORT; relays everything to the sink
# (relayhost = [127.0.0.1]:$SINK_PORT unless overridden). Sets PF_DIR,
# PF_CONF, PF_PORT, PF_LOG. Returns non-zero (with diagnostics) when the
# instance does not come up.
#
# Why it works as root without touching /etc/postfix: postfix(1),
# postconf(1) and postqueue(1) accept "-c DIR" without
# alternate_config_directories when the real/effective uid is root; no
# /etc/postfix/main.cf is needed (Debian ships none until configured).
# meta_directory stays /etc/postfix (postfix-files, dynamicmaps.cf).
start_postfix() {
	local dir=$1 port=$2 conf kv
	shift 2
	PF_DIR=$dir
	PF_CONF=$dir/etc
	PF_PORT=$port
	PF_LOG=$dir/maillog
	conf=$PF_CONF
	mkdir -p "$conf" "$dir/spool" "$dir/data"
	chmod 755 "$dir" "$conf" "$dir/spool"
	chown postfix "$dir/data"
	: >"$PF_LOG"
	cat >"$conf/main.cf" <<EOF
# private test instance written by tests/lib.sh
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.com
mydomain = example.com
myorigin = \$myhostname
mydestination =
local_transport = error:5.1.1 local delivery is disabled in tests
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost = [127.0.0.1]:${SINK_PORT:-25}
# Postfix insists on a relay guard in the list; static:OK permits first, so
# only the milter (filterd) decides about relaying.
smtpd_relay_restrictions = check_client_access static:OK,
	reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
smtpd_banner = \$myhostname ESMTP
smtp_dns_support_level = disabled
smtp_bind_address = 127.0.0.1
smtp_helo_name = \$myhostname
in_flow_delay = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
delay_warning_time = 0
biff = no
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
EOF
	cat >"$conf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	for kv in "$@"; do
		postconf -c "$conf" -e "$kv" || {
			diag "postconf -e '$kv' failed"
			return 1
		}
	done
	# Creates the queue subdirectories with Postfix's own ownership
	# and modes (postfix-files), e.g. maildrop postfix:postdrop 730.
	if ! postfix -c "$conf" set-permissions >"$dir/setup.log" 2>&1; then
		diag "postfix set-permissions failed"
		diag_file "$dir/setup.log"
		return 1
	fi
	if ! postfix -c "$conf" check >>"$dir/setup.log" 2>&1; then
		diag "postfix check failed"
		diag_file "$dir/setup.log"
		return 1
	fi
	_pf_confs+=("$conf")
	if ! postfix -c "$conf" start >>"$dir/setup.log" 2>&1; then
		diag "postfix start failed"
		diag_file "$dir/setup.log"
		diag_file "$PF_LOG"
		return 1
	fi
	if ! wait_port "$port" 15; then
		diag "postfix does not listen on 127.0.0.1:$port"
		diag_file "$dir/setup.log"
		diag_file "$PF_LOG"
		return 1
	fi
	if ! smtp_banner "$port" >"$dir/banner" 2>&1; then
		diag "postfix on 127.0.0.1:$port sends no 220 banner"
		diag_file "$dir/banner"
		diag_file "$PF_LOG"
		return 1
	fi
	return 0
}

# pf_listeners ARRAY NAME=MILTER... - one more smtpd listener in the
# running private Postfix ($PF_CONF) per NAME, each with its own
# smtpd_milters; their ports go into the associative ARRAY (declared by
# the caller). A free port can be taken by someone else on a shared
# machine before the master binds it, so a listener counts only when
# Postfix's own master holds it; the others get new ports and another
# reload (three tries).
pf_listeners() {
	local -n _pf_ports=$1
	shift
	local pending=("$@") left=() try kv n svc mpid
	mpid=$(postfix_master_pid "$PF_CONF")
	for ((try = 0; try < 3 && ${#pending[@]} > 0; try++)); do
		for kv in "${pending[@]}"; do
			n=${kv%%=*}
			if [ -n "${_pf_ports[$n]:-}" ]; then
				postconf -c "$PF_CONF" \
				    -MX "127.0.0.1:${_pf_ports[$n]}/inet" || return 1
			fi
			_pf_ports[$n]=$(free_port)
			svc=127.0.0.1:${_pf_ports[$n]}
			postconf -c "$PF_CONF" -M "$svc/inet=$svc inet n - n - - smtpd -o smtpd_milters=${kv#*=}" || {
				diag "postconf -M for $n failed"
				return 1
			}
		done
		postfix -c "$PF_CONF" reload >>"$PF_DIR/setup.log" 2>&1 || {
			diag "postfix reload failed"
			return 1
		}
		left=()
		for kv in "${pending[@]}"; do
			n=${kv%%=*}
			wait_port_pid "${_pf_ports[$n]}" "$mpid" 10 || {
				diag "Postfix does not listen for $n on ${_pf_ports[$n]} (try $((try + 1)))"
				left+=("$kv")
			}
		done
		pending=("${left[@]}")
	done
	[ ${#pending[@]} = 0 ]
}

# wait_port_pid PORT PID [SECS] - wait until process PID listens on
# 127.0.0.1:PORT (not merely someone)
wait_port_pid() {
	local port=$1 pid=$2 secs=${3:-15} i
	for ((i = 0; i < secs * 10; i++)); do
		ss -Hltnp "sport = :$port" 2>/dev/null |
		    grep -q "127.0.0.1:$port .*pid=$pid," && return 0
		sleep 0.1
	done
	return 1
}

# smtp_banner PORT - read the greeting (5 s at most), print it, QUIT;
# success when it is a 220
smtp_banner() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
line = f.readline().decode(errors="replace").rstrip()
print(line)
s.sendall(b"QUIT\r\n")
sys.exit(0 if line.startswith("220 ") else 1)
PY
}

# postfix_master_pid CONF - the master's pid from the instance's pid file
postfix_master_pid() {
	local qd
	qd=$(postconf -c "$1" -h queue_directory 2>/dev/null) || return 1
	[ -r "$qd/pid/master.pid" ] || return 1
	tr -d ' \n' <"$qd/pid/master.pid"
}

# postfix_stop CONF - stop an instance; kill its master if stop fails
postfix_stop() {
	local conf=$1 pid i
	pid=$(postfix_master_pid "$conf")
	postfix -c "$conf" stop >/dev/null 2>&1
	if [ -n "$pid" ]; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	return 0
}

# pf_queue_json - postqueue -j of the current instance (one JSON per line)
pf_queue_json() {
	postqueue -c "$PF_CONF" -j 2>/dev/null
}

# pf_queue_count QUEUE - messages in QUEUE (hold, active, deferred, ...)
pf_queue_count() {
	pf_queue_json | grep -c "\"queue_name\": *\"$1\""
}

# pf_wait_idle [SECS] - wait until nothing is waiting to be delivered
# (only held messages may remain); 1 on timeout
pf_wait_idle() {
	local secs=${1:-20} i
	for ((i = 0; i < secs * 10; i++)); do
		if ! pf_queue_json |
		    grep -Eq '"queue_name": *"(maildrop|incoming|active|deferred)"'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# pf_hold_has TEXT - a message in the hold queue contains TEXT
pf_hold_has() {
	local f
	for f in "$PF_DIR"/spool/hold/*; do
		[ -f "$f" ] || continue
		postcat -c "$PF_CONF" -bh "$f" 2>/dev/null | grep -qF -- "$1" &&
		    return 0
	done
	return 1
}

# --- swaks -----------------------------------------------------------------

# smtp SENDER_IP FROM TO [swaks options...] - send through Postfix; the
# transcript goes to $SMTP_OUT (a file), the exit code to SMTP_RC
smtp() {
	local ip=$1 from=$2 to=$3
	shift 3
	SMTP_OUT=${TESTTMP:-/tmp}/swaks.$((++_smtp_n)).out
	swaks --server "127.0.0.1:$PF_PORT" --local-interface "$ip" \
	    --helo client.example --from "$from" --to "$to" \
	    --timeout 15 "$@" >"$SMTP_OUT" 2>&1 </dev/null
	SMTP_RC=$?
	return 0
}
_smtp_n=0

# smtp_replies - the server's reply lines of the last transcript
smtp_replies() {
	sed -En 's/^ *<[-~*]* +//p' "$SMTP_OUT" | tr -d '\r'
}

# smtp_reply_to CMD - the server's reply to the last CMD (e.g. "RCPT TO")
smtp_reply_to() {
	tr -d '\r' <"$SMTP_OUT" | awk -v cmd="$1" '
		/^ *[-~*]*> / { sent = (index($0, cmd) > 0); next }
		/^ *<[-~*]* +/ { if (sent) { sub(/^ *<[-~*]* +/, ""); print } }'
}

# --- postern-filterd ---------------------------------------------------

# start_filterd DIR CONFTEXT - write DIR/filterd.conf, run filterd in the
# foreground (stderr to DIR/filterd.log), wait for the socket's port.
# Sets FILTERD_PID, FILTERD_CONF, FILTERD_LOG.
start_filterd() {
	local dir=$1 text=$2 port
	FILTERD_CONF=$dir/filterd.conf
	FILTERD_LOG=$dir/filterd.log
	printf '%s\n' "$text" >"$FILTERD_CONF"
	chmod 644 "$FILTERD_CONF"
	if [ ! -x "$FILTERD" ]; then
		diag "$FILTERD not built"
		return 1
	fi
	BG_LOG=$FILTERD_LOG start_bg filterd "$FILTERD" -f -c "$FILTERD_CONF"
	FILTERD_PID=$BG_PID
	port=$(sed -n 's/^socket *= *inet:\([0-9]*\)@.*/\1/p' "$FILTERD_CONF" |
	    head -n 1)
	if [ -n "$port" ]; then
		if ! wait_port "$port" 15; then
			diag "postern-filterd does not listen on port $port"
			diag_file "$FILTERD_LOG"
			return 1
		fi
	else
		sleep 1
	fi
	if ! kill -0 "$FILTERD_PID" 2>/dev/null; then
		diag "postern-filterd exited at start"
		diag_file "$FILTERD_LOG"
		return 1
	fi
	return 0
}

# restart_filterd DIR ARGS... - stop the running filterd (checking its
# log for sanitizer reports) and start one in DIR with the text of the
# calling script's "filterd_conf ARGS..." (same socket, new settings)
restart_filterd() {
	local dir=$1
	shift
	if [ -n "${FILTERD_PID:-}" ]; then
		stop_pid "$FILTERD_PID" 10
		check_no_sanitizer "$FILTERD_LOG"
	fi
	mkdir -p "$dir"
	start_filterd "$dir" "$(filterd_conf "$@")"
}

# check_no_sanitizer LOG - ok unless LOG has a sanitizer report
check_no_sanitizer() {
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$1"; then
		not_ok "no sanitizer report in $1"
		grep -E 'SUMMARY|ERROR|runtime error' "$1" | head -n 5 |
		    sed 's/^/# /'
	else
		ok "no sanitizer report in ${1##*/}"
	fi
}

# need_filterd - skip unless the filterd binary exists
need_filterd() {
	[ -x "$FILTERD" ] || setup_fail "$FILTERD not built"
}

# --- postern-mta -----------------------------------------------------------

# start_mta DIR TEXT - write TEXT to DIR/mta.conf and run postern-mta -f
# with it; waits until every smtp/submission(s)_listen port of the config
# listens. Sets MTA_PID, MTA_LOG, MTA_CONF.
start_mta() {
	local dir=$1 text=$2 port
	MTA_CONF=$dir/mta.conf
	MTA_LOG=$dir/mta.log
	printf '%s\n' "$text" >"$MTA_CONF"
	chmod 644 "$MTA_CONF"
	if [ ! -x "$MTA" ]; then
		diag "$MTA not built"
		return 1
	fi
	BG_LOG=$MTA_LOG start_bg mta "$MTA" -f -c "$MTA_CONF"
	MTA_PID=$BG_PID
	# the IPv4 listeners tell when the mta is up (all are bound by the
	# parent before any worker starts); [IPv6] ones are not waited for
	for port in $(sed -n 's/^ *\(smtp\|submission\|submissions\)_listen *= *//p' \
	    "$MTA_CONF" | tr ',' '\n' | grep -v '\[' | sed 's/.*://'); do
		if ! wait_port "$port" 15; then
			diag "postern-mta does not listen on port $port"
			diag_file "$MTA_LOG"
			return 1
		fi
	done
	if ! kill -0 "$MTA_PID" 2>/dev/null; then
		diag "postern-mta exited at start"
		diag_file "$MTA_LOG"
		return 1
	fi
	return 0
}

# converse DESC PORT [converse.py options] - run the script on stdin
# against 127.0.0.1:PORT (tests/smtp/converse.py: byte-exact sends and
# expected replies); ok when every expectation held, else not ok with the
# dialogue. The dialogue is kept in CONV_OUT.
converse() {
	local desc=$1 port=$2 rc
	shift 2
	CONV_OUT=$(/usr/bin/python3 "$TOP/tests/smtp/converse.py" "$@" \
	    127.0.0.1 "$port" - 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	printf '%s\n' "$CONV_OUT" | tail -n 25 | sed 's/^/#   /'
	return 1
}

# mta_queue_json DIR - posternctl queue list --json for queue DIR
mta_queue_json() {
	"$POSTERNCTL" queue -d "$1" list --json
}

# --- clamd ---------------------------------------------------------------

# clamd_ping SOCK - clamd on the unix socket SOCK answers zPING with PONG
# within 1 s. perl (Essential on Debian, starts in milliseconds) does the
# talking; clamdscan, only recommended by clamav-daemon, is the fallback.
# Not python3: behind a pyenv shim it takes 0.4 s to start.
clamd_ping() {
	if command -v perl >/dev/null; then
		perl -MIO::Socket::UNIX -e '
			$SIG{ALRM} = sub { exit 1 };
			alarm 1;
			my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1;
			print $s "zPING\0";
			my ($r, $b) = ("", "");
			$r .= $b while $r !~ /\0/ && sysread($s, $b, 64);
			exit($r eq "PONG\0" ? 0 : 1);' "$1"
	else
		printf 'LocalSocket %s\n' "$1" >"$1.ping.conf"
		clamdscan -c "$1.ping.conf" --ping 1 >/dev/null 2>&1
	fi
}

# start_clamd DIR DBDIR [LINE...] - a private clamd in the foreground on
# the unix socket DIR/clamd.sock serving the signatures in DBDIR (e.g.
# made by tests/data/clamav/make-testdb); config DIR/clamd.conf, log
# DIR/clamd.log (its stderr in DIR/clamd.stderr), temporary files in DIR.
# Each LINE ("StreamMaxLength 1M") replaces the default of that option:
# clamd silently keeps the first of two lines with the same option.
# Installs clamav-daemon when missing (as root; Debian's own clamd is not
# started: policy-rc.d says no). Waits until zPING answers (about 0.1 s
# with a tiny database). Sets CLAMD_SOCK, CLAMD_PID, CLAMD_CONF.
start_clamd() {
	local dir=$1 db=$2 line key i
	local -a conf
	local -A given=()
	shift 2
	mkdir -p "$dir"
	if ! command -v clamd >/dev/null && [ ! -x /usr/sbin/clamd ]; then
		if [ "$(id -u)" != 0 ]; then
			diag "start_clamd: clamd is not installed (clamav-daemon)"
			return 1
		fi
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends clamav-daemon \
		    >"$dir/apt.log" 2>&1; then
			diag "start_clamd: apt-get install clamav-daemon failed"
			diag_file "$dir/apt.log"
			return 1
		fi
	fi
	if [ ! -d "$db" ]; then
		diag "start_clamd: no database directory $db"
		return 1
	fi
	CLAMD_SOCK=$dir/clamd.sock
	CLAMD_CONF=$dir/clamd.conf
	# sun_path holds 108 bytes with the NUL
	if [ "${#CLAMD_SOCK}" -gt 107 ]; then
		diag "start_clamd: socket path too long: $CLAMD_SOCK"
		return 1
	fi
	for line in "$@"; do
		given[${line%% *}]=1
	done
	# SelfCheck: no database reload in the middle of a test;
	# ConcurrentDatabaseReload no: one engine's memory
	conf=(
		"LocalSocket $CLAMD_SOCK"
		"LocalSocketMode 600"
		"FixStaleSocket yes"
		"DatabaseDirectory $db"
		"Foreground yes"
		"LogFile $dir/clamd.log"
		"LogTime yes"
		"LogFileMaxSize 0"
		"PidFile $dir/clamd.pid"
		"TemporaryDirectory $dir"
		"StreamMaxLength 10M"
		"MaxThreads 4"
		"SelfCheck 3600"
		"ConcurrentDatabaseReload no"
	)
	# User makes clamd drop privileges, which only root can do
	[ "$(id -u)" = 0 ] && conf+=("User root")
	{
		for line in "${conf[@]}"; do
			key=${line%% *}
			[ -n "${given[$key]:-}" ] || printf '%s\n' "$line"
		done
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$CLAMD_CONF"
	BG_LOG=$dir/clamd.stderr start_bg clamd \
	    "$(command -v clamd || echo /usr/sbin/clamd)" -c "$CLAMD_CONF"
	CLAMD_PID=$BG_PID
	for ((i = 0; i < 300; i++)); do
		[ -S "$CLAMD_SOCK" ] && clamd_ping "$CLAMD_SOCK" && return 0
		kill -0 "$CLAMD_PID" 2>/dev/null || break
		sleep 0.05
	done
	diag "clamd does not answer PING on $CLAMD_SOCK"
	diag_file "$dir/clamd.stderr"
	diag_file "$dir/clamd.log"
	return 1
}
