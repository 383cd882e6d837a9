#!/bin/bash
# dkim.sh - the dkim module of postern-filterd as the milter of a real
# Postfix, keys published in a private nsd (tests/data/zones/
# dkim.example.net, private keys in tests/data/dkim/).
#
# Signing: mail from 127.0.0.1 (mynetworks) with From @dkim.example.net is
# signed twice (RSA and Ed25519) with an OpenDKIM KeyTable and refile:
# SigningTable written as OpenDKIM documents them; Debian's python3-dkim
# verifies both signatures with the published keys. Verifying: mail from
# 127.0.0.2 signed by python3-dkim gets one "dkim=" entry per signature
# in Authentication-Results; broken mail gets the right result.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v nsd >/dev/null || setup_fail "nsd is not installed"
PY=/usr/bin/python3
$PY -c 'import dkim' 2>/dev/null || setup_fail "python3-dkim is not installed"

mktmp_var D e2e-dkim
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)
KEYS=$TOP/tests/data/dkim
ZONE=$TOP/tests/data/zones/dkim.example.net
DKIMPY=$TOP/tests/e2e/dkimpy.py
Z=dkim.example.net

start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_silent_dns "$D" || setup_fail "the silent DNS socket does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"

# OpenDKIM's files, as a site has them
cat >"$D/KeyTable" <<EOF
# KeyTable: name domain:selector:keyfile
rsa-key   $Z:rsa:$KEYS/rsa.private
ed-key    $Z:ed:$KEYS/ed.private
EOF
cat >"$D/SigningTable" <<EOF
# SigningTable (refile): From pattern, key name
*@$Z      rsa-key
*@$Z      ed-key
EOF
chmod 644 "$D/KeyTable" "$D/SigningTable"

# filterd_conf DNS_SERVERS [EXTRA] - access and dkim; EXTRA into [dkim]
filterd_conf() {
	cat <<EOF
socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      =
pipeline      = access, dkim
authserv_id   = mx.example.com
mynetworks    = 127.0.0.1/32
dns_servers   = $1
dns_timeout   = 1s
dns_attempts  = 1

[access]
relay_domains = ours.example

[dkim]
key_table     = file:$D/KeyTable
signing_table = refile:$D/SigningTable
${2:-}
EOF
}

# message FILE SUBJECT [EXTRA-HEADER] - a plain message from
# user@dkim.example.net, CRLF line ends
message() {
	{
		printf 'From: User <user@%s>\r\n' "$Z"
		printf 'To: <user@ours.example>\r\n'
		printf 'Subject: %s\r\n' "$2"
		printf 'Date: Sun, 22 Nov 2026 08:00:00 +0000\r\n'
		printf 'Message-ID: <%s@%s>\r\n' "$2" "$Z"
		[ -n "${3:-}" ] && printf '%s\r\n' "$3"
		printf '\r\n'
		printf 'Hello,\r\nthis is a test message.\r\n\r\n-- \r\nUser\r\n'
	} >"$1"
}

# send_file IP FILE - send FILE as the message (swaks --data)
send_file() {
	smtp "$1" "user@$Z" user@ours.example --data "@$2"
}

# delivered DESC SUBJECT - the sink has the message: its file (CRs
# removed) in GOT, its header (folds joined) in HDR
delivered() {
	local f
	GOT= HDR=
	f=$(sink_find "Subject: $2" 20)
	if [ -z "$f" ]; then
		not_ok "$1 (not in the sink; swaks exit $SMTP_RC)"
		diag "$(smtp_replies | tail -n 3)"
		return 1
	fi
	GOT=$D/got-$2.eml
	RAW=$D/raw-$2.eml
	cp "$f" "$RAW"
	rm -f "$f"	# a later message with this subject is found anew
	# without Postfix's own Received: field (and its folded lines)
	tr -d '\r' <"$RAW" | awk 'hdr && /^$/ { hdr = 0 }
		hdr && /^Received: / { skip = 1; next }
		hdr && skip && /^[ \t]/ { next }
		{ skip = 0; print }' hdr=1 >"$GOT"
	HDR=$(sed '/^$/q' "$GOT" | awk 'NR > 1 && /^[ \t]/ {
		sub(/^[ \t]+/, " "); printf "%s", $0; next }
		NR > 1 { printf "\n" } { printf "%s", $0 } END { printf "\n" }')
	ok "$1"
}

