#!/bin/bash
# dmarc.sh - spf, dkim and dmarc together as the milter of a real Postfix,
# with a private nsd: DMARC is evaluated from the results the pipeline's
# SPF and DKIM modules left. The client announces 192.0.2.10 with XCLIENT
# (libspf2 passes 127/8 without asking DNS). Keys and zones:
# tests/data/zones/dkim.example.net (p=reject, adkim=s) and
# dmarc.example.net (reject.dmarc.example.net: SPF for 192.0.2.10, p=reject).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v nsd >/dev/null || setup_fail "nsd is not installed"
PY=/usr/bin/python3
$PY -c 'import dkim' 2>/dev/null || setup_fail "python3-dkim is not installed"

mktmp_var D e2e-dmarc
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)
KEYS=$TOP/tests/data/dkim
DKIMPY=$TOP/tests/e2e/dkimpy.py
Z=dkim.example.net
R=reject.dmarc.example.net

start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
mkdir -p "$D/store" "$D/f"
chown nobody "$D/store"

start_filterd "$D/f" "socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      =
pipeline      = access, spf, dkim, dmarc
authserv_id   = mx.example.com
hostname      = mx.example.com
mynetworks    = 127.0.0.1/32
dns_servers   = 127.0.0.1@$NSD_PORT

[access]
relay_domains = ours.example

[dmarc]
report_store  = $D/store" || setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" \
    "smtpd_authorized_xclient_hosts = 127.0.0.1" ||
    setup_fail "private Postfix does not start"

# message FILE SUBJECT FROM - a plain message, CRLF line ends
message() {
	printf 'From: <%s>\r\nTo: <user@ours.example>\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 08:00:00 +0000\r\nMessage-ID: <%s@x>\r\n\r\nHello.\r\n' \
	    "$3" "$2" "$2" >"$1"
}

# send MAILFROM FILE - from "192.0.2.10" (XCLIENT), HELO mail.example
send() {
	smtp 127.0.0.1 "$1" user@ours.example --xclient-addr 192.0.2.10 \
	    --helo mail.example --data "@$2"
}

# ar_of SUBJECT - the delivered message's Authentication-Results (one
# line), or nothing if it was not delivered
ar_of() {
	local f
	f=$(sink_find "Subject: $1" 20)
	[ -n "$f" ] || return 1
	tr -d '\r' <"$f" | sed '/^$/q' | awk '
		/^Authentication-Results:/ { on = 1; printf "%s", $0; next }
		on && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		on { exit }'
	echo
}

# 1. DKIM-aligned pass (d= is the From domain), SPF none
message "$D/m1.eml" d1 "user@$Z"
$PY "$DKIMPY" sign "$D/m1.eml" "$D/m1.signed" "$KEYS/rsa.private" rsa "$Z"
send "bounce@nospf.spf.example.org" "$D/m1.signed"
if a=$(ar_of d1); then
	ok "DKIM-aligned: delivered"
	like "$a" "spf=none smtp\\.mailfrom=bounce@nospf\\.spf\\.example\\.org;" \
	    "DKIM-aligned: spf=none for the envelope domain"
	like "$a" "; dkim=pass \\(2048-bit key\\) header\\.d=$Z " \
	    "DKIM-aligned: dkim=pass"
	like "$a" "; dmarc=pass \\(p=reject sp=reject dis=none\\) header\\.from=$Z\$" \
	    "DKIM-aligned: dmarc=pass, the last entry"
else
	not_ok "DKIM-aligned: delivered (swaks exit $SMTP_RC)"
	diag "$(smtp_replies | tail -n 2)"
fi

# 2. SPF-aligned pass, unsigned
message "$D/m2.eml" s2 "user@$R"
send "user@$R" "$D/m2.eml"
if a=$(ar_of s2); then
	ok "SPF-aligned: delivered"
	like "$a" "spf=pass smtp\\.mailfrom=user@$R;" "SPF-aligned: spf=pass"
	like "$a" "; dmarc=pass \\(p=reject sp=reject dis=none\\) header\\.from=$R\$" \
	    "SPF-aligned: dmarc=pass"
else
	not_ok "SPF-aligned: delivered (swaks exit $SMTP_RC)"
fi

# 3. neither aligned (unsigned, envelope elsewhere): p=reject enforced
message "$D/m3.eml" n3 "user@$Z"
send "bounce@nospf.spf.example.org" "$D/m3.eml"
is "$SMTP_RC" 26 "not aligned, p=reject: refused at end of data"
like "$(smtp_replies | grep '^550' | tail -n 1)" \
    "^550 5\\.7\\.1 .*$Z" "not aligned: 550 5.7.1 naming the domain"

# 4. signed but the body changed: dkim=fail, so dmarc=fail
message "$D/m4.eml" b4 "user@$Z"
$PY "$DKIMPY" sign "$D/m4.eml" "$D/m4.signed" "$KEYS/rsa.private" rsa "$Z"
sed -i 's/^Hello\./Hello, changed./' "$D/m4.signed"
send "bounce@nospf.spf.example.org" "$D/m4.signed"
is "$SMTP_RC" 26 "changed body, p=reject: refused"

# 5. strict DKIM alignment: d= a subdomain does not align
message "$D/m5.eml" x5 "user@$Z"
$PY "$DKIMPY" sign "$D/m5.eml" "$D/m5.signed" "$KEYS/rsa.private" rsa \
    "sub.$Z" 2>/dev/null
send "bounce@nospf.spf.example.org" "$D/m5.signed"
is "$SMTP_RC" 26 "adkim=s: a signature of a subdomain does not align"

# the report store has the evaluated messages; posternctl reports them
pf_wait_idle 20 || diag "queue did not become idle"
n=$(cat "$D"/store/* 2>/dev/null | wc -l | tr -d ' ')
is "$n" 5 "report store: one record per evaluated message"
xml=$("$POSTERNCTL" dmarc report -d "$D/store" -f "$(date -u +%F)" \
    -t "$(date -u +%F)" -o "Postern test" -e postmaster@mx.example.com \
    -D "$Z")
is "$?" 0 "posternctl dmarc report: exit 0"
is "$(printf '%s\n' "$xml" | $PY -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
rows = root.findall("record")
print(sum(int(r.find("row/count").text) for r in rows),
      root.find("policy_published/domain").text,
      sorted(r.find("row/policy_evaluated/disposition").text
             for r in rows))')" "4 $Z ['none', 'reject', 'reject', 'reject']" \
    "posternctl dmarc report: 4 messages for $Z: the pass and 3 rejects (different results, different rows)"

if kill -0 "$FILTERD_PID" 2>/dev/null; then
	ok "postern-filterd still running"
else
	not_ok "postern-filterd still running"
fi
stop_pid "$FILTERD_PID" 10
if [ "$_tap_failed" -gt 0 ]; then
	diag_file "$FILTERD_LOG" 30
	diag_file "$PF_LOG" 20
fi
done_testing
