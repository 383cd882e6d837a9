#!/bin/bash
# mta_smtp.sh - postern-mta's SMTP server, byte for byte: every command
# and extension, pipelining, BDAT, DSN and SMTPUTF8 parameters,
# STARTTLS (with a plaintext command injected after it), AUTH PLAIN and
# LOGIN, SMTP smuggling variants, open-relay tricks, and what lands in
# the queue. No milter here (tests/e2e/mta_milter.sh has those).
#
# Clients: 127.0.0.1 is outside mynetworks (127.0.0.2/32 is inside), so
# relaying needs relay_domains (ours.example), AUTH, or 127.0.0.2.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns)"
[ -x "$MTA" ] || setup_fail "$MTA not built"

mktmp_var D e2e-mta
mkdir -p "$D/tmp" && chmod 1777 "$D/tmp"
PORT=$(free_port)
PORT6=$(/usr/bin/python3 -c 'import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
print(s.getsockname()[1])')
SUB=$(free_port)
SUBS=$(free_port)
H=mx.test

# a users file: alice / secret (SHA-512 crypt)
/usr/bin/python3 - "$D/users" <<'PY'
import crypt, sys
with open(sys.argv[1], "w") as f:
    f.write("# test users\n")
    f.write("alice:" + crypt.crypt("secret",
                                   crypt.mksalt(crypt.METHOD_SHA512)) + "\n")
PY
chmod 600 "$D/users"
# base64 of "\0alice\0secret", "\0alice\0wrong", "alice", "secret"
PLAIN_OK=$(printf '\0alice\0secret' | base64 -w0)
PLAIN_BAD=$(printf '\0alice\0wrong' | base64 -w0)
B64_ALICE=$(printf 'alice' | base64 -w0)
B64_SECRET=$(printf 'secret' | base64 -w0)

start_mta "$D" "myhostname = $H
user = nobody
queue_directory = $D/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$PORT, [::1]:$PORT6
submission_listen = 127.0.0.1:$SUB
submissions_listen = 127.0.0.1:$SUBS
workers = 2
mynetworks = 127.0.0.2/32
relay_domains = ours.example
tls_cert_file = $D/cert.pem
tls_key_file = $D/key.pem
tls_self_signed = yes
auth_users = $D/users
queue_minfree = 1M
delivery = no" || setup_fail "postern-mta does not start"

EHLO_PLAIN="< 250-$H
< 250-PIPELINING
< 250-SIZE 10240000
< 250-STARTTLS
< 250-ENHANCEDSTATUSCODES
< 250-8BITMIME
< 250-DSN
< 250-SMTPUTF8
< 250 CHUNKING"

# queued_ids - the ids in the queue, one per line
queued_ids() {
	mta_queue_json "$D/queue" | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["id"])'
}

# last_qid - the id in the last "queued as" reply of CONV_OUT
last_qid() {
	printf '%s\n' "$CONV_OUT" | sed -n 's/^S: 250 2.0.0 Ok: queued as //p' |
	    tail -n 1 | tr -d '\r'
}

# --- greeting, EHLO, simple commands ----------------------------------------

converse "greeting and EHLO keywords (no AUTH before TLS on port 25)" \
    "$PORT" <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
$EHLO_PLAIN
>> QUIT
< 221 2.0.0 Bye
<.
EOF

converse "HELO, NOOP, RSET, VRFY, HELP, EXPN, unknown, MAIL before HELO" \
    "$PORT" <<EOF
< 220 $H ESMTP Postern
>> MAIL FROM:<a@example.org>
< 503 5.5.1 Error: send HELO/EHLO first
>> HELO client.example
< 250 $H
>> NOOP
< 250 2.0.0 Ok
>> RSET
< 250 2.0.0 Ok
>> VRFY postmaster
< 252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery
>> HELP
< 214 2.0.0 See RFC 5321 (Postern)
>> EXPN staff
< 502 5.5.1 Error: command not implemented
>> FROB
< 502 5.5.2 Error: command not recognized
>> RCPT TO:<a@ours.example>
< 503 5.5.1 Error: need MAIL command
>> DATA
< 503 5.5.1 Error: need MAIL command
>> HELO
< 501 5.5.4 Syntax: HELO/EHLO hostname
>> QUIT
< 221 2.0.0 Bye
<.
EOF

if CONV_OUT=$(printf '< 220 %s ESMTP Postern\n>> QUIT\n< 221 2.0.0 Bye\n' "$H" |
    /usr/bin/python3 "$TOP/tests/smtp/converse.py" ::1 "$PORT6" - 2>&1); then
	ok "an IPv6 listener ([::1]) greets and serves"