# ar - the Authentication-Results field of HDR (one line)
ar() {
	printf '%s\n' "$HDR" | grep '^Authentication-Results:'
}

# --- signing
restart_filterd "$D/f1" "127.0.0.1@$NSD_PORT" ||
    setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"

message "$D/sign.eml" sign1
send_file 127.0.0.1 "$D/sign.eml"
if delivered "signed: internal mail delivered" sign1; then
	is "$(printf '%s\n' "$HDR" | grep -c '^DKIM-Signature:')" 2 \
	    "signed: two DKIM-Signature fields (RSA and Ed25519)"
	# smtp-sink writes its X-* lines first
	like "$(printf '%s\n' "$HDR" | grep -v '^X-' | head -n 2 |
	    grep -c '^DKIM-Signature:')" '^2$' \
	    "signed: the signatures are at the top of the header"
	sig=$(printf '%s\n' "$HDR" | grep '^DKIM-Signature:' | grep 'a=rsa-sha256')
	like "$sig" ' c=relaxed/relaxed;' "signed: relaxed/relaxed"
	like "$sig" " d=$Z;" "signed: d= from the KeyTable"
	like "$sig" ' s=rsa;' "signed: s= from the KeyTable"
	hl=$(printf '%s\n' "$sig" | sed -E 's/.* h=([^;]*);.*/\1/' |
	    tr -d ' ' | tr 'A-Z' 'a-z')
	like "$hl" '(^|:)from:.*from($|:)' "signed: From oversigned (twice in h=)"
	like "$hl" '(^|:)subject:.*subject($|:)' "signed: Subject oversigned"
	like "$hl" '(^|:)message-id(:|$)' "signed: Message-ID signed"
	like "$(printf '%s\n' "$HDR" | grep '^DKIM-Signature:' |
	    grep -c 'a=ed25519-sha256')" '^1$' "signed: one ed25519-sha256"
	if sed '/^$/q' "$RAW" | grep -q $'\r'; then
		not_ok "signed: no bare CR in the header"
	else
		ok "signed: no bare CR in the header"
	fi
	out=$($PY "$DKIMPY" verify "$GOT" "$ZONE" 2>&1)
	is "$(printf '%s\n' "$out" | sort)" "$(printf '%s\n' \
	    "d=$Z s=ed a=ed25519-sha256 pass" "d=$Z s=rsa a=rsa-sha256 pass")" \
	    "signed: python3-dkim verifies both signatures"
fi
# oversigning: a Reply-To added after signing (the message had none)
# breaks both signatures; so does a second Subject
if [ -n "${GOT:-}" ] && [ -f "$D/got-sign1.eml" ]; then
	sed '0,/^Subject: /s//Reply-To: <evil@attacker.example>\nSubject: /' \
	    "$D/got-sign1.eml" >"$D/added.eml"
	out=$($PY "$DKIMPY" verify "$D/added.eml" "$ZONE" 2>&1)
	is "$(printf '%s\n' "$out" | grep -c ' fail$')" 2 \
	    "oversigned: an added Reply-To fails both signatures"
	sed '0,/^Subject: /s//Subject: added\nSubject: /' \
	    "$D/got-sign1.eml" >"$D/added2.eml"
	out=$($PY "$DKIMPY" verify "$D/added2.eml" "$ZONE" 2>&1)
	is "$(printf '%s\n' "$out" | grep -c ' fail$')" 2 \
	    "oversigned: a second Subject fails both signatures"
