#!/bin/bash
# spf.sh - the spf module of postern-filterd as the milter of a real
# Postfix, asking a private nsd that serves tests/data/zones/spf.example.org.
#
# libspf2 answers "pass" for any 127/8 client without asking DNS, so the
# test client (connected from 127.0.0.1, which Postfix trusts for XCLIENT)
# announces itself as 192.0.2.10 with XCLIENT ADDR; Postfix then tells the
# milter that address. Every SPF result reaches the message or the SMTP
# reply; the records built for libspf2's known bugs end in permerror with
# filterd still running; a client in mynetworks is not checked; a DNS
# server that never answers gives temperror (451 4.7.24 at RCPT).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v nsd >/dev/null || setup_fail "nsd is not installed"

mktmp_var D e2e-spf
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)
Z=spf.example.org
HELO=mail.$Z

start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_silent_dns "$D" || setup_fail "the silent DNS socket does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"

# filterd_conf DNS_SERVERS [EXTRA] - filterd.conf text: access (relay
# control) and spf; EXTRA lines go into [spf]
filterd_conf() {
	cat <<EOF
socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      =
pipeline      = access, spf
authserv_id   = mx.example.com
hostname      = mx.example.com
mynetworks    = 127.0.0.1/32, 192.0.2.200/32
delay_reject  = yes
dns_servers   = $1
dns_timeout   = 1s
dns_attempts  = 1

[access]
relay_domains = ours.example

[spf]
${2:-}
EOF
}

# send CLIENT_IP HELO FROM SUBJECT - one message to user@ours.example from
# 127.0.0.1, presented to Postfix (and so to filterd) as CLIENT_IP
send() {
	smtp 127.0.0.1 "$3" user@ours.example --xclient-addr "$1" \
	    --helo "$2" --header "Subject: $4"
}

# expect_delivered DESC CLIENT_IP HELO FROM - accepted and in the sink;
# the message's header (CRs removed, folded lines joined) is left in MSG
expect_delivered() {
	local desc=$1 m f
	m=spf-$$-$RANDOM$RANDOM
	send "$2" "$3" "$4" "$m"
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
	MSG=$(tr -d '\r' <"$f" | sed '/^$/q' |
	    awk 'NR > 1 && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		 NR > 1 { printf "\n" } { printf "%s", $0 } END { printf "\n" }')
	ok "$desc"
}

