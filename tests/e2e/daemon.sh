#!/bin/bash
# daemon.sh - postern-filterd as a daemon: pid file, privilege drop, unix
# socket permissions, SIGUSR1 reload (good and bad configs), table files
# reloaded on change, stale socket removal, clean stop.
. "$(dirname "$0")/../lib.sh"
need_filterd
mktmp_var D daemon
LUA=$TOP/tests/e2e/rcpt.lua

# expect WANT IP RCPT DESC - one miltertest transaction against $SOCK
expect() {
	local out
	if out=$(miltertest -s "$LUA" -D sock="$SOCK" -D ip="$2" \
	    -D rcpt="$3" -D want="$1" 2>&1); then
		ok "$4"
	else
		not_ok "$4"
		diag "$out"
		diag_file "$FILTERD_LOG" 10
	fi
}

# wait_log REGEX [SECS] - wait until the filterd log matches
wait_log() {
	local i
	for ((i = 0; i < ${2:-10} * 10; i++)); do
		grep -Eq -- "$1" "$FILTERD_LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

printf '# clients\n' >"$D/clients"
chmod 644 "$D/clients"
# the socket's directory belongs to the run user, as systemd's
# RuntimeDirectory= would make it, so filterd can remove it at stop
mkdir -p "$D/sock" && chown nobody "$D/sock"
SOCK=unix:$D/sock/filterd.sock
conf() {
	cat <<EOT
socket       = $SOCK
socket_mode  = 0600
user         = nobody
pid_file     = $D/run/filterd.pid
authserv_id  = mx.example.com
mynetworks   = 127.0.0.1/32
table_check_interval = 1s
[access]
relay_domains       = $1
client_restrictions = check_client_access hash:$D/clients
EOT
}

# a stale socket file from a crash must not stop the start
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" \
    "$D/sock/filterd.sock"
start_filterd "$D" "$(conf ours.example)" || setup_fail "filterd did not start"
for ((i = 0; i < 50; i++)); do [ -S "$D/sock/filterd.sock" ] && break; sleep 0.1; done
# the stale socket is replaced once filterd listens
expect reply 192.0.2.10 victim@other.example "stale unix socket replaced; relay refused over unix socket"

is "$(stat -c %a "$D/sock/filterd.sock")" 600 "unix socket has socket_mode 0600"
is "$(cat "$D/run/filterd.pid" 2>/dev/null)" "$FILTERD_PID" "pid file holds filterd's pid"
is "$(ps -o user= -p "$FILTERD_PID" | tr -d ' ')" nobody "runs as the configured user"

expect continue 192.0.2.10 user@ours.example "local domain accepted"

# reload with a good config: other.example becomes a relay domain
conf "ours.example, other.example" >"$D/filterd.conf"
kill -USR1 "$FILTERD_PID"
if wait_log "configuration .* reloaded"; then
	ok "SIGUSR1 reload logged"
else
	not_ok "SIGUSR1 reload logged"
fi
expect continue 192.0.2.10 victim@other.example "reloaded config in force"

# reload with a broken config: errors logged with FILE:LINE, old one stays
printf 'socket = %s\nbogus_setting = 1\n[access]\nclient_restrictions = frob\n' \
    "$SOCK" >"$D/filterd.conf"
kill -USR1 "$FILTERD_PID"
if wait_log "filterd.conf:2: unknown setting 'bogus_setting'" &&
    wait_log "filterd.conf:4: .*frob"; then
	ok "bad reload logs every error with FILE:LINE"
else
	not_ok "bad reload logs every error with FILE:LINE"
	diag_file "$FILTERD_LOG" 15
fi
check "filterd survives a bad reload" kill -0 "$FILTERD_PID"
expect continue 192.0.2.10 victim@other.example "running config kept after a bad reload"

# a changed table file is picked up without a signal (interval 1s)
printf '192.0.2.10 REJECT blocked by the daemon test\n' >"$D/clients"
sleep 2.5
expect reply 192.0.2.10 user@ours.example "changed table reloaded on its own"
if wait_log "reject: RCPT from client.example\[192.0.2.10\]: 554 5.7.1 .*blocked by the daemon test"; then
	ok "table action text in the reject log line"
else
	not_ok "table action text in the reject log line"
	diag_file "$FILTERD_LOG" 10
fi

# SIGTERM stops filterd and removes pid file and socket
kill -TERM "$FILTERD_PID"
for ((i = 0; i < 50; i++)); do kill -0 "$FILTERD_PID" 2>/dev/null || break; sleep 0.1; done
check "SIGTERM stops filterd" bash -c "! kill -0 $FILTERD_PID 2>/dev/null"
check "socket removed at stop" test ! -e "$D/sock/filterd.sock"
check "pid file removed at stop" test ! -e "$D/run/filterd.pid"

# an inet6 listener on ::1 serves a whole transaction
if ip -6 addr show lo 2>/dev/null | grep -q "inet6 ::1"; then
	mktmp_var D6 daemon6
	P6=$(free_port)
	start_filterd "$D6" "socket = inet6:$P6@::1
user = nobody
pid_file = \"\"
authserv_id = mx.example.com
[access]
relay_domains = ours.example" || setup_fail "filterd on inet6 did not start"
	if ss -ltn | grep -q "\[::1\]:$P6 "; then
		ok "inet6 socket listens on [::1]:$P6"
	else
		not_ok "inet6 socket listens on [::1]:$P6"
	fi
	out=$("$BUILD/tests/bench/milterload" -s "inet6:$P6@::1" -c 1 -n 3 \
	    -d ours.example 2>&1)
	like "$out" "^outcomes: continue=3$" "inet6: three transactions accepted"
else
	ok "# SKIP no ::1 on this machine"
fi

done_testing
