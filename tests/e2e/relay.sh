#!/bin/bash
# relay.sh - postern-filterd as the milter of a real Postfix: relay control,
# access table actions end to end, Authentication-Results, relay tricks.
# Clients: 127.0.0.2 (outside mynetworks) and 127.0.0.1 (inside).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"

mktmp_var D e2e-relay
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)

cat >"$D/senders" <<'EOF'
# check_sender_access hash: table (text, read directly by filterd)
reject@bad.example	REJECT go away
defer@bad.example	DEFER try later
custom@bad.example	550 5.7.0 custom text
discard@bad.example	DISCARD
hold@bad.example	HOLD
prepend@bad.example	PREPEND X-Postern-Test: prepended
ok@good.example		OK
EOF
chmod 644 "$D/senders"

# the pid file lives in a directory the unprivileged user owns (like
# systemd's RuntimeDirectory=), so filterd can remove it after dropping root
mkdir "$D/run" && chown nobody "$D/run"

start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
start_filterd "$D" "socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      = $D/run/filterd.pid
pipeline      = access
authserv_id   = mx.example.com
mynetworks    = 127.0.0.1/32
delay_reject  = yes

[access]
relay_domains  = ours.example
local_domains  = mx.example.com
sender_restrictions = check_sender_access inline:{ inline-reject@bad.example=REJECT },
	check_sender_access hash:$D/senders" ||
    setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"

if [ -r "$D/run/filterd.pid" ]; then
	is "$(tr -d ' \n' <"$D/run/filterd.pid")" "$FILTERD_PID" \
	    "pid_file holds the daemon's pid"
else
	not_ok "pid_file holds the daemon's pid"
fi

# expect_delivered DESC IP FROM TO [swaks opts] - accepted and in the sink;
# the sink file's text (CRs removed) is left in MSG
expect_delivered() {
	local desc=$1 ip=$2 from=$3 to=$4 m f
	shift 4
	m=mark-$$-$RANDOM$RANDOM
	smtp "$ip" "$from" "$to" --header "Subject: $m" "$@"
	MSG=
	if [ "$SMTP_RC" != 0 ]; then
		not_ok "$desc (swaks exit $SMTP_RC)"
		diag "$(smtp_replies | tail -n 3)"
		return 1
	fi
	f=$(sink_find "Subject: $m" 20)
	if [ -z "$f" ]; then
		not_ok "$desc (accepted but not in the sink)"
		diag_file "$PF_LOG" 10
		return 1
	fi
	MSG=$(tr -d '\r' <"$f")
	QID=$(smtp_replies | sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' |
	    tail -n 1)
	ok "$desc"
}

# expect_rcpt_refused DESC IP FROM TO REGEX - swaks exit 24 and the RCPT
# reply matches REGEX
expect_rcpt_refused() {
	local desc=$1 ip=$2 from=$3 to=$4 re=$5
	smtp "$ip" "$from" "$to" --body "should not pass"
	if [ "$SMTP_RC" = 24 ] && smtp_reply_to 'RCPT TO' | grep -Eq -- "$re"
	then
		ok "$desc"
	else
		not_ok "$desc"
		diag "swaks exit $SMTP_RC (want 24); want RCPT reply /$re/"
		diag "$(smtp_replies | tail -n 4)"
		return 1
	fi
}

# expect_not_delivered DESC M - after the queue is idle no sink file has M
expect_not_delivered() {
	pf_wait_idle 20 || diag "queue did not become idle"
	if sink_has "$2"; then
		not_ok "$1"
	else
		ok "$1"
	fi
}

# --- (1) relay refused from outside mynetworks
expect_rcpt_refused "127.0.0.2 -> third party: 554 5.7.1 Relay access denied" \
    127.0.0.2 a@client.example victim@third.example \
    '^554 5\.7\.1 <victim@third\.example>: Relay access denied'

# --- (2) relay and local domains accepted, Authentication-Results added
if expect_delivered "127.0.0.2 -> relay domain accepted and delivered" \
    127.0.0.2 a@client.example user@ours.example; then
	is "$(printf '%s\n' "$MSG" | grep -c '^Authentication-Results:')" 1 \
	    "exactly one Authentication-Results header"
	like "$MSG" '^Authentication-Results: mx\.example\.com; none$' \
	    "Authentication-Results: mx.example.com; none"
	# the header is a trace field: at the top, above the message's own
	# headers (Postfix puts an index-0 insert above its own Received:;
	# the window starts after the capturing sink's trace lines)
	first=$(printf '%s\n' "$MSG" | sed -n '/by sink.example/,$p' |
	    grep -n -m1 -E '^(Authentication-Results|Date|From|To|Subject):' |
	    cut -d: -f2)
	is "$first" "Authentication-Results" \
	    "Authentication-Results precedes the message's headers"
	if [ -n "$QID" ]; then
		like "$(cat "$FILTERD_LOG")" "$QID.*action=|action=.*$QID" \
		    "filterd logs one line with action= for queue id $QID"
	else
		not_ok "queue id in swaks' DATA reply"
	fi