fi
like "$(cat "$FILTERD_LOG")" ": dkim: signed $Z/rsa\\(rsa\\),$Z/ed\\(ed25519\\)\$" \
    "signed: filterd logs what it signed"

# not internal: not signed
message "$D/ext.eml" ext1
send_file 127.0.0.3 "$D/ext.eml"
if delivered "external unsigned mail delivered" ext1; then
	unlike "$HDR" '^DKIM-Signature:' "external mail is not signed"
	is "$(ar)" "Authentication-Results: mx.example.com; none" \
	    "unsigned external mail: nothing to report"
fi

# --- verifying python3-dkim's signatures
# vsign NAME KEY SELECTOR [ALG] [--length] - message NAME signed by
# python3-dkim into $D/NAME.signed
vsign() {
	local name=$1
	shift
	message "$D/$name.eml" "$name" "${VS_HDR:-}"
	$PY "$DKIMPY" sign "$D/$name.eml" "$D/$name.signed" "$KEYS/$1" "$2" \
	    "$Z" "${@:3}" || diag "python3-dkim cannot sign $name"
}

vsign vrsa rsa.private rsa
send_file 127.0.0.2 "$D/vrsa.signed"
if delivered "verified rsa-sha256: delivered" vrsa; then
	like "$(ar)" "; dkim=pass \\(2048-bit key\\) header\\.d=$Z header\\.i=@$Z header\\.s=rsa header\\.a=rsa-sha256 header\\.b=([A-Za-z0-9+]{8}|\"[A-Za-z0-9+/]{8}\")\$" \
	    "verified rsa-sha256: dkim=pass with key size, d, i, s, a, b"
fi

# both kinds on one message, Ed25519 on top
vsign ved1 rsa.private rsa
$PY "$DKIMPY" sign "$D/ved1.signed" "$D/ved.signed" "$KEYS/ed.private" ed \
    "$Z" ed25519-sha256
send_file 127.0.0.2 "$D/ved.signed"
if delivered "verified ed25519 + rsa: delivered" ved1; then
	a=$(ar)
	like "$a" "dkim=pass \\(256-bit key\\) header\\.d=$Z header\\.i=@$Z header\\.s=ed header\\.a=ed25519-sha256 " \
	    "ed25519-sha256: dkim=pass"
	like "$a" "dkim=pass \\(2048-bit key\\) header\\.d=$Z header\\.i=@$Z header\\.s=rsa header\\.a=rsa-sha256 " \
	    "rsa-sha256 beside it: dkim=pass"
fi

# break FILE SED - change the signed message FILE in place
break_msg() {
	sed -i "$2" "$1"
}

vsign vbody rsa.private rsa
break_msg "$D/vbody.signed" 's/this is a test message/this is a changed message/'
send_file 127.0.0.2 "$D/vbody.signed"
delivered "changed body: delivered (on_badsig = none)" vbody &&
    like "$(ar)" "; dkim=fail \\(2048-bit key; body hash did not verify\\) header\\.d=$Z " \
    "changed body: dkim=fail (body hash)"

vsign vhdr rsa.private rsa
break_msg "$D/vhdr.signed" 's/^Date: Sun, 22 Nov 2026 08:00:00/Date: Sun, 22 Nov 2026 09:00:00/'
send_file 127.0.0.2 "$D/vhdr.signed"
delivered "changed signed header: delivered" vhdr &&
    like "$(ar)" "; dkim=fail \\(2048-bit key; signature did not verify\\) header\\.d=$Z " \
    "changed signed header (Date): dkim=fail"

vsign vrm rsa.private rsa
break_msg "$D/vrm.signed" '/^To: /d'
send_file 127.0.0.2 "$D/vrm.signed"
delivered "removed signed header: delivered" vrm &&
    like "$(ar)" "; dkim=fail .* header\\.d=$Z " \
    "removed signed header (To): dkim=fail"

