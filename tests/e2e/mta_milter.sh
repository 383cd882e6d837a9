#!/bin/bash
# mta_milter.sh - postern-mta as a milter client: the scriptable test
# milter (tests/smtp/testmilter.py) answering every reply type at every
# stage and making every edit, malformed replies, a filter down or too
# slow (default_action), two filters in a chain, and the real filters:
# postern-filterd (access policy) and OpenDKIM signing (its
# DKIM-Signature must land in the queue file).
#
# Every scenario starts its own postern-mta on one queue per scenario,
# so queue contents are the scenario's alone.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns)"
[ -x "$MTA" ] || setup_fail "$MTA not built"
need_filterd

mktmp_var D e2e-mtamilter
mkdir -p "$D/tmp" && chmod 1777 "$D/tmp"
H=mx.test

# scenario NAME MILTERS [EXTRA CONFIG] - a postern-mta whose milters
# setting is MILTERS, queue in $D/NAME/queue; sets PORT, Q
scenario() {
	local name=$1 milters=$2 extra=${3:-}
	[ -n "${MTA_PID:-}" ] && stop_pid "$MTA_PID" 10
	mkdir -p "$D/$name"
	PORT=$(free_port)
	Q=$D/$name/queue
	start_mta "$D/$name" "myhostname = $H
user = nobody
queue_directory = $Q
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$PORT
workers = 1
mynetworks = 127.0.0.2/32
relay_domains = ours.example
queue_minfree = 1M
delivery = no
milters = $milters
$extra" || setup_fail "postern-mta ($name) does not start"
}