else
	not_ok "an IPv6 listener ([::1]) greets and serves"
	diag "$CONV_OUT"
fi

# --- a message into the queue -------------------------------------------------

converse "a message to a relay_domains recipient is queued" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<sender@example.org> SIZE=300
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: first\r\nFrom: <sender@example.org>\r\nMessage-ID: <first.1@example.org>\r\n\r\nHello.\r\n..dot line\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
>> QUIT
< 221 2.0.0 Bye
EOF
QID=$(last_qid)
SHOW=$("$POSTERNCTL" queue -d "$D/queue" show "$QID" 2>&1)
like "$SHOW" "Subject: first" "the queue file has the header (show $QID)"
like "$SHOW" $'\n\\.dot line' "dot-unstuffing: ..dot line is stored as .dot line"
like "$SHOW" "Received: from client\\.example \\(unknown \\[127\\.0\\.0\\.1\\]\\)" \
    "our Received: header names the HELO and the address"
like "$SHOW" "by $H \\(Postern\\) with ESMTP id $QID" \
    "Received: by, with ESMTP, id"
like "$(mta_queue_json "$D/queue")" "\"id\": *\"$QID\".*\"sender\": *\"sender@example.org\"" \
    "posternctl queue list --json shows the message and its sender"
like "$(cat "$MTA_LOG")" "$QID: from=<sender@example.org>, size=[0-9]+, nrcpt=1 \\(queue incoming\\)" \
    "the log line for the message (Postfix style)"
like "$(cat "$MTA_LOG")" "$QID: client=unknown\\[127\\.0\\.0\\.1\\]" \
    "the client= log line"
like "$(cat "$MTA_LOG")" "$QID: message-id=<first\\.1@example\\.org>" \
    "the message-id= log line"

# --- DSN, SMTPUTF8, 8BITMIME ------------------------------------------------

converse "DSN parameters are accepted and kept" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<dsn@example.org> RET=HDRS ENVID=env+2Bid BODY=8BITMIME
< 250 2.1.0 Ok
>> RCPT TO:<a@ours.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Ba@ours.example
< 250 2.1.5 Ok
>> RCPT TO:<b@ours.example> NOTIFY=NEVER
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: dsn\r\n\r\nx\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
QID=$(last_qid)
SHOW=$("$POSTERNCTL" queue -d "$D/queue" show "$QID" 2>&1)
like "$SHOW" "HDRS" "RET=HDRS is in the queue file"
like "$SHOW" "env\\+id" "ENVID is stored decoded (env+id)"
like "$SHOW" "orig\\+a@ours\\.example" "ORCPT is stored decoded"

converse "DSN syntax errors" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org> RET=ALL
<~ 501 5\.5\.4 .*
>> MAIL FROM:<x@example.org> FOO=bar
< 555 5.5.4 Unsupported option: FOO=bar
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<a@ours.example> NOTIFY=NEVER,SUCCESS
<~ 501 5\.5\.4 .*
>> RCPT TO:<a@ours.example> NOTIFY=SUCCESS NOTIFY=DELAY
<~ 501 5\.5\.4 .*
EOF

converse "SMTPUTF8: unicode addresses need the parameter" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<j\xc3\xb6rg@example.org>
< 553 5.6.7 Must declare SMTPUTF8 to send unicode address
>> MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8
< 250 2.1.0 Ok
>> RCPT TO:<m\xc3\xbcller@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: utf8\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
QID=$(last_qid)
like "$("$POSTERNCTL" queue -d "$D/queue" show "$QID" 2>&1)" \
    "with UTF8SMTP id $QID" "SMTPUTF8 mail is received with UTF8SMTP"

converse "a parameter of an extension not offered after HELO is refused" \
    "$PORT" <<EOF
<<
>> HELO client.example
<<
>> MAIL FROM:<x@example.org> SIZE=100
< 555 5.5.4 Unsupported option: SIZE=100
EOF

converse "BODY=BINARYMIME is not offered" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org> BODY=BINARYMIME
< 555 5.5.4 Unsupported option: BODY=BINARYMIME
EOF

converse "SIZE over message_size_limit is refused at MAIL" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org> SIZE=99999999
< 552 5.3.4 Message size exceeds fixed limit
EOF

# --- pipelining ---------------------------------------------------------------

converse "a pipelined MAIL, RCPT, RCPT, DATA group gets its replies in order" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
> MAIL FROM:<p@example.org>\r\nRCPT TO:<a@ours.example>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\n
< 250 2.1.0 Ok
< 250 2.1.5 Ok
< 554 5.7.1 <x@elsewhere.example>: Relay access denied
< 354 End data with <CR><LF>.<CR><LF>
> Subject: piped\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
< 250 2.0.0 Ok
< 250 2.0.0 Ok
EOF

