#!/bin/bash
# content.sh - header_checks and body_checks (the content module) as the
# milter of a real Postfix: each action as Postfix's client sees it and as
# the message arrives at the sink (or in Postfix's hold queue), a header
# folded over lines, a pattern found only after base64 decoding, a 10 MB
# body, and the SCORE action reaching [scoring].
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v swaks >/dev/null || setup_fail "swaks is not installed"

mktmp_var D e2e-content
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
FPORT=$(free_port)

cat >"$D/header_checks" <<'EOF'
/^Subject: reject me/		REJECT 5.7.1 Subject refused here
/^Subject: defer me/		DEFER try later please
/^Subject: discard me/		DISCARD
/^Subject: hold me/		HOLD review this
/^Subject: warn me/		WARN odd subject
/^Subject: score me/		SCORE 3.5 suspicious
/^X-Remove-Me:/			IGNORE
/^X-Mark: (.*)/			PREPEND X-Marked: seen $1
/^X-Old: (.*)/			REPLACE X-New: $1
/^Subject: folded start.*folded end/	REJECT folded header matched
/^Content-Disposition: .*filename="?[^"]*\.exe/	REJECT executables refused
EOF
cat >"$D/body_checks" <<'EOF'
/magic words in the body/	REJECT body refused
/decoded secret/		REJECT found after decoding
/needle past the limit/		REJECT should not be seen
EOF
chmod 644 "$D/header_checks" "$D/body_checks"

start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
mkdir -p "$D/f"
start_filterd "$D/f" "socket        = inet:$FPORT@127.0.0.1
user          = nobody
pid_file      =
pipeline      = content
authserv_id   = mx.example.com
mynetworks    = 127.0.0.1/32

[content]
header_checks = regexp:$D/header_checks
body_checks   = pcre:$D/body_checks

[scoring]
add_header    = 1
quarantine    = 100" || setup_fail "postern-filterd does not start"
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FPORT" \
    "milter_default_action = tempfail" \
    "message_size_limit = 30000000" ||
    setup_fail "private Postfix does not start"

# send SUBJECT [swaks options] - one message through Postfix
send() {
	local subject=$1
	shift
	smtp 127.0.0.1 sender@example.org user@example.com \
	    --header "Subject: $subject" "$@"
}

# data_reply - Postfix's answer to the end of DATA
data_reply() {
	smtp_replies | tail -n 2 | head -n 1
}

# delivered SUBJECT - the sink's file for SUBJECT (waits)
delivered() {
	sink_find "Subject: $1" 15
}

# header_of FILE NAME - the header's lines (unfolded, CR removed)
header_of() {
	tr -d '\r' <"$1" | sed '/^$/q' | grep -i "^$2:"
}

# --- header_checks ---------------------------------------------------------

send "reject me now"
like "$(data_reply)" "^550 5\\.7\\.1 Subject refused here" \
    "REJECT: 550 5.7.1 with the table's text"
like "$(cat "$FILTERD_LOG")" \
    "content: header_checks regexp:$D/header_checks line 1: REJECT header: Subject: reject me now: 5.7.1 Subject refused here" \
    "REJECT: logged with the table and its line number"

send "defer me now"
like "$(data_reply)" "^450 4\\.7\\.1 try later please" "DEFER: 450 4.7.1"

send "discard me now"
like "$(data_reply)" "^250 " "DISCARD: the client sees success"
like "$(cat "$PF_LOG")" "milter-discard: " "DISCARD: Postfix discards it"

send "hold me now"
like "$(data_reply)" "^250 " "HOLD: accepted"
held=0
for ((i = 0; i < 50; i++)); do
	pf_hold_has "Subject: hold me now" && { held=1; break; }
	sleep 0.1
done
is "$held" 1 "HOLD: the message is in Postfix's hold queue"

send "warn me now"
like "$(data_reply)" "^250 " "WARN: accepted"
[ -n "$(delivered "warn me now")" ] && ok "WARN: delivered" ||
    not_ok "WARN: delivered"
like "$(cat "$FILTERD_LOG")" "content: header_checks .* line 5: WARN header: Subject: warn me now: odd subject" \
    "WARN: logged"

send "edits" --header "X-Remove-Me: yes" --header "X-Mark: blue" \
    --header "X-Old: former"