fi
expect_delivered "127.0.0.2 -> local domain (mx.example.com) accepted" \
    127.0.0.2 a@client.example postmaster@mx.example.com
expect_delivered "127.0.0.2 -> relay domain in upper case accepted" \
    127.0.0.2 a@client.example user@OURS.Example
expect_delivered "127.0.0.2 null sender -> relay domain accepted" \
    127.0.0.2 '<>' user@ours.example

# one recipient refused, the other delivered
M=multi-$$-$RANDOM
smtp 127.0.0.2 a@client.example user@ours.example,victim@third.example \
    --header "Subject: $M"
is "$SMTP_RC" 0 "mixed recipients: message accepted for the good one"
F=$(sink_find "Subject: $M" 20)
if [ -n "$F" ]; then
	C=$(tr -d '\r' <"$F")
	like "$C" '^X-Rcpt-Args: <user@ours\.example>' \
	    "mixed recipients: relay domain recipient delivered"
	unlike "$C" 'victim@third\.example>' \
	    "mixed recipients: third party not delivered"
else
	not_ok "mixed recipients: message in the sink"
fi
like "$(smtp_replies)" '^554 5\.7\.1 <victim@third\.example>: Relay access denied' \
    "mixed recipients: third party refused"

# --- (3) mynetworks may relay
expect_delivered "127.0.0.1 (mynetworks) -> third party accepted" \
    127.0.0.1 a@client.example victim@third.example
like "$MSG" '^Authentication-Results: mx\.example\.com; none$' \
    "mynetworks mail also gets Authentication-Results"

# --- (4) access table actions
expect_rcpt_refused "inline: REJECT -> 554 5.7.1 Access denied" \
    127.0.0.2 inline-reject@bad.example user@ours.example \
    '^554 5\.7\.1 <inline-reject@bad\.example>: Sender address rejected: Access denied'
expect_rcpt_refused "hash: REJECT text -> 554 5.7.1 with the text" \
    127.0.0.2 reject@bad.example user@ours.example \
    '^554 5\.7\.1 <reject@bad\.example>: Sender address rejected: go away'
expect_rcpt_refused "hash: DEFER text -> 450 4.7.1 with the text" \
    127.0.0.2 defer@bad.example user@ours.example \
    '^450 4\.7\.1 <defer@bad\.example>: Sender address rejected: try later'
expect_rcpt_refused "hash: '550 5.7.0 custom text' -> that code" \
    127.0.0.2 custom@bad.example user@ours.example \
    '^550 5\.7\.0 .*custom text'
expect_rcpt_refused "a refused sender still gets its code for a third party" \
    127.0.0.2 reject@bad.example victim@third.example '^5[0-9][0-9] 5\.7\.'

M=discard-$$-$RANDOM
smtp 127.0.0.2 discard@bad.example user@ours.example --header "Subject: $M"
is "$SMTP_RC" 0 "DISCARD: the client sees success"
expect_not_delivered "DISCARD: message not in the sink" "$M"
is "$(pf_queue_count hold)" 0 "DISCARD: nothing in the hold queue"

M=hold-$$-$RANDOM
smtp 127.0.0.2 hold@bad.example user@ours.example --header "Subject: $M"
is "$SMTP_RC" 0 "HOLD: the client sees success"
expect_not_delivered "HOLD: message not in the sink" "$M"
is "$(pf_queue_count hold)" 1 "HOLD: one message in Postfix's hold queue"
check "HOLD: the held message is the one sent" pf_hold_has "$M"
grep -q 'milter-hold' "$PF_LOG" &&
    diag "$(grep 'milter-hold' "$PF_LOG" | tail -n 1)"

if expect_delivered "PREPEND: message delivered" \
    127.0.0.2 prepend@bad.example user@ours.example; then
	like "$MSG" '^X-Postern-Test: prepended$' \
	    "PREPEND: header in the delivered message"
fi
expect_delivered "OK: message delivered" \
    127.0.0.2 ok@good.example user@ours.example
expect_rcpt_refused "OK in sender_restrictions does not open the relay" \
    127.0.0.2 ok@good.example victim@third.example \
    '^554 5\.7\.1 <victim@third\.example>: Relay access denied'

# --- (5) forged Authentication-Results removed, foreign ones kept
M=authres-$$-$RANDOM
cat >"$D/forged.eml" <<EOF
Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=forged1.example
Authentication-Results: other.example; spf=pass smtp.mailfrom=foreign.example
Authentication-Results: MX.Example.COM;
	dkim=pass header.d=forged2.example