vsign vrev rsa.private revoked
send_file 127.0.0.2 "$D/vrev.signed"
delivered "revoked key: delivered" vrev &&
    like "$(ar)" "; dkim=fail \\(key revoked\\) header\\.d=$Z header\\.i=@$Z header\\.s=revoked " \
    "revoked key (empty p=): dkim=fail (key revoked)"

vsign vnokey rsa.private nosuchselector
send_file 127.0.0.2 "$D/vnokey.signed"
delivered "no key: delivered (on_nokey = none)" vnokey &&
    like "$(ar)" "; dkim=permerror \\(no key\\) header\\.d=$Z " \
    "no key in DNS: dkim=permerror (no key)"

vsign vsha1 rsa.private rsa rsa-sha1
send_file 127.0.0.2 "$D/vsha1.signed"
delivered "rsa-sha1: delivered" vsha1 &&
    like "$(ar)" "; dkim=policy \\(2048-bit key; rsa-sha1 not accepted\\) .*header\\.a=rsa-sha1 " \
    "rsa-sha1: dkim=policy (RFC 8301)"

vsign vweak weak512.private weak512
send_file 127.0.0.2 "$D/vweak.signed"
delivered "512-bit key: delivered" vweak &&
    like "$(ar)" "; dkim=policy \\(512-bit key; key too small\\) header\\.d=$Z " \
    "512-bit key: dkim=policy (key too small)"

vsign vlen rsa.private rsa --length
send_file 127.0.0.2 "$D/vlen.signed"
delivered "l= tag: delivered" vlen &&
    like "$(ar)" "; dkim=policy \\(2048-bit key; l= tag: body partly unsigned\\) " \
    "l= tag: dkim=policy by default"

VS_HDR="From: other <other@$Z>" vsign vfrom2 rsa.private rsa
send_file 127.0.0.2 "$D/vfrom2.signed"
delivered "two From fields: delivered" vfrom2 &&
    like "$(ar)" "; dkim=policy \\(2048-bit key; several From fields\\) " \
    "two From fields: never dkim=pass"

# a forged Authentication-Results claiming our authserv-id is removed;
# one of another host stays
VS_HDR="Authentication-Results: mx.example.com; dkim=pass header.d=forged.example" \
    vsign vforged rsa.private rsa
send_file 127.0.0.2 "$D/vforged.signed"
if delivered "forged Authentication-Results: delivered" vforged; then
	is "$(printf '%s\n' "$HDR" | grep -c '^Authentication-Results:')" 1 \
	    "forged Authentication-Results: only ours is left"
	like "$(ar)" "; dkim=pass \\(2048-bit key\\) header\\.d=$Z " \
	    "forged Authentication-Results: ours has the real result"
	unlike "$HDR" 'forged\.example' "forged Authentication-Results: gone"
fi

# more signatures than max_signatures (10): the rest are policy
cp "$D/vrsa.eml" "$D/vmany.0"
sed -i 's/^Subject: vrsa/Subject: vmany/' "$D/vmany.0"
for i in $(seq 1 12); do
	$PY "$DKIMPY" sign "$D/vmany.$((i - 1))" "$D/vmany.$i" \
	    "$KEYS/rsa.private" rsa "$Z"
done
send_file 127.0.0.2 "$D/vmany.12"
if delivered "12 signatures: delivered" vmany; then
	is "$(ar | grep -o 'dkim=pass' | wc -l | tr -d ' ')" 10 \
	    "12 signatures: the first 10 verified (pass)"
	is "$(ar | grep -o 'dkim=policy (over the signature limit)' |
	    wc -l | tr -d ' ')" 2 "12 signatures: 2 reported as policy"
fi

