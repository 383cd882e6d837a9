#!/bin/bash
# postfix_harness.sh - the e2e harness itself works: a private Postfix
# instance (no milter) relays mail from 127.0.0.2 to smtp-sink, rejects
# with its own code, holds mail, and stops cleanly.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

for tool in postfix postconf postqueue postcat smtp-sink swaks python3 ss; do
	command -v "$tool" >/dev/null || setup_fail "$tool not installed"
done
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"

mktmp_var D e2e-harness
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
start_postfix "$D/pf" "$PF_PORT" \
    'smtpd_sender_restrictions = check_sender_access inline:{ reject@bad.example=REJECT, hold@bad.example=HOLD }' ||
    setup_fail "private Postfix does not start"
ok "private Postfix listens on 127.0.0.1:$PF_PORT"

# 1. relay from 127.0.0.2 to the sink
M=harness-$$-$RANDOM
smtp 127.0.0.2 sender@client.example rcpt@ours.example \
    --header "Subject: $M" --header "X-Harness: yes" \
    --body "body line $M"
is "$SMTP_RC" 0 "swaks from 127.0.0.2 is accepted" ||
    diag_file "$SMTP_OUT"
F=$(sink_find "body line $M" 20)
if [ -n "$F" ]; then
	ok "message reaches the sink"
	C=$(tr -d '\r' <"$F")
	like "$C" "^Subject: $M\$" "sink file has the Subject header"
	like "$C" '^X-Harness: yes$' "sink file has the added header"
	like "$C" "^body line $M\$" "sink file has the body"
	like "$C" '^X-Rcpt-Args: <rcpt@ours.example>' \
	    "sink saw the envelope recipient"
	like "$C" '^X-Mail-Args: <sender@client.example>' \
	    "sink saw the envelope sender"
	like "$C" '^Received: from client.example \(unknown \[127\.0\.0\.2\]\)' \
	    "Postfix's Received: names client 127.0.0.2"
	like "$C" 'by mx\.example\.com \(Postfix\)' "myhostname is mx.example.com"
else
	not_ok "message reaches the sink"
	diag_file "$PF_LOG"
fi
like "$(cat "$PF_LOG")" 'connect from unknown\[127\.0\.0\.2\]' \
    "maillog_file records the 127.0.0.2 client"
like "$(cat "$PF_LOG")" 'status=sent' "maillog_file records the delivery"

# 2. Postfix's own rejection (delay_reject: reported at RCPT)
smtp 127.0.0.2 reject@bad.example rcpt@ours.example --body "x"
is "$SMTP_RC" 24 "Postfix's REJECT: swaks exit 24 (no recipient)"
like "$(smtp_reply_to 'RCPT TO')" \
    '^554 5\.7\.1 <reject@bad\.example>: Sender address rejected: Access denied' \
    "Postfix's own code and text reach swaks"

# 3. HOLD lands in the hold queue, not in the sink
M=held-$$-$RANDOM
smtp 127.0.0.2 hold@bad.example rcpt@ours.example --header "Subject: $M"
is "$SMTP_RC" 0 "HOLD message accepted"
pf_wait_idle 20 || diag "queue not idle"
is "$(pf_queue_count hold)" 1 "postqueue -j shows one message in hold"
check "the held message is the one sent" pf_hold_has "$M"
sink_has "$M" && not_ok "held message not in the sink" ||
    ok "held message not in the sink"

# 4. stopping by master pid works
PID=$(postfix_master_pid "$PF_CONF")
if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
	ok "master pid $PID from the instance's pid file"
	postfix_stop "$PF_CONF"
	kill -0 "$PID" 2>/dev/null && not_ok "postfix stops" ||
	    ok "postfix stops"
else
	not_ok "master pid from the instance's pid file"
fi

done_testing
