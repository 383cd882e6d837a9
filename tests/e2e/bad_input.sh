#!/bin/bash
# bad_input.sh - postern-filterd and bad input: a config full of mistakes
# (every one reported with FILE:LINE, no start), a table that becomes
# unreadable at run time (tempfail, never "not listed"), and malformed
# milter traffic (the daemon survives and still works).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"

mktmp_var D e2e-bad
HERE=$(cd "$(dirname "$0")" && pwd)

# --- (1) a config with several errors ------------------------------------
BPORT=$(free_port)
BAD=$D/bad.conf
# Line numbers matter: see the list below.
cat >"$BAD" <<EOF
# bad_input.sh: one mistake per marked line
socket = inet:$BPORT@127.0.0.1
pid_file = $D/bad.pid
pipeline = access
no_such_key = 1
milter_timeout = 5 fortnights
authserv_id = mx.example.com
[access]
relay_domains = ours.example
client_restrictions = check_client_access hash:$D/no-such-table
sender_restrictions = permit_if_you_ask_nicely
[no_such_section]
whatever = 1
EOF
declare -A WANT=(
	[5]="unknown key no_such_key"
	[6]="bad duration"
	[10]="unreadable table"
	[11]="bad restriction word"
	[12]="unknown section"
)
"$FILTERD" -n -c "$BAD" >"$D/n.out" 2>"$D/n.err"
rc=$?
is "$rc" 1 "-n with a bad config exits 1"
OUT=$(cat "$D/n.out" "$D/n.err")
for line in 5 6 10 11 12; do
	like "$OUT" "^$BAD:$line: " "-n reports line $line (${WANT[$line]})"
done
n=$(grep -c "^$BAD:[0-9]*: " <<<"$OUT")
diag "-n printed $n FILE:LINE error line(s):"
diag "$(grep "^$BAD:" <<<"$OUT")"
grep -q "^$BAD:" "$D/n.out" && diag "(errors went to stdout, not stderr)"

# Without -n: must refuse to start, the port never opens.
BG_LOG=$D/bad-start.log start_bg bad-start "$FILTERD" -f -c "$BAD"
pid=$BG_PID
opened=0
for ((i = 0; i < 100; i++)); do
	port_listening "$BPORT" && opened=1
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "bad config: filterd refuses to start (still running after 10 s)"
	stop_pid "$pid"
else
	wait "$pid"
	rc=$?
	[ "$rc" -ne 0 ] && ok "bad config: filterd exits non-zero ($rc)" ||
	    not_ok "bad config: filterd exits non-zero (got 0)"
fi
is "$opened" 0 "bad config: the milter port never opens"
like "$(cat "$D/bad-start.log")" "^$BAD:5: " \
    "bad config: the start attempt names FILE:LINE too"
[ -e "$D/bad.pid" ] && not_ok "bad config: no pid file written" ||
    ok "bad config: no pid file written"

# A duplicate key is an error at the second occurrence.
cat >"$D/dup.conf" <<EOF
socket = inet:$BPORT@127.0.0.1
pipeline = access
socket = inet:$BPORT@127.0.0.1
EOF
"$FILTERD" -n -c "$D/dup.conf" >"$D/dup.out" 2>&1
is "$?" 1 "duplicate key: -n exits 1"
like "$(cat "$D/dup.out")" "^$D/dup.conf:3: " "duplicate key reported at line 3"

# --- (2) a table that becomes unreadable at run time ------------------------
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)
printf '127.0.0.9\tREJECT not you\n' >"$D/clients"
chmod 644 "$D/clients"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
start_filterd "$D" "socket = inet:$FPORT@127.0.0.1
user = nobody
pid_file = $D/filterd.pid
pipeline = access
authserv_id = mx.example.com
mynetworks = 127.0.0.1/32

[access]
relay_domains = ours.example
client_restrictions = check_client_access hash:$D/clients" ||
    setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"

