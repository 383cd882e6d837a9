#!/bin/bash
# dnsbl.sh - the dnsbl module of postern-filterd as the milter of a real
# Postfix, asking a private nsd that serves tests/data/zones.
# Clients: 127.0.0.2 (the RFC 5782 test entry, listed by every list) and
# 127.0.0.3 (listed by none); both are outside mynetworks (127.0.0.1/32).
# Then the same with a DNS server that never answers: a DNS failure is no
# opinion by default (on_failure = accept), 451 4.3.0 with tempfail.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v nsd >/dev/null || setup_fail "nsd is not installed"

mktmp_var D e2e-dnsbl
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)

start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_silent_dns "$D" || setup_fail "the silent DNS socket does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"

# filterd_conf DNS_SERVERS [EXTRA] - filterd.conf text: the access module
# (relay control) and dnsbl; EXTRA lines go into [dnsbl]
filterd_conf() {
	cat <<EOF
socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      =
pipeline      = access, dnsbl
authserv_id   = mx.example.com
mynetworks    = 127.0.0.1/32
delay_reject  = yes
dns_servers   = $1
dns_timeout   = 1s
dns_attempts  = 1

[access]
relay_domains = ours.example

[dnsbl]
client_sites  = zen.example.net*2, bl.example.net
threshold     = 2
${2:-}
EOF
}

# expect_delivered DESC IP - accepted and in the sink; the sink file's text
# (CRs removed) is left in MSG
expect_delivered() {
	local desc=$1 ip=$2 m f
	m=mark-$$-$RANDOM$RANDOM
	smtp "$ip" a@client.example user@ours.example --header "Subject: $m"
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
	ok "$desc"
}

# expect_rcpt_refused DESC IP REGEX - swaks exit 24 (RCPT refused), the
# RCPT reply matches REGEX, and nothing of this message reaches the sink
expect_rcpt_refused() {
	local desc=$1 ip=$2 re=$3 m
	m=refused-$$-$RANDOM$RANDOM
	smtp "$ip" a@client.example user@ours.example --header "Subject: $m"
	if [ "$SMTP_RC" = 24 ] && smtp_reply_to 'RCPT TO' | grep -Eq -- "$re"
	then
		ok "$desc"
	else
		not_ok "$desc"
		diag "swaks exit $SMTP_RC (want 24); want RCPT reply /$re/"
		diag "$(smtp_replies | tail -n 4)"
	fi
	pf_wait_idle 20 || diag "queue did not become idle"
	if sink_has "Subject: $m"; then
		not_ok "$desc: nothing delivered"
	else
		ok "$desc: nothing delivered"
	fi
}

# --- (1) a working DNS server
restart_filterd "$D/f1" "127.0.0.1@$NSD_PORT" ||
    setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"

expect_rcpt_refused "listed 127.0.0.2: RCPT refused with 554 5.7.1" \
    127.0.0.2 '^554 5\.7\.1 '
reply=$(smtp_reply_to 'RCPT TO' | tail -n 1)
like "$reply" '^554 5\.7\.1 .*Service unavailable; client \[127\.0\.0\.2\] blocked using zen\.example\.net' \
    "listed: reply names the client and zen.example.net (highest weight)"
like "$reply" 'blocked using zen\.example\.net; Test entry, see https://zen\.example\.net/q\?127\.0\.0\.2$' \
    "listed: reply carries zen.example.net's TXT text"
like "$(cat "$PF_LOG")" 'milter-reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 ' \
    "listed: Postfix logs the refusal as the milter's (milter-reject)"
is "$(find "$SINK_DIR" -type f | wc -l | tr -d ' ')" 0 \
    "listed: the sink has received nothing"
like "$(cat "$FILTERD_LOG")" 'zen\.example\.net=127\.0\.0\.2\(\+2\)' \
    "listed: filterd logs the zen.example.net listing with its weight"
like "$(cat "$FILTERD_LOG")" 'bl\.example\.net=127\.0\.0\.2\(\+1\)' \
    "listed: filterd logs the bl.example.net listing with its weight"

if expect_delivered "unlisted 127.0.0.3: message delivered" 127.0.0.3; then
	like "$MSG" '^Authentication-Results: mx\.example\.com; none$' \
	    "unlisted: Authentication-Results added"
fi
expect_delivered "mynetworks 127.0.0.1: message delivered" 127.0.0.1

# --- (2) DNS never answers, default on_failure (accept = no opinion)
restart_filterd "$D/f2" "127.0.0.1@$SILENT_DNS_PORT" ||
    setup_fail "postern-filterd (silent DNS) does not start"
t0=$SECONDS
expect_delivered "DNS timeout, on_failure default: listed 127.0.0.2 delivered" \
    127.0.0.2
diag "took $((SECONDS - t0)) s"
like "$(cat "$FILTERD_LOG")" 'dnsbl: 2\.0\.0\.127\.zen\.example\.net: ' \
    "DNS timeout: filterd logs the failed zen.example.net lookup"
like "$(cat "$FILTERD_LOG")" 'module dnsbl failed at [a-z]+ .*on_failure=accept' \
    "DNS timeout: filterd logs the module failure with on_failure=accept"
unlike "$(cat "$FILTERD_LOG")" 'blocked using' \
    "DNS timeout: no listing is claimed"

# --- (3) DNS never answers, on_failure = tempfail
restart_filterd "$D/f3" "127.0.0.1@$SILENT_DNS_PORT" "on_failure = tempfail" ||
    setup_fail "postern-filterd (silent DNS, tempfail) does not start"
expect_rcpt_refused "DNS timeout, on_failure = tempfail: RCPT gets 451 4.3.0" \
    127.0.0.2 '^451 4\.3\.0 '
like "$(cat "$PF_LOG")" 'milter-reject: RCPT from unknown\[127\.0\.0\.2\]: 451 4\.3\.0 ' \
    "tempfail: Postfix logs the 451 as the milter's (milter-reject)"
like "$(cat "$FILTERD_LOG")" 'module dnsbl failed at [a-z]+ .*on_failure=tempfail' \
    "DNS timeout: filterd logs the module failure with on_failure=tempfail"

if kill -0 "$FILTERD_PID" 2>/dev/null; then
	ok "postern-filterd still running"
else
	not_ok "postern-filterd still running"
fi
stop_pid "$FILTERD_PID" 10
check_no_sanitizer "$FILTERD_LOG"
if [ "$_tap_failed" -gt 0 ]; then
	for f in "$D"/f*/filterd.log; do
		diag_file "$f" 30
	done
	diag_file "$PF_LOG" 40
fi

done_testing