f=$(delivered "edits")
if [ -n "$f" ]; then
	is "$(header_of "$f" X-Remove-Me)" "" "IGNORE: the header is gone"
	is "$(header_of "$f" X-Marked)" "X-Marked: seen blue" \
	    "PREPEND: the new header is there"
	is "$(tr -d '\r' <"$f" | sed '/^$/q' | grep -n '^X-Marked:\|^X-Mark:' |
	    cut -d: -f2 | tr '\n' ' ')" "X-Marked X-Mark " \
	    "PREPEND: right before the header that matched"
	is "$(header_of "$f" X-Old)" "" "REPLACE: the old header is gone"
	is "$(header_of "$f" X-New)" "X-New: former" \
	    "REPLACE: the new one carries the value"
else
	not_ok "the message with edits is delivered"
fi

send "score me now"
f=$(delivered "score me now")
if [ -n "$f" ]; then
	like "$(header_of "$f" X-Postern-Score)" \
	    "X-Postern-Score: 3\\.50 \\(content:DUNNO\\(\\+3\\.50\\)\\)" \
	    "SCORE: the score reaches [scoring] (X-Postern-Score)"
else
	not_ok "SCORE: delivered"
fi
like "$(cat "$FILTERD_LOG")" "filterd: action=.* score=3\\.50 modules=content:DUNNO\\(\\+3\\.50\\)" \
    "SCORE: the summary line shows the module's share"

# a folded Subject, sent raw so that swaks does not unfold it
printf 'From: <sender@example.org>\r\nTo: <user@example.com>\r\nSubject: folded start\r\n\tin the middle\r\n folded end\r\n\r\nbody\r\n' \
    >"$D/folded.eml"
smtp 127.0.0.1 sender@example.org user@example.com --data "@$D/folded.eml"
like "$(data_reply)" "^550 5\\.7\\.1 folded header matched" \
    "a header folded over three lines matches as one line"

# --- body_checks -----------------------------------------------------------

send "plain body" --body "line one
some magic words in the body
line three"
like "$(data_reply)" "^550 5\\.7\\.1 body refused" "body_checks: a plain body line"

# the phrase exists only base64-encoded in a text/plain part
ENC=$(printf 'hello\r\nthe decoded secret is here\r\n' | base64 -w 0)
cat >"$D/b64.eml" <<EOF
From: <sender@example.org>
To: <user@example.com>
Subject: base64 text part
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

$ENC
--XYZ--
EOF
smtp 127.0.0.1 sender@example.org user@example.com --data "@$D/b64.eml"
like "$(data_reply)" "^550 5\\.7\\.1 found after decoding" \
    "body_checks: a pattern inside a base64 text part is found once decoded"

# the same phrase base64-encoded in an application/octet-stream part is
# not text: it is not decoded, and its base64 noise does not match
sed 's#Content-Type: text/plain; charset=utf-8#Content-Type: application/octet-stream#; s#^Subject: .*#Subject: base64 binary part#' \
    "$D/b64.eml" >"$D/bin.eml"
smtp 127.0.0.1 sender@example.org user@example.com --data "@$D/bin.eml"
like "$(data_reply)" "^250 " "body_checks: an attachment that is not text is not decoded"

send "an exe" --attach-type application/x-msdownload \
    --attach-name setup.exe --attach "MZ fake"
like "$(data_reply)" "^550 5\\.7\\.1 executables refused" \
    "header_checks sees MIME part headers (Content-Disposition filename)"

# --- a 10 MB body ------------------------------------------------------------

/usr/bin/python3 - "$D/big.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: <sender@example.org>\r\nTo: <user@example.com>\r\n"
            "Subject: ten megabytes\r\n\r\n")
    line = "x" * 98 + "\r\n"
    for _ in range(10 * 1024 * 1024 // 100):
        f.write(line)
    f.write("needle past the limit\r\n")
PY
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$FILTERD_PID/status"; }
before=$(hwm)
smtp 127.0.0.1 sender@example.org user@example.com --data "@$D/big.eml"
like "$(data_reply)" "^250 " \
    "10 MB: accepted (body_checks stops at body_checks_size_limit)"
after=$(hwm)
if ldd "$FILTERD" | grep -q libasan; then
	# ASan's quarantine keeps every freed body chunk a while: the peak
	# says nothing there (the plain build's run checks it)
	ok "10 MB: peak memory not measured under ASan"
elif [ -n "$before" ] && [ -n "$after" ] &&
    [ $((after - before)) -lt 8192 ]; then
	ok "10 MB: filterd's peak memory grows by less than 8 MB ($before -> $after kB)"
else
	not_ok "10 MB: filterd's peak memory grows by less than 8 MB (${before:-?} -> ${after:-?} kB)"
fi

unlike "$(cat "$FILTERD_LOG")" "AddressSanitizer|runtime error:|panic" \
    "no sanitizer report, no panic"
done_testing