converse "pipelining without EHLO: 554 5.5.0 and disconnect" "$PORT" <<EOF
<<
>> HELO client.example
<<
> MAIL FROM:<p@example.org>\r\nRCPT TO:<a@ours.example>\r\n
< 554 5.5.0 Error: SMTP protocol synchronization
<.
EOF

converse "a command sent before the reply to EHLO: 554 5.5.0 and disconnect" \
    "$PORT" <<EOF
<<
> EHLO client.example\r\nMAIL FROM:<p@example.org>\r\n
< 554 5.5.0 Error: SMTP protocol synchronization
<.
EOF

converse "message data sent with DATA before the 354: 554 5.5.0" "$PORT" <<EOF
<<
>> EHLO client.example
<<
> MAIL FROM:<p@example.org>\r\nRCPT TO:<a@ours.example>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n
< 250 2.1.0 Ok
< 250 2.1.5 Ok
< 554 5.5.0 Error: SMTP protocol synchronization
<.
EOF

# --- BDAT ----------------------------------------------------------------------

converse "BDAT chunks, pipelined, end with LAST" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<bdat@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<a@ours.example>
< 250 2.1.5 Ok
> BDAT 20\r\nSubject: chunked\r\n\r\nBDAT 14\r\n.not stuffed\r\nBDAT 0 LAST\r\n
< 250 2.0.0 Ok: 20 bytes
< 250 2.0.0 Ok: 34 bytes
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
QID=$(last_qid)
SHOW=$("$POSTERNCTL" queue -d "$D/queue" show "$QID" 2>&1)
like "$SHOW" "Subject: chunked" "BDAT: header stored"
like "$SHOW" $'\n\\.not stuffed' "BDAT: a leading dot is data (no unstuffing)"

converse "BDAT without a valid recipient: every chunk refused" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<bdat@example.org>
< 250 2.1.0 Ok
> BDAT 5\r\nhelloBDAT 3 LAST\r\nabc
< 554 5.5.1 Error: no valid recipients
< 554 5.5.1 Error: no valid recipients
>> NOOP
< 250 2.0.0 Ok
EOF

converse "DATA after BDAT is refused" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<bdat@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<a@ours.example>
< 250 2.1.5 Ok
> BDAT 3\r\nabc
< 250 2.0.0 Ok: 3 bytes
>> DATA
< 503 5.5.1 Error: DATA after BDAT
EOF

# --- open relay -----------------------------------------------------------------

for rcpt in 'user%other.example@ours.example' 'other.example!user@ours.example' \
    '"user@other.example"@ours.example' 'user@other.example@ours.example' \
    '@ours.example:user@other.example' 'user@[192.0.2.1]' \
    'user@other.example' 'user@other.example.' 'USER@OTHER.EXAMPLE' \
    '"user%other.example"@ours.example'; do
	converse "no relay for <$rcpt> from outside" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<$rcpt>
<~ (554 5\.7\.1 <.*>: Relay access denied|501 5\.1\.3 .*)
EOF
done

for rcpt in 'user@ours.example' 'user@OURS.example' 'user@ours.example.' \
    'postmaster'; do
	converse "<$rcpt> is ours" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<$rcpt>
< 250 2.1.5 Ok
EOF
done

converse "a mynetworks client (127.0.0.2) may relay" "$PORT" \
    --bind 127.0.0.2 <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@other.example>
< 250 2.1.5 Ok
EOF

# --- STARTTLS and AUTH ----------------------------------------------------------

converse "STARTTLS: a command injected after it in plaintext is not run" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
> STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
< 250-$H
< 250-PIPELINING
< 250-SIZE 10240000
< 250-AUTH PLAIN LOGIN
< 250-ENHANCEDSTATUSCODES
< 250-8BITMIME
< 250-DSN
< 250-SMTPUTF8
< 250 CHUNKING
>> RCPT TO:<user@ours.example>
< 503 5.5.1 Error: need MAIL command
>> STARTTLS
< 502 5.5.1 Error: command not implemented
EOF

converse "after STARTTLS the session starts over: MAIL needs EHLO again" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> MAIL FROM:<x@example.org>
< 503 5.5.1 Error: send HELO/EHLO first
EOF

converse "AUTH before TLS on port 25 is refused" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> AUTH PLAIN $PLAIN_OK
< 503 5.5.1 Error: authentication not enabled
EOF