# send_msg DESC WANT [rcpt...] - one message through the scenario's mta;
# the end-of-data reply must match WANT (regex); QID is set when queued
send_msg() {
	local desc=$1 want=$2
	shift 2
	local rcpts=("$@") script
	[ ${#rcpts[@]} = 0 ] && rcpts=(user@ours.example)
	script="<<
>> EHLO client.example
<<
>> MAIL FROM:<sender@example.org>
< 250 2.1.0 Ok"
	for r in "${rcpts[@]}"; do
		script+="
>> RCPT TO:<$r>
< 250 2.1.5 Ok"
	done
	script+="
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> From: <sender@example.org>\\r\\nTo: <user@ours.example>\\r\\nSubject: test $desc\\r\\n\\r\\nline one\\r\\nline two\\r\\n.\\r\\n
<~ $want
>> QUIT
< 221 2.0.0 Bye"
	converse "$desc" "$PORT" <<<"$script"
	QID=$(printf '%s\n' "$CONV_OUT" |
	    sed -n 's/^S: 250 2.0.0 Ok: queued as //p' | tail -n 1 | tr -d '\r')
}

# show QID - the queued message as posternctl shows it
show() {
	"$POSTERNCTL" queue -d "$Q" show "$1" 2>&1
}

# queue_count - messages in the scenario's queue
queue_count() {
	mta_queue_json "$Q" | wc -l
}

# tm_has REGEX DESC - the test milter's log has a line matching REGEX
tm_has() {
	like "$(cat "$TM_LOG")" "$1" "$2"
}

QUEUED='250 2\.0\.0 Ok: queued as [0-9A-Z]{16}'

# --- connect and helo verdicts ------------------------------------------------

start_testmilter "$D" conn-r '{"connect": ["r"]}'
scenario conn-r "$TM_SOCK"
converse "connect 'r': the greeting, then every command gets 550 5.7.1" \
    "$PORT" <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
< 550 5.7.1 Command rejected
>> MAIL FROM:<a@example.org>
< 550 5.7.1 Command rejected
>> NOOP
< 250 2.0.0 Ok
>> QUIT
< 221 2.0.0 Bye
EOF

start_testmilter "$D" conn-t '{"connect": ["t"]}'
scenario conn-t "$TM_SOCK"
converse "connect 't': 451 4.7.1 for every command" "$PORT" <<EOF
<<
>> EHLO client.example
< 451 4.7.1 Service unavailable - try again later
EOF

start_testmilter "$D" conn-y '{"connect": [{"y": "554 5.7.1 go away please"}]}'
scenario conn-y "$TM_SOCK"
converse "connect 'y': the filter's own text" "$PORT" <<EOF
<<
>> HELO client.example
< 554 5.7.1 go away please
EOF

start_testmilter "$D" conn-4 '{"connect": ["4"]}'
scenario conn-4 "$TM_SOCK"
converse "connect '4': 421 instead of the greeting, then close" "$PORT" <<EOF
< 421 4.7.0 Server closing connection
<.
EOF

start_testmilter "$D" conn-a '{"connect": ["a"]}'
scenario conn-a "$TM_SOCK"
send_msg "connect 'a': mail flows" "$QUEUED"
unlike "$(cat "$TM_LOG")" '"cmd":"[HMRTLNBE]"' \
    "connect 'a': the filter hears nothing more of the session"

start_testmilter "$D" helo-r '{"helo": ["r"]}'
scenario helo-r "$TM_SOCK"
converse "helo 'r': EHLO refused, and MAIL after it" "$PORT" <<EOF
<<
>> EHLO client.example
< 550 5.7.1 Command rejected
>> MAIL FROM:<a@example.org>
< 550 5.7.1 Command rejected
EOF

# --- mail, rcpt, data ------------------------------------------------------------

start_testmilter "$D" mail '{"mail": ["r", "t", {"y": "553 5.1.8 bad sender domain"}]}'
scenario mail "$TM_SOCK"
converse "mail 'r', 't', 'y' in turn" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 550 5.7.1 Command rejected
>> MAIL FROM:<a@example.org>
< 451 4.7.1 Service unavailable - try again later
>> MAIL FROM:<a@example.org>
< 553 5.1.8 bad sender domain
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
EOF

start_testmilter "$D" rcpt '{"rcpt": ["r", "c"]}'
scenario rcpt "$TM_SOCK"
converse "rcpt 'r' refuses that recipient only" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<one@ours.example>
< 550 5.7.1 Command rejected
>> RCPT TO:<two@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: x\r\n\r\nx\r\n.\r\n
<~ $QUEUED
EOF
QID=$(printf '%s\n' "$CONV_OUT" | sed -n 's/^S: 250 2.0.0 Ok: queued as //p' | tr -d '\r')
like "$(mta_queue_json "$Q")" '"address": *"two@ours.example"' \
    "rcpt 'r': the accepted recipient is queued"
unlike "$(mta_queue_json "$Q")" 'one@ours.example' \
    "rcpt 'r': the refused one is not"
tm_has '"cmd":"D","for":"R","macros":\[\["\{rcpt_mailer\}","smtp"\],\["\{rcpt_host\}","ours.example"\],\["\{rcpt_addr\}","one@ours.example"\]\]' \
    "rcpt macros as Postfix sends them"
tm_has '"cmd":"D","for":"T","macros":\[\["i","'"$QID"'"\]\]' \
    "the queue id macro i at DATA is the id the client was told"

start_testmilter "$D" rcpt-d '{"rcpt": ["d"]}'
scenario rcpt-d "$TM_SOCK"
send_msg "rcpt 'd': the message is taken and dropped" "$QUEUED"
is "$(queue_count)" 0 "rcpt 'd': nothing queued"
like "$(cat "$MTA_LOG")" "$QID: discard: by milter $TM_SOCK" \
    "rcpt 'd': logged as a discard"

start_testmilter "$D" data '{"data": ["r"]}'
scenario data "$TM_SOCK"
converse "data 'r': DATA refused" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<one@ours.example>
< 250 2.1.5 Ok
>> DATA
< 550 5.7.1 Command rejected
EOF

converse "data 'r' with BDAT: every chunk gets the filter's refusal" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<one@ours.example>
< 250 2.1.5 Ok
> BDAT 3\r\nabcBDAT 2 LAST\r\nde
< 550 5.7.1 Command rejected
< 550 5.7.1 Command rejected
>> NOOP
< 250 2.0.0 Ok
EOF

start_testmilter "$D" bdat '{}'
scenario bdat "$TM_SOCK"
converse "BDAT reaches the filter as one DATA" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<one@ours.example>
< 250 2.1.5 Ok
> BDAT 22\r\nSubject: in chunks\r\n\r\nBDAT 6 LAST\r\nbody\r\n
< 250 2.0.0 Ok: 22 bytes
<~ $QUEUED
EOF
tm_has '"cmd":"T"' "BDAT: the filter got the data event"
tm_has '"cmd":"L","name":"Subject","value":"in chunks"' \
    "BDAT: the header from the first chunk"
tm_has '"cmd":"B","len":6,"data":"body\\r\\n"' \
    "BDAT: the body across chunks, as one"

start_testmilter "$D" unk '{"unknown": [{"y": "500 5.5.1 what is that"}]}'
scenario unk "$TM_SOCK"
converse "an unknown command goes to the filter, which may answer it" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> XYZZY plugh
< 500 5.5.1 what is that
>> XYZZY again
< 502 5.5.2 Error: command not recognized
EOF
tm_has '"cmd":"U","command":"XYZZY plugh"' "the filter saw the unknown command"

# --- end of message ---------------------------------------------------------------

# one SMTP session per message, so one milter connection each: the
# n-th connection's script answers the n-th message
start_testmilter "$D" eom '{"sessions": [{"eom": ["r"]}, {"eom": ["t"]},
 {"eom": [{"y": "552 5.7.0 not this one"}]}, {"eom": ["d"]}, {"eom": ["c"]}]}'