# send_via_postfix DESC - a good message from 127.0.0.2 must be delivered
send_good() {
	local m=good-$$-$RANDOM$RANDOM
	smtp 127.0.0.2 a@client.example user@ours.example --header "Subject: $m"
	if [ "$SMTP_RC" = 0 ] && sink_find "Subject: $m" 20 >/dev/null; then
		ok "$1"
	else
		not_ok "$1"
		diag "swaks exit $SMTP_RC: $(smtp_replies | tail -n 2)"
	fi
}

# send_tempfail DESC - the message must get 451 4.3.0 and not be delivered
send_tempfail() {
	local m=tf-$$-$RANDOM$RANDOM
	smtp 127.0.0.2 a@client.example user@ours.example --header "Subject: $m"
	if [ "$SMTP_RC" != 0 ] && smtp_replies | grep -q '^451 4\.3\.0'; then
		ok "$1"
	else
		not_ok "$1"
		diag "swaks exit $SMTP_RC; replies:"
		diag "$(smtp_replies)"
	fi
	pf_wait_idle 10
	sink_has "$m" && not_ok "$1: not delivered" || ok "$1: not delivered"
}

# reload - SIGUSR1 and give the reload a moment
reload() {
	kill -USR1 "$FILTERD_PID"
	sleep 1.5
	kill -0 "$FILTERD_PID" 2>/dev/null && ok "alive after SIGUSR1 ($1)" ||
	    not_ok "alive after SIGUSR1 ($1)"
}

send_good "table readable: message from 127.0.0.2 delivered"

rm -f "$D/clients"
reload "table deleted"
send_tempfail "table deleted + SIGUSR1: 451 4.3.0, not permitted"

printf '127.0.0.9\tREJECT not you\n' >"$D/clients"
chmod 644 "$D/clients"
reload "table restored"
send_good "table restored + SIGUSR1: delivered again"

chmod 000 "$D/clients"
reload "table mode 000"
send_tempfail "table unreadable for user nobody + SIGUSR1: 451 4.3.0"
chmod 644 "$D/clients"

printf 'garbage-line-without-value\n\001\002\377\000 x\n' >"$D/clients"
reload "table corrupt"
send_tempfail "table with a malformed line + SIGUSR1: 451 4.3.0"

printf '127.0.0.9\tREJECT not you\n' >"$D/clients"
reload "table restored again"
send_good "table restored again: delivered"

# --- (3) malformed milter traffic ----------------------------------------------
python3 "$HERE/milter_fuzz.py" "$FPORT" 200 >"$D/fuzz.out" 2>&1
frc=$?
cat "$D/fuzz.out" | grep '^#'
is "$frc" 0 "fuzzer ran (200 connections)"
sleep 1
if kill -0 "$FILTERD_PID" 2>/dev/null; then
	ok "postern-filterd alive after malformed traffic"
else
	not_ok "postern-filterd alive after malformed traffic"
	diag_file "$FILTERD_LOG" 30
fi
send_good "after malformed traffic: a normal message is delivered"
M=after-fuzz-$$
smtp 127.0.0.2 a@client.example victim@third.example
if [ "$SMTP_RC" = 24 ] && smtp_reply_to 'RCPT TO' | grep -q '^554 5\.7\.1'
then
	ok "after malformed traffic: relay still refused"
else
	not_ok "after malformed traffic: relay still refused"
	diag "swaks exit $SMTP_RC: $(smtp_replies | tail -n 2)"
fi
if grep -Eq 'AddressSanitizer|runtime error:|panic' "$FILTERD_LOG"; then
	not_ok "no sanitizer report or panic in filterd's log"
	grep -E -A5 'AddressSanitizer|runtime error:|panic' "$FILTERD_LOG" |
	    head -n 30 | sed 's/^/# /'
else
	ok "no sanitizer report or panic in filterd's log"
fi

[ "$_tap_failed" -gt 0 ] && diag_file "$FILTERD_LOG" 30
done_testing