# hostile text in a signature's tags is quoted, never copied raw
message "$D/vhost.eml" vhost
{
	printf 'DKIM-Signature: v=1; a=rsa-sha256; d=dkim.example.net;\r\n'
	printf ' s="x y\\"z; c=relaxed/relaxed; h=from;\r\n'
	printf ' bh=AAAA; b=AAAA\r\n'
	cat "$D/vhost.eml"
} >"$D/vhost.signed"
send_file 127.0.0.2 "$D/vhost.signed"
if delivered "hostile s= tag: delivered" vhost; then
	a=$(ar)
	like "$a" 'header\.s="' "hostile s= tag: quoted in Authentication-Results"
	unlike "$a" 'header\.s=[^"]' "hostile s= tag: never bare"
fi
# smtp-sink stores lines without their CR: any CR left came from a header
if sed '/^$/q' "$RAW" | grep -q $'\r'; then
	not_ok "hostile s= tag: no CR inside any header field"
else
	ok "hostile s= tag: no CR inside any header field"
fi

# on_badsig = reject: a broken signature and nothing passing is refused
restart_filterd "$D/f1b" "127.0.0.1@$NSD_PORT" "on_badsig = reject" ||
    setup_fail "postern-filterd (on_badsig = reject) does not start"
vsign vrej rsa.private rsa
break_msg "$D/vrej.signed" 's/this is a test message/this is a changed message/'
send_file 127.0.0.2 "$D/vrej.signed"
is "$SMTP_RC" 26 "on_badsig = reject: refused at end of data"
like "$(smtp_replies | grep '^550' | tail -n 1)" \
    '^550 5\.7\.20 DKIM signature verification failed' \
    "on_badsig = reject: 550 5.7.20"

# x= expired: filterd signs with signature_ttl = 1s, a second filterd
# verifies the message 3 s later
restart_filterd "$D/f2" "127.0.0.1@$NSD_PORT" "signature_ttl = 1s" ||
    setup_fail "postern-filterd (signature_ttl) does not start"
message "$D/ttl.eml" vttl
send_file 127.0.0.1 "$D/ttl.eml"
if delivered "signature_ttl: signed message delivered" vttl; then
	like "$HDR" '^DKIM-Signature: .* x=[0-9]+;' "signature_ttl: x= tag set"
	restart_filterd "$D/f3" "127.0.0.1@$NSD_PORT" "clock_drift = 0" ||
	    setup_fail "postern-filterd does not restart"
	sleep 3
	send_file 127.0.0.2 "$GOT"
	delivered "expired signature: delivered" vttl &&
	    like "$(ar)" "dkim=fail \\(signature expired\\) .*header\\.s=rsa " \
	    "x= in the past: dkim=fail (signature expired)"
fi

# --- DNS timeout: temperror; on_dnserror = failure -> on_failure
restart_filterd "$D/f4" "127.0.0.1@$SILENT_DNS_PORT" ||
    setup_fail "postern-filterd (silent DNS) does not start"
vsign vdns rsa.private rsa
send_file 127.0.0.2 "$D/vdns.signed"
is "$SMTP_RC" 26 "DNS timeout, default: message refused at end of data (swaks exit 26)"
like "$(smtp_reply_to 'DATA' | tail -n 1)$(smtp_replies | grep '^451' | tail -n 1)" \
    '451 4\.3\.0 ' "DNS timeout, default: 451 4.3.0 (on_failure = tempfail)"
restart_filterd "$D/f5" "127.0.0.1@$SILENT_DNS_PORT" "on_dnserror = none" ||
    setup_fail "postern-filterd (on_dnserror = none) does not start"
send_file 127.0.0.2 "$D/vdns.signed"
delivered "DNS timeout, on_dnserror = none: delivered" vdns &&
    like "$(ar)" "; dkim=temperror \\(key lookup failed\\) header\\.d=$Z " \
    "DNS timeout: dkim=temperror"

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
	diag_file "$PF_LOG" 30
fi

done_testing
