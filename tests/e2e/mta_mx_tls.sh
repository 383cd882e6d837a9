#!/bin/bash
# mta_mx_tls.sh - postern-mta finding servers by MX and talking TLS to them
# (issue 8): MX preference order and fallback, null MX (RFC 7505), a domain
# without MX (its A record), NXDOMAIN; STARTTLS at the levels may,
# encrypt, verify and dane (RFC 7672, a zone signed with ldns-signzone).
# Everything on loopback: a private nsd serves the zones (the mtas ask
# only it: dns_servers), smtp-sinks on 127.0.0.1 and 127.0.0.2 are the
# plaintext servers, a second postern-mta with a self-signed certificate
# and delivery = no is the TLS server (its queue shows what arrived).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns)"
[ -x "$MTA" ] || setup_fail "$MTA not built"
[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
for c in smtp-sink swaks nsd ldns-keygen ldns-signzone openssl; do
	command -v "$c" >/dev/null || setup_fail "$c is not installed"
done

mktmp_var D e2e-mxtls
mkdir -p "$D/tmp" && chmod 1777 "$D/tmp"
Z=mxt.example.net		# unsigned zone: the MX cases, verify
DZ=dane.example.net		# signed zone: DANE
MXPORT=$(free_port)		# both smtp-sinks (127.0.0.1 and .2)
RXPORT=$(free_port)		# the TLS receiver
while [ "$RXPORT" = "$MXPORT" ]; do
	RXPORT=$(free_port)
done
ZR=${Z//./\\.}			# the names as regexes
DZR=${DZ//./\\.}
LO='\[127\.0\.0\.1\]'

# --- the sinks ---------------------------------------------------------------

# sink_at NAME ADDR - an smtp-sink on ADDR:$MXPORT dumping into D/NAME/
# (no STARTTLS: smtp-sink does not offer it); its pid in SINK_PID[NAME]
declare -A SINK_PID=()
sink_at() {
	local name=$1 addr=$2
	mkdir -p "$D/$name"
	chown nobody "$D/$name"
	BG_LOG=$D/$name.log start_bg "$name" \
	    smtp-sink -u nobody -d "$D/$name/msg." -h "$name.example" \
	    "$addr:$MXPORT" 64
	SINK_PID[$name]=$BG_PID
	wait_port "$MXPORT" 10 "$addr"
}

# in_sink NAME TEXT [SECS] - a message in sink NAME holds TEXT; the file
# in F
in_sink() {
	# shellcheck disable=SC2034  # read by sink_find
	SINK_DIR=$D/$1
	F=$(sink_find "$2" "${3:-15}")
}

sink_at sink1 127.0.0.1 || setup_fail "smtp-sink on 127.0.0.1 does not start"
sink_at sink2 127.0.0.2 || setup_fail "smtp-sink on 127.0.0.2 does not start"

# --- the TLS receiver --------------------------------------------------------

# Its certificate is made at its first start (tls_self_signed) for its
# myhostname, the name of the MX host that points at it: what verify checks.
mkdir -p "$D/rx"
start_mta "$D/rx" "myhostname = rx.$Z
user = nobody
queue_directory = $D/rx/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$RXPORT
workers = 1
mynetworks = 127.0.0.0/8
queue_minfree = 1M
tls_cert_file = $D/rx/cert.pem
tls_key_file = $D/rx/key.pem
tls_self_signed = yes
delivery = no" || setup_fail "the receiving postern-mta does not start"
RX_LOG=$MTA_LOG
RX_PID=$MTA_PID
[ -s "$D/rx/cert.pem" ] || setup_fail "no self-signed certificate made"
# RFC 7672 "3 1 1": SHA-256 of the certificate's SubjectPublicKeyInfo
SPKI=$(openssl x509 -in "$D/rx/cert.pem" -noout -pubkey |
    openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
[ ${#SPKI} = 64 ] || setup_fail "cannot hash the receiver's key"

# --- the zones ---------------------------------------------------------------

ZD=$D/top/tests/data/zones
mkdir -p "$ZD" "$D/keys"
cat >"$ZD/$Z" <<EOF
\$ORIGIN $Z.
\$TTL 300
@	SOA	ns.$Z. hostmaster.$Z. 1 3600 600 86400 300
	NS	ns.$Z.
ns	A	127.0.0.1
mx1	A	127.0.0.1
mx2	A	127.0.0.2
rx	A	127.0.0.1
; the lower preference first, listed last
pref	MX	20 mx2.$Z.
pref	MX	10 mx1.$Z.
null	MX	0 .
; no MX: the domain's own address (RFC 5321 5.1)
noms	A	127.0.0.1
; STARTTLS receiver and a plaintext one (the sink on 127.0.0.1)
tls	MX	10 rx.$Z.
plain	MX	10 mx1.$Z.
; the receiver under a name its certificate does not have
wrong	MX	10 rx2.$Z.
rx2	A	127.0.0.1
EOF
cat >"$D/keys/$DZ" <<EOF
\$ORIGIN $DZ.
\$TTL 300
@	SOA	ns.$DZ. hostmaster.$DZ. 1 3600 600 86400 300
	NS	ns.$DZ.
ns	A	127.0.0.1
@	MX	10 rx.$DZ.
rx	A	127.0.0.1
_$RXPORT._tcp.rx	TLSA	3 1 1 $SPKI
bad	MX	10 rxbad.$DZ.
rxbad	A	127.0.0.1
_$RXPORT._tcp.rxbad	TLSA	3 1 1 $(printf '%064d' 0)
EOF
(
	cd "$D/keys" &&
	    KEY=$(ldns-keygen -a ECDSAP256SHA256 -k "$DZ") &&
	    ldns-signzone -n -f "$ZD/$DZ" "$DZ" "$KEY" &&
	    cp "$KEY.ds" ../trust-anchor
) >"$D/sign.log" 2>&1 || {
	diag_file "$D/sign.log"
	setup_fail "ldns-signzone failed"
}
TOP=$D/top start_nsd "$D/nsd" "$Z" "$DZ" || setup_fail "nsd does not start"

# --- the senders -------------------------------------------------------------

# The DSNs of the bounce cases go to snd.example.org: to the sink too.
{
	for d in pref noms null gone plain; do
		printf '%s.%s\tsmtp:%s.%s:%s\n' "$d" "$Z" "$d" "$Z" "$MXPORT"
	done
	for d in tls wrong; do
		printf '%s.%s\tsmtp:%s.%s:%s\n' "$d" "$Z" "$d" "$Z" "$RXPORT"
	done
	printf '%s\tsmtp:%s:%s\n' "$DZ" "$DZ" "$RXPORT"
	printf 'bad.%s\tsmtp:bad.%s:%s\n' "$DZ" "$DZ" "$RXPORT"
	printf 'snd.example.org\tsmtp:[127.0.0.1]:%s\n' "$MXPORT"
} >"$D/transport"

# sender NAME LEVEL [LINE...] - (re)start the sending postern-mta with
# smtp_tls_security_level LEVEL and more config lines; PF_PORT is its port
sender() {
	local name=$1 level=$2 extra
	shift 2
	extra=$(printf '%s\n' "$@")
	[ -n "${MTA_PID:-}" ] && [ "$MTA_PID" != "$RX_PID" ] &&
	    stop_pid "$MTA_PID" 10
	mkdir -p "$D/$name"
	PF_PORT=$(free_port)
	start_mta "$D/$name" "myhostname = sender.$Z
user = nobody
queue_directory = $D/$name/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$PF_PORT
workers = 1
mynetworks = 127.0.0.0/8
queue_minfree = 1M
transport_maps = hash:$D/transport
dns_servers = 127.0.0.1@$NSD_PORT
dns_timeout = 2s
smtp_tls_security_level = $level
queue_run_delay = 1s
minimal_backoff_time = 60s
maximal_backoff_time = 120s
$extra" || setup_fail "the sending postern-mta ($name) does not start"
	SENDER_LOGS+=("$MTA_LOG")
}
SENDER_LOGS=()

# send FROM TO SUBJECT - one message through the sender; QID set
send() {
	smtp 127.0.0.1 "$1" "$2" --header "Subject: $3"
	QID=$(smtp_replies | sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' |
	    tail -n 1)
	[ -n "$QID" ] || diag "not queued: $(smtp_replies | tail -n 1)"
}

# wait_log REGEX [SECS] - the sender's log gets a line matching REGEX
wait_log() {
	local i
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		grep -Eq -- "$1" "$MTA_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# log_case DESC REGEX [SECS] - ok when the sender logs REGEX in time
log_case() {
	if wait_log "$2" "${3:-15}"; then
		ok "$1"
	else
		not_ok "$1"
		diag "no /$2/ in the log:"
		diag_file "$MTA_LOG" 15
	fi
}

# queued_here ID - ID is still in the sender's queue
queued_here() {
	mta_queue_json "$(sed -n 's/^queue_directory = //p' "$MTA_CONF")" |
	    grep -q "\"id\": *\"$1\""
}

# rx_show SUBJECT [SECS] - posternctl queue show of the message with
# SUBJECT in the receiver's queue (waits up to SECS, 15); empty when none
rx_show() {
	local i id out
	for ((i = 0; i < ${2:-15} * 2; i++)); do
		for id in $(mta_queue_json "$D/rx/queue" |
		    sed -n 's/.*"id": *"\([0-9A-Z]*\)".*/\1/p'); do
			out=$("$POSTERNCTL" queue -d "$D/rx/queue" show "$id" \
			    2>/dev/null)
			if printf '%s\n' "$out" | grep -qF "Subject: $1"; then
				printf '%s\n' "$out"
				return 0
			fi
		done
		sleep 0.5
	done
	return 1
}

# first_received TEXT - the first Received: header of TEXT, unfolded
first_received() {
	printf '%s\n' "$1" | awk '
		!seen && /^Received:/ { r = $0; seen = 1; next }
		seen && /^[ \t]/ { sub(/^[ \t]+/, " "); r = r $0; next }
		seen { print r; exit }'
}

# --- MX ----------------------------------------------------------------------

sender mx none

send a@snd.example.org u@pref.$Z "pref one"
in_sink sink1 "Subject: pref one"
if [ -n "$F" ]; then
	ok "MX: the lower preference (mx1, 127.0.0.1) gets the message"
	like "$(tr -d '\r' <"$F")" "X-Rcpt-Args: <u@pref\\.mxt\\.example\\.net>" \
	    "for the right recipient"
else
	not_ok "MX: the lower preference (mx1, 127.0.0.1) gets the message"
fi
log_case "logged with relay=mx1" \
    "$QID: to=<u@pref\\.$ZR>, relay=mx1\\.$ZR, .*dsn=2\\.0\\.0, status=sent"
is "$(grep -rlF "Subject: pref one" "$D/sink2" | wc -l)" 0 \
    "and not the higher one"

send a@snd.example.org u@noms.$Z "no mx"
in_sink sink1 "Subject: no mx"
check "no MX: delivered to the domain's A record" test -n "$F"
log_case "logged with relay=noms" \
    "$QID: to=<u@noms\\.$ZR>, relay=noms\\.$ZR, .*status=sent"

send sender@snd.example.org u@null.$Z "null mx"
re="$QID: to=<u@null\\.$ZR>, .*dsn=5\\.1\\.10, status=bounced \\(Domain"
re+=" null\\.$ZR does not accept mail \\(nullMX\\)"
log_case "null MX: bounced at once with 5.1.10" "$re"
in_sink sink1 "Subject: null mx"
if [ -n "$F" ] && grep -q "^Status: 5\\.1\\.10" <(tr -d '\r' <"$F") &&
    grep -qF "X-Rcpt-Args: <sender@snd.example.org>" "$F"; then
	ok "the sender gets a DSN with Status: 5.1.10"
else
	not_ok "the sender gets a DSN with Status: 5.1.10"
	[ -n "$F" ] && diag_file "$F" 60
fi
unlike "$(grep "$QID" "$MTA_LOG")" "status=deferred" "null MX: never deferred"

send sender@snd.example.org u@gone.$Z "nxdomain"
re="$QID: to=<u@gone\\.$ZR>, .*dsn=5\\.1\\.2, status=bounced \\(Host or"
re+=" domain name not found: gone\\.$ZR\\)"
log_case "NXDOMAIN: bounced with 5.1.2" "$re"
unlike "$(grep "$QID" "$MTA_LOG")" "status=deferred" "NXDOMAIN: never deferred"

# the preferred MX goes away: the next one gets the mail
stop_pid "${SINK_PID[sink1]}" 5
wait_port "$MXPORT" 1 127.0.0.1 && diag "sink1 still listens"
send a@snd.example.org u@pref.$Z "pref two"
in_sink sink2 "Subject: pref two"
check "MX: mx1 down, mx2 (127.0.0.2) gets the message" test -n "$F"
log_case "logged with relay=mx2" \
    "$QID: to=<u@pref\\.$ZR>, relay=mx2\\.$ZR, .*status=sent"
sink_at sink1 127.0.0.1 || setup_fail "smtp-sink on 127.0.0.1 does not restart"

# --- TLS ---------------------------------------------------------------------

sender may may
send a@snd.example.org u@tls.$Z "may starttls"
M=$(rx_show "may starttls")
if [ -n "$M" ]; then
	ok "may: the STARTTLS server gets the message"
	re="^Received: from sender\\.$ZR .*using TLSv1\\.[23] .*"
	re+="by rx\\.$ZR .*with ESMTPS "
	like "$(first_received "$M")" "$re" \
	    "over TLS (the receiver's Received: says ESMTPS)"
else
	not_ok "may: the STARTTLS server gets the message"
	diag_file "$RX_LOG" 15
fi
log_case "may: logged as sent" \
    "$QID: to=<u@tls\\.$ZR>, relay=rx\\.$ZR, .*status=sent"

send a@snd.example.org u@plain.$Z "may plain"
in_sink sink1 "Subject: may plain"
if [ -n "$F" ]; then
	ok "may: a server without STARTTLS gets it in plaintext"
	like "$(tr -d '\r' <"$F")" "^X-Client-Proto: ESMTP" "(smtp-sink saw ESMTP)"
else
	not_ok "may: a server without STARTTLS gets it in plaintext"
fi

sender encrypt encrypt
send a@snd.example.org u@plain.$Z "encrypt plain"
re="$QID: to=<u@plain\\.$ZR>, relay=mx1\\.$ZR, .*dsn=4\\.7\\.4, status=deferred"
re+=" \\(TLS is required, but was not offered by host mx1\\.$ZR$LO\\)"
log_case "encrypt: a server without STARTTLS defers with 4.7.4" "$re"
sleep 0.5
check "encrypt: the message stays in the queue" queued_here "$QID"
is "$(grep -rlF "Subject: encrypt plain" "$D/sink1" | wc -l)" 0 \
    "encrypt: nothing reached the plaintext server"
send a@snd.example.org u@tls.$Z "encrypt starttls"
M=$(rx_show "encrypt starttls")
like "$M" "with ESMTPS" "encrypt: the STARTTLS server gets it over TLS"

# smtp_tls_policy_maps overrides the global level per next hop
printf 'plain.%s\tencrypt\n.%s\tnone\n' "$Z" "$Z" >"$D/tls_policy"
sender policy may "smtp_tls_policy_maps = hash:$D/tls_policy"
send a@snd.example.org u@plain.$Z "policy encrypt"
re="$QID: to=<u@plain\\.$ZR>, relay=mx1\\.$ZR, .*dsn=4\\.7\\.4, status=deferred"
log_case "smtp_tls_policy_maps: encrypt for one domain overrides may" "$re"
send a@snd.example.org u@tls.$Z "policy none"
M=$(rx_show "policy none")
like "$M" "with ESMTP id" \
    "smtp_tls_policy_maps: a .parent entry (none) keeps it in plaintext"
unlike "$M" "with ESMTPS" "(not over TLS)"

sender verify-noca verify
send a@snd.example.org u@tls.$Z "verify no ca"
re="$QID: to=<u@tls\\.$ZR>, relay=rx\\.$ZR, .*dsn=4\\.7\\.5, status=deferred"
re+=" \\(TLS with host rx\\.$ZR$LO failed: certificate verify failed"
log_case "verify without the receiver's CA: deferred" "$re"
sleep 0.5
check "verify: the message stays in the queue" queued_here "$QID"
is "$(rx_show "verify no ca" 1)" "" "verify: the receiver got nothing"

sender verify-ca verify "smtp_tls_ca_file = $D/rx/cert.pem"
send a@snd.example.org u@tls.$Z "verify with ca"
M=$(rx_show "verify with ca")
like "$M" "with ESMTPS" \
    "verify with smtp_tls_ca_file = the receiver's cert: delivered over TLS"
log_case "verify: logged as sent" "$QID: to=<u@tls\\.$ZR>, .*status=sent"
send a@snd.example.org u@wrong.$Z "verify wrong name"
re="$QID: to=<u@wrong\\.$ZR>, relay=rx2\\.$ZR, .*dsn=4\\.7\\.5, status=deferred"
re+=" \\(TLS with host rx2\\.$ZR$LO failed: certificate verify failed"
log_case "verify: the CA is right but not the name (rx2): deferred" "$re"

# --- DANE --------------------------------------------------------------------

sender dane dane "dns_trust_anchor_file = $D/trust-anchor"
send a@snd.example.org u@$DZ "dane match"
M=$(rx_show "dane match")
like "$M" "with ESMTPS" "dane: a matching TLSA 3 1 1 record, delivered over TLS"
log_case "dane: logged as sent" \
    "$QID: to=<u@$DZR>, relay=rx\\.$DZR, .*status=sent"

send a@snd.example.org u@bad.$DZ "dane mismatch"
re="$QID: to=<u@bad\\.$DZR>, relay=rxbad\\.$DZR, .*dsn=4\\.7\\.5,"
re+=" status=deferred \\(TLS with host rxbad\\.$DZR$LO failed: .*TLSA"
log_case "dane: a TLSA record that does not match defers" "$re"
sleep 0.5
check "dane: the message stays in the queue" queued_here "$QID"

# without the trust anchor nothing is DNSSEC-secure: RFC 7672 says "may"
sender dane-insecure dane
send a@snd.example.org u@bad.$DZ "dane insecure"
M=$(rx_show "dane insecure")
like "$M" "with ESMTPS" \
    "dane without a trust anchor: the same TLSA record is not used (may, TLS)"

# --- the end -----------------------------------------------------------------

stop_pid "$MTA_PID" 10
stop_pid "$RX_PID" 10
unlike "$(cat "${SENDER_LOGS[@]}" "$RX_LOG")" \
    "killed by signal|panic|AddressSanitizer|runtime error:" \
    "no process crashed"
done_testing