# expect_refused DESC CLIENT_IP HELO FROM REPLY - RCPT refused (swaks exit
# 24) with exactly REPLY, and nothing reaches the sink
expect_refused() {
	local desc=$1 want=$5 m got
	m=spf-$$-$RANDOM$RANDOM
	send "$2" "$3" "$4" "$m"
	got=$(smtp_reply_to 'RCPT TO' | tail -n 1)
	if [ "$SMTP_RC" = 24 ] && [ "$got" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "swaks exit $SMTP_RC (want 24)"
		diag "got:  $got"
		diag "want: $want"
	fi
	pf_wait_idle 20 || diag "queue did not become idle"
	if sink_has "Subject: $m"; then
		not_ok "$desc: nothing delivered"
	else
		ok "$desc: nothing delivered"
	fi
}

# ar_is DESC FRAGMENT - MSG's Authentication-Results is exactly ours with
# FRAGMENT as its only result
ar_is() {
	is "$(printf '%s\n' "$MSG" | grep '^Authentication-Results:')" \
	    "Authentication-Results: mx.example.com; $2" "$1"
}

# --- (1) a working DNS server, default actions
restart_filterd "$D/f1" "127.0.0.1@$NSD_PORT" ||
    setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" \
    "smtpd_authorized_xclient_hosts = 127.0.0.1" ||
    setup_fail "private Postfix does not start"

if expect_delivered "pass: delivered" 192.0.2.10 "$HELO" "user@pass.$Z"; then
	ar_is "pass: Authentication-Results spf=pass smtp.mailfrom" \
	    "spf=pass smtp.mailfrom=user@pass.$Z"
	is "$(printf '%s\n' "$MSG" | grep -c '^Received-SPF:')" 2 \
	    "pass: two Received-SPF fields (MAIL FROM and HELO)"
	like "$MSG" "^Received-SPF: pass \\(mx\\.example\\.com: domain of pass\\.spf\\.example\\.org designates 192\\.0\\.2\\.10 as permitted sender\\) client-ip=192\\.0\\.2\\.10; envelope-from=\"user@pass\\.spf\\.example\\.org\"; helo=mail\\.spf\\.example\\.org; receiver=mx\\.example\\.com; identity=mailfrom;\$" \
	    "pass: Received-SPF for the MAIL FROM identity (RFC 7208 9.1)"
	like "$MSG" "^Received-SPF: pass \\(mx\\.example\\.com: domain of mail\\.spf\\.example\\.org designates 192\\.0\\.2\\.10 as permitted sender\\) .* identity=helo;\$" \
	    "pass: Received-SPF for the HELO identity"
fi

expect_refused "fail: RCPT refused with 550 5.7.23" 192.0.2.10 "$HELO" \
    "user@fail.$Z" \
    "550 5.7.23 SPF fail for sender domain fail.$Z from client 192.0.2.10"
like "$(cat "$PF_LOG")" "milter-reject: RCPT from [^ ]*\\[192\\.0\\.2\\.10\\]: 550 5\\.7\\.23 " \
    "fail: Postfix logs the refusal for client 192.0.2.10 (milter-reject)"

for r in softfail neutral; do
	if expect_delivered "$r: delivered (default action none)" \
	    192.0.2.10 "$HELO" "user@$r.$Z"; then
		ar_is "$r: Authentication-Results spf=$r" \
		    "spf=$r smtp.mailfrom=user@$r.$Z"
		like "$MSG" "^Received-SPF: $r .*identity=mailfrom;\$" \
		    "$r: Received-SPF $r"
	fi
done
if expect_delivered "none: delivered" 192.0.2.10 "$HELO" "user@nospf.$Z"; then
	ar_is "none: Authentication-Results spf=none" \
	    "spf=none smtp.mailfrom=user@nospf.$Z"
fi

# include and redirect chains
if expect_delivered "include chain (inc2 -> inc -> pass): delivered" \
    192.0.2.10 "$HELO" "user@inc2.$Z"; then
	ar_is "include chain: spf=pass" "spf=pass smtp.mailfrom=user@inc2.$Z"
fi
expect_refused "redirect to a -all record: RCPT refused with 550 5.7.23" \
    192.0.2.10 "$HELO" "user@redir.$Z" \
    "550 5.7.23 SPF fail for sender domain redir.$Z from client 192.0.2.10"

# permerror: syntax, loops, limits, the record length bound and the
# macro forms refused because libspf2's bugs need them; all delivered
# (mailfrom_permerror defaults to none) with spf=permerror
for n in syntax loop incloop lim11 void3 long upper delim digits zero \
    digitsr exp; do
	if expect_delivered "$n: delivered (permerror, action none)" \
	    192.0.2.10 "$HELO" "user@$n.$Z"; then
		ar_is "$n: Authentication-Results spf=permerror" \
		    "spf=permerror smtp.mailfrom=user@$n.$Z"
	fi
done
# ten DNS-querying terms are allowed: the evaluation completes (no a:
# term matches, so -all fails it)
expect_refused "lim10: ten lookups evaluated to the end (fail, 550)" \
    192.0.2.10 "$HELO" "user@lim10.$Z" \
    "550 5.7.23 SPF fail for sender domain lim10.$Z from client 192.0.2.10"
for n in void2 short macro; do
	if expect_delivered "$n: delivered" 192.0.2.10 "$HELO" \
	    "user@$n.$Z"; then
		ar_is "$n: within the limits, spf=pass" \
		    "spf=pass smtp.mailfrom=user@$n.$Z"
	fi
done
if kill -0 "$FILTERD_PID" 2>/dev/null; then
	ok "postern-filterd still running after the hostile records"
else
	not_ok "postern-filterd still running after the hostile records"
fi

# The HELO identity: the null sender is checked as postmaster@HELO under
# the MAIL FROM actions (RFC 7208 2.4), so a HELO that fails is refused.
expect_refused "null sender, HELO fails: RCPT refused with 550 5.7.23" \
    192.0.2.10 "badhelo.$Z" "<>" \
    "550 5.7.23 SPF fail for HELO name badhelo.$Z from client 192.0.2.10"
if expect_delivered "null sender, HELO passes: delivered" 192.0.2.10 \
    "$HELO" "<>"; then
	ar_is "null sender: spf=pass smtp.helo" "spf=pass smtp.helo=$HELO"
fi

# mynetworks: not checked at all (no SPF result, no Received-SPF)
if expect_delivered "mynetworks client 192.0.2.200, failing domain: delivered" \
    192.0.2.200 "$HELO" "user@fail.$Z"; then
	ar_is "mynetworks: no SPF result" "none"
	unlike "$MSG" '^Received-SPF:' "mynetworks: no Received-SPF field"
fi

# --- (2) helo_fail = reject: the HELO identity has its own actions
restart_filterd "$D/f2" "127.0.0.1@$NSD_PORT" "helo_fail = reject" ||
    setup_fail "postern-filterd (helo_fail = reject) does not start"
expect_refused "helo_fail = reject: passing sender, failing HELO refused" \
    192.0.2.10 "badhelo.$Z" "user@pass.$Z" \
    "550 5.7.23 SPF fail for HELO name badhelo.$Z from client 192.0.2.10"

# --- (3) DNS never answers: temperror, deferred by default
restart_filterd "$D/f3" "127.0.0.1@$SILENT_DNS_PORT" ||
    setup_fail "postern-filterd (silent DNS) does not start"
expect_refused "DNS timeout: RCPT deferred with 451 4.7.24" 192.0.2.10 \
    "$HELO" "user@pass.$Z" \
    "451 4.7.24 SPF temperror for sender domain pass.$Z from client 192.0.2.10"

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