scenario eom "$TM_SOCK"
send_msg "eom 'r'" '550 5\.7\.1 Command rejected'
send_msg "eom 't'" '451 4\.7\.1 Service unavailable - try again later'
send_msg "eom 'y'" '552 5\.7\.0 not this one'
send_msg "eom 'd': 250 but nothing queued" "$QUEUED"
is "$(queue_count)" 0 "refused and discarded messages leave no queue file"
send_msg "eom 'c': queued" "$QUEUED"
is "$(queue_count)" 1 "the accepted message is queued"

start_testmilter "$D" quar '{"eom": [[{"q": "looks odd"}, "c"]]}'
scenario quar "$TM_SOCK"
send_msg "eom 'q': quarantined into hold/" "$QUEUED"
like "$(mta_queue_json "$Q")" '"queue": *"hold"' "the message is in hold/"
like "$(mta_queue_json "$Q")" 'looks odd' "with the filter's reason"

start_testmilter "$D" hdr '{"header": ["c", "r"]}'
scenario hdr "$TM_SOCK"
send_msg "header 'r' at the second header" '550 5\.7\.1 Command rejected'
unlike "$(cat "$TM_LOG")" '"name":"Received"' \
    "the mta's own Received: is never shown to the filter"
tm_has '"cmd":"L","name":"From","value":"<sender@example.org>"' \
    "header values without the leading space (no HDR_LEADSPC)"

# SKIP must be negotiated (SMFIP_SKIP 0x400); a filter that sends 's'
# without it breaks the protocol (see "broken filters" below)
start_testmilter "$D" skip '{"negotiate": {"flags": 1024}, "body": ["s"]}'
scenario skip "$TM_SOCK"
send_msg "body 's': the rest of the body is skipped" "$QUEUED"
is "$(grep -c '"cmd":"B"' "$TM_LOG")" 1 "one body packet, then end of message"

# --- edits --------------------------------------------------------------------------

start_testmilter "$D" edits '{"eom": [[
 {"h": ["X-Added", "added value"]},
 {"i": [0, "X-First", "at the top"]},
 {"m": [1, "Subject", "changed subject"]},
 {"m": [1, "To", ""]},
 {"e": ["<new-sender@example.org>"]},
 {"+": "<added@ours.example>"},
 {"2": ["<added2@ours.example>", "NOTIFY=NEVER"]},
 {"+": "<relay@elsewhere.example>"},
 {"-": "<user@ours.example>"},
 {"b": "new body\r\n"},
 {"b": "second line\n"},
 "c"]]}'