converse "AUTH PLAIN with an initial response; then relaying is allowed" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
<<
>> AUTH PLAIN $PLAIN_OK
< 235 2.7.0 Authentication successful
>> AUTH PLAIN $PLAIN_OK
< 503 5.5.1 Error: already authenticated
>> MAIL FROM:<alice@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<friend@other.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: authed\r\n\r\nhi\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
QID=$(last_qid)
like "$("$POSTERNCTL" queue -d "$D/queue" show "$QID" 2>&1)" \
    "with ESMTPSA id $QID" "an authenticated TLS message is ESMTPSA"

converse "AUTH LOGIN in two steps" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
<<
>> AUTH LOGIN
< 334 VXNlcm5hbWU6
>> $B64_ALICE
< 334 UGFzc3dvcmQ6
>> $B64_SECRET
< 235 2.7.0 Authentication successful
EOF

converse "AUTH failures: wrong password, cancel, bad base64, unknown mechanism" \
    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
<<
>> AUTH PLAIN $PLAIN_BAD
< 535 5.7.8 Error: authentication failed
>> AUTH PLAIN
< 334 
>> *
< 501 5.7.0 Authentication aborted
>> AUTH PLAIN !!notbase64!!
< 501 5.5.2 Invalid base64 data in initial response
>> AUTH LOGIN
< 334 VXNlcm5hbWU6
>> !!notbase64!!
< 501 5.5.2 Cannot decode response
>> AUTH CRAM-MD5
< 504 5.5.4 Unsupported authentication mechanism
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<friend@other.example>
< 554 5.7.1 <friend@other.example>: Relay access denied
EOF

converse "submission: MAIL needs AUTH" "$SUB" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org>
< 530 5.7.0 Authentication required
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
<<
>> AUTH PLAIN $PLAIN_OK
< 235 2.7.0 Authentication successful
>> MAIL FROM:<alice@example.org>
< 250 2.1.0 Ok
EOF

converse "submissions: TLS from the first byte" "$SUBS" --tls <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
< 250-$H
< 250-PIPELINING
< 250-SIZE 10240000
< 250-AUTH PLAIN LOGIN
< 250-ENHANCEDSTATUSCODES
< 250-8BITMIME
< 250-DSN
< 250-SMTPUTF8
< 250 CHUNKING
EOF

# after the tests above: one failure so far from 127.0.0.1, and
# auth_failure_limit is 5 (default) within 10 minutes
converse "AUTH failures are rate-limited per client" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> STARTTLS
< 220 2.0.0 Ready to start TLS
!starttls
>> EHLO client.example
<<
$(for i in 1 2 3 4; do printf '>> AUTH PLAIN %s\n< 535 5.7.8 Error: authentication failed\n' "$PLAIN_BAD"; done)
>> AUTH PLAIN $PLAIN_OK
< 454 4.7.0 Too many authentication failures; try again later
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<friend@other.example>
< 554 5.7.1 <friend@other.example>: Relay access denied
EOF

# --- smuggling --------------------------------------------------------------------

# each variant sits inside DATA, followed by what a smuggler wants run as
# a second message; only CR LF . CR LF ends the data, so there is one
# message, refused for its bare line ends, and no other reply
smuggle=0
for v in '\n.\n' '\n.\r\n' '\r\n.\n' '\r.\r' '\r\n.\r' '\r\n\0.\r\n' \
    '\r\n.\0\r\n'; do
	smuggle=$((smuggle + 1))
	before=$(queued_ids | wc -l)
	converse "smuggling variant $smuggle ($v) never ends the data" \
	    "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<x@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: smuggle $smuggle\r\n\r\nhello${v}MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@ours.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n
<~ (550 5\.5\.2 Error: bare <(LF|CR)> received|250 2\.0\.0 Ok: queued as [0-9A-Z]{16})
<\$
EOF
	after=$(queued_ids | wc -l)
	if [ $((after - before)) -le 1 ]; then
		ok "smuggling variant $smuggle: at most one message queued"
	else
		not_ok "smuggling variant $smuggle: $((after - before)) messages"
	fi
done

# --- limits ----------------------------------------------------------------------

LONG=$(head -c 3000 /dev/zero | tr '\0' 'a')
converse "a command line over line_length_limit: 500 5.5.2" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> NOOP $LONG
< 500 5.5.2 Error: line too long
>> NOOP
< 250 2.0.0 Ok
EOF

converse "too many errors: 421 after hard_error_limit (20)" "$PORT" <<EOF
<<
$(for i in $(seq 19); do printf '>> FROB\n< 502 5.5.2 Error: command not recognized\n'; done)
>> FROB
< 502 5.5.2 Error: command not recognized
< 421 4.7.0 $H Error: too many errors
<.
EOF

stop_pid "$MTA_PID" 10
check_no_sanitizer "$MTA_LOG"
done_testing