Authentication-Results: mx.example.com 1; spf=pass smtp.mailfrom=forged3.example
From: <a@client.example>
To: <user@ours.example>
Subject: $M
Date: Mon, 2 Jan 2023 03:04:05 +0000
Message-ID: <$M@client.example>

forged results test
EOF
smtp 127.0.0.2 a@client.example user@ours.example --data "@$D/forged.eml"
is "$SMTP_RC" 0 "forged Authentication-Results: message accepted"
F=$(sink_find "Subject: $M" 20)
if [ -n "$F" ]; then
	C=$(tr -d '\r' <"$F")
	unlike "$C" 'forged1\.example' "forged 'mx.example.com; spf=pass' removed"
	unlike "$C" 'forged2\.example' \
	    "forged 'MX.Example.COM; dkim=pass' (other case, folded) removed"
	unlike "$C" 'forged3\.example' \
	    "forged 'mx.example.com 1; spf=pass' (with version) removed"
	like "$C" '^Authentication-Results: other\.example; spf=pass smtp\.mailfrom=foreign\.example$' \
	    "foreign 'other.example; spf=pass' kept"
	like "$C" '^Authentication-Results: mx\.example\.com; none$' \
	    "our own Authentication-Results present"
else
	not_ok "forged Authentication-Results: message in the sink"
fi

# --- (6) relay tricks through Postfix, from outside mynetworks
# Postfix (3.7, relayhost set, mydestination empty) passes these to the
# milter as received (quoted local parts re-quoted); whatever filterd
# answers, accepting them would relay to the sink.
for trick in 'user%victim.example@ours.example' \
    '"user@victim.example"@ours.example' \
    'victim.example!user@ours.example' \
    '@ours.example:user@victim.example' \
    'user@victim.example@ours.example' \
    '"user%victim.example"@ours.example'; do
	M=trick-$$-$RANDOM
	smtp 127.0.0.2 a@client.example "$trick" --header "Subject: $M"
	reply=$(smtp_reply_to 'RCPT TO' | tail -n 1)
	sent=$(sed -n 's/^ *-> RCPT TO://p' "$SMTP_OUT" | tr -d '\r')
	diag "RCPT TO:$sent -> $reply (swaks exit $SMTP_RC)"
	if [ "$SMTP_RC" = 24 ] && printf '%s\n' "$reply" | grep -q '^5'; then
		ok "relay trick $trick refused"
		if ! printf '%s\n' "$reply" | grep -q 'Relay access denied'; then
			diag "  (refused by Postfix, not by filterd)"
		fi
	else
		not_ok "relay trick $trick refused"
		if [ "$SMTP_RC" = 0 ]; then
			pf_wait_idle 10
			f=$(sink_find "Subject: $M" 5) &&
			    diag "$(grep '^X-Rcpt-Args' "$f")"
		fi
	fi
done

if kill -0 "$FILTERD_PID" 2>/dev/null; then
	ok "postern-filterd still running"
else
	not_ok "postern-filterd still running"
fi
n=$(grep -c 'action=' "$FILTERD_LOG")
diag "filterd logged $n line(s) with action="

# --- SIGTERM stops filterd cleanly; Postfix then fails closed (tempfail)
kill -TERM "$FILTERD_PID"
for ((i = 0; i < 100; i++)); do
	kill -0 "$FILTERD_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$FILTERD_PID" 2>/dev/null; then
	not_ok "SIGTERM stops postern-filterd within 10 s"
else
	wait "$FILTERD_PID"
	is "$?" 0 "SIGTERM: postern-filterd exits with status 0"
	[ -e "$D/run/filterd.pid" ] && not_ok "SIGTERM: pid file removed" ||
	    ok "SIGTERM: pid file removed"
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$FILTERD_LOG"; then
		not_ok "no sanitizer report in filterd's log"
		grep -E 'SUMMARY|ERROR' "$FILTERD_LOG" | head -n 5 |
		    sed 's/^/# /'
	else
		ok "no sanitizer report in filterd's log"
	fi
fi
M=down-$$-$RANDOM
smtp 127.0.0.2 a@client.example victim@third.example --header "Subject: $M"
if [ "$SMTP_RC" != 0 ] && smtp_replies | grep -q '^4[0-9][0-9] '; then
	ok "filter down: Postfix tempfails (milter_default_action = tempfail)"
else
	not_ok "filter down: Postfix tempfails (milter_default_action = tempfail)"
	diag "swaks exit $SMTP_RC: $(smtp_replies | tail -n 3)"
fi
if [ "$_tap_failed" -gt 0 ]; then
	diag_file "$FILTERD_LOG" 40
	diag_file "$PF_LOG" 40
fi

done_testing