scenario edits "$TM_SOCK"
send_msg "every edit at end of message" "$QUEUED" user@ours.example keep@ours.example
S=$(show "$QID")
J=$(mta_queue_json "$Q")
like "$S" "X-Added: added value" "add header"
like "$S" "Subject: changed subject" "change header"
unlike "$S" "^To: " "change header with an empty value deletes it"
like "$(printf '%s\n' "$S" | grep -oE '^(Received|X-First|From):' | head -n 3 | tr '\n' ' ')" \
    '^Received: X-First: From: $' \
    "insert at 0 goes before the first visible field (our Received: stays on top)"
like "$J" '"sender": *"new-sender@example.org"' "change sender (brackets removed)"
like "$J" 'added@ours.example' "add recipient"
like "$J" 'added2@ours.example' "add recipient with parameters"
unlike "$J" 'relay@elsewhere.example' \
    "a recipient the relay guard refuses is not added"
unlike "$J" '"user@ours.example"' "delete recipient"
like "$J" 'keep@ours.example' "other recipients stay"
like "$S" $'new body\nsecond line' "replace body (LF made CR LF, shown as lines)"
unlike "$S" "line one" "the old body is gone"
like "$(cat "$MTA_LOG")" 'added recipient <relay@elsewhere.example> refused by the relay rules' \
    "the refused added recipient is logged"

# --- broken filters: default_action -------------------------------------------------

start_testmilter "$D" bad '{"eom": [{"y": "250 2.0.0 fine"}]}'
scenario bad "$TM_SOCK"
send_msg "a 'y' reply with 250 breaks the protocol: tempfail" \
    '451 4\.3\.5 Server configuration problem - try again later'
like "$(cat "$MTA_LOG")" "milter $TM_SOCK: .*250.*default_action tempfail" \
    "the protocol violation is logged with the filter's name"

start_testmilter "$D" badhdr '{"eom": [[{"h": ["Bad:Name", "x"]}, "c"]]}'
scenario badhdr "$TM_SOCK"
send_msg "a header name with ':' breaks the protocol: tempfail" \
    '451 4\.3\.5 Server configuration problem - try again later'

start_testmilter "$D" badlen '{"eom": [{"raw": "ffffffff63"}]}'
scenario badlen "$TM_SOCK"
send_msg "an absurd packet length breaks the protocol: tempfail" \
    '451 4\.3\.5 Server configuration problem - try again later'

DOWN=inet:127.0.0.1:$(free_port)
scenario down-t "$DOWN"
converse "filter down, default tempfail: 451 4.3.5 for the session" \
    "$PORT" <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
< 451 4.3.5 Server configuration problem - try again later
EOF
scenario down-a "{ $DOWN, default_action = accept }"
send_msg "filter down, default_action accept: mail flows" "$QUEUED"
scenario down-r "{ $DOWN, default_action = reject }"
converse "filter down, default_action reject: 550 5.5.0" "$PORT" <<EOF
<<
>> EHLO client.example
< 550 5.5.0 Service unavailable
EOF
scenario down-q "{ $DOWN, default_action = quarantine }"
send_msg "filter down, default_action quarantine: held" "$QUEUED"
like "$(mta_queue_json "$Q")" '"queue": *"hold"' \
    "filter down, quarantine: the message is in hold/"
scenario down-s "{ $DOWN, default_action = shutdown }"
converse "filter down, default_action shutdown: 421 and close" "$PORT" <<EOF
< 421 4.3.5 Server configuration problem - closing connection
<.
EOF

start_testmilter "$D" slow '{"eom": [[{"sleep": 3}, "c"]]}'
scenario slow "{ $TM_SOCK, content_timeout = 1s }"
T0=$SECONDS
send_msg "a filter slower than content_timeout: tempfail" \
    '451 4\.3\.5 Server configuration problem - try again later'
if [ $((SECONDS - T0)) -le 3 ]; then
	ok "the timeout struck within content_timeout (+ slack)"
else
	not_ok "the timeout struck within content_timeout (took $((SECONDS - T0)) s)"
fi

# --- a chain of two: the second filter sees the first one's edits -----------------

start_testmilter "$D" chain1 '{"eom": [[{"h": ["X-From-First", "one"]}, "c"]]}'
FIRST=$TM_SOCK
start_testmilter "$D" chain2 '{}'
scenario chain "$FIRST, $TM_SOCK"
send_msg "two filters in a chain" "$QUEUED"
tm_has '"cmd":"L","name":"X-From-First","value":"one"' \
    "the second filter sees the first one's added header"
like "$(show "$QID")" "X-From-First: one" "the edit is in the queue file"

# --- the real filters: postern-filterd and OpenDKIM -------------------------------

FPORT=$(free_port)
mkdir -p "$D/filterd"
start_filterd "$D/filterd" "socket = inet:$FPORT@127.0.0.1
user = nobody
pid_file =
pipeline = access
authserv_id = $H
mynetworks = 127.0.0.2/32

[access]
relay_domains = ours.example
sender_restrictions = check_sender_access inline:{ spam@bad.example=REJECT }" ||
    setup_fail "postern-filterd does not start"
scenario filterd "inet:127.0.0.1:$FPORT"
converse "filterd refuses a sender with its own text (at RCPT: delay_reject)" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<spam@bad.example>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
<~ 554 5\.7\.1 <spam@bad\.example>: Sender address rejected: .*
EOF
send_msg "filterd accepts a good message" "$QUEUED"
like "$(show "$QID")" "Authentication-Results: $H" \
    "filterd's Authentication-Results header is in the queue file"

if [ -x /usr/sbin/opendkim ]; then
	mkdir -p "$D/dkim"
	(cd "$D/dkim" && opendkim-genkey -b 1024 -d ours.example -s sel) ||
	    setup_fail "opendkim-genkey failed"
	chown -R nobody "$D/dkim"
	DPORT=$(free_port)
	cat >"$D/dkim/opendkim.conf" <<EOF
Syslog no
Mode s
Domain example.org
Selector sel
KeyFile $D/dkim/sel.private
Socket inet:$DPORT@127.0.0.1
UserID nobody
RequireSafeKeys no
Background no
EOF
	BG_LOG=$D/dkim/opendkim.log start_bg opendkim /usr/sbin/opendkim -f \
	    -x "$D/dkim/opendkim.conf"
	wait_port "$DPORT" 10 || setup_fail "opendkim does not listen"
	scenario dkim "inet:127.0.0.1:$DPORT"
	send_msg "opendkim signs a message from mynetworks" "$QUEUED"
	like "$(show "$QID")" "DKIM-Signature: v=1; a=rsa-sha256; c=[a-z]+/[a-z]+; d=example.org; s=sel;" \
	    "OpenDKIM's DKIM-Signature header is in the queue file"
	# the queued message (after show's envelope block) must verify:
	# the filter saw exactly the bytes that were stored
	show "$QID" | sed '1,/^$/d' | /usr/bin/python3 -c '
import dkim, re, sys
txt = open(sys.argv[1]).read()
record = "".join(re.findall(r"\"([^\"]*)\"", txt)).encode()
msg = sys.stdin.buffer.read().replace(b"\n", b"\r\n")
ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: record)
sys.exit(0 if ok else 1)' "$D/dkim/sel.txt"
	is "$?" 0 "the DKIM signature of the queued message verifies (dkimpy)"
	scenario dkim-chain "inet:127.0.0.1:$FPORT, inet:127.0.0.1:$DPORT"
	send_msg "filterd then opendkim in one chain" "$QUEUED"
	S=$(show "$QID")
	like "$S" "Authentication-Results: $H" "chain: filterd's header"
	like "$S" "DKIM-Signature: v=1" "chain: opendkim's signature"
else
	not_ok "opendkim is installed (scripts/deps installs it)"
fi

stop_pid "$MTA_PID" 10
unlike "$(cat "$D"/*/mta.log)" \
    "killed by signal|AddressSanitizer|LeakSanitizer|runtime error:" \
    "no worker crashed, no sanitizer report"
done_testing
