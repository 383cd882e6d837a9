#!/bin/bash
# mta_deliver.sh - postern-mta delivering (issue 8, first cases): relay to
# a real smtp-sink through relayhost, Maildir delivery through
# transport_maps, error: transports and their DSN (parsed with Python's
# email module), a next hop that answers 4xx and then accepts (the
# message waits in deferred/ and goes on schedule; posternctl queue flush
# sends it at once), and a message that expires into a DSN.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns)"
[ -x "$MTA" ] || setup_fail "$MTA not built"
command -v smtp-sink >/dev/null || setup_fail "smtp-sink not installed"

mktmp_var D e2e-deliver
mkdir -p "$D/tmp" "$D/md" && chmod 1777 "$D/tmp" && chown nobody "$D/md"
SINK_PORT=$(free_port)
PORT=$(free_port)
H=mx.test
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
RAW_PORT=$(free_port)
start_rawsink "$D/raw" "$RAW_PORT" || setup_fail "rawsink does not start"
printf 'md.example\tmaildir:%s/md/%%d/%%u\nerr.example\terror:5.1.1 no such user here\ndrop.example\tdiscard\nreuse.example\tsmtp:[127.0.0.1]:%s\n' \
    "$D" "$RAW_PORT" >"$D/transport"
printf 'team@md.example\tbob@md.example, carol@md.example\nold@md.example\tteam@md.example\n' \
    >"$D/virtual"
printf 'bob@md.example\tok\ncarol@md.example\tok\nteam@md.example\tok\nold@md.example\tok\n' \
    >"$D/users"

# the gateway: postern-filterd (access policy) as the milter
FPORT=$(free_port)
mkdir -p "$D/filterd"
start_filterd "$D/filterd" "socket = inet:$FPORT@127.0.0.1
user = nobody
pid_file =
pipeline = access
authserv_id = $H
mynetworks = 127.0.0.0/8" || setup_fail "postern-filterd does not start"

start_mta "$D" "myhostname = $H
milters = inet:127.0.0.1:$FPORT
user = nobody
queue_directory = $D/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$PORT
workers = 1
mynetworks = 127.0.0.0/8
queue_minfree = 1M
relayhost = [127.0.0.1]:$SINK_PORT
transport_maps = hash:$D/transport
virtual_alias_maps = hash:$D/virtual
relay_domains = md.example
local_recipient_maps = hash:$D/users
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 60s
maximal_backoff_time = 120s" || setup_fail "postern-mta does not start"

PF_PORT=$PORT	# smtp (tests/lib.sh) talks to PF_PORT

# send FROM TO SUBJECT - one message through postern-mta; QID set
send() {
	smtp 127.0.0.1 "$1" "$2" --header "Subject: $3"
	QID=$(smtp_replies | sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' |
	    tail -n 1)
}

# wait_log REGEX [SECS] - the mta's log gets a line matching REGEX
wait_log() {
	local i
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		grep -Eq -- "$1" "$MTA_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# --- relay -------------------------------------------------------------------

send a@example.org u@remote.example "relay one"
f=$(sink_find "Subject: relay one" 15)
if [ -n "$f" ]; then
	ok "relayhost: the message reaches the sink"
	like "$(tr -d '\r' <"$f")" "Received: from .*\\[127\\.0\\.0\\.1\\]" \
	    "with the mta's Received: header"
	like "$(tr -d '\r' <"$f")" "X-Rcpt-Args: <u@remote\\.example>" \
	    "to the right recipient"
	like "$(tr -d '\r' <"$f")" "Authentication-Results: $H" \
	    "with filterd's Authentication-Results (the gateway end to end)"
else
	not_ok "relayhost: the message reaches the sink"
fi
wait_log "$QID: removed" 10
like "$(cat "$MTA_LOG")" "$QID: to=<u@remote\\.example>, relay=.*, dsn=2\\.0\\.0, status=sent \\(250" \
    "the delivery is logged Postfix style"
is "$(mta_queue_json "$D/queue" | grep -c "$QID")" 0 \
    "a delivered message leaves the queue"

# --- connection reuse ------------------------------------------------------------

# four messages one after another to one next hop (a raw sink that logs
# its connections): one connection carries them, QUIT after it idled
send a@example.org x@reuse.example "reuse 1"
for i in 2 3 4; do
	wait_log "$QID: removed" 10
	send a@example.org x@reuse.example "reuse $i"
done
wait_log "$QID: removed" 10
is "$(ls "$D/raw" | grep -c '^data\.')" 4 "all four messages reach the next hop"
is "$(grep -c '^connect' "$D/raw/log")" 1 "over one connection (connection reuse)"
like "$(cat "$MTA_LOG")" "to=<x@reuse\\.example>, relay=127\\.0\\.0\\.1, conn_use=4, .*status=sent" \
    "the fourth is logged with conn_use=4"
for ((i = 0; i < 100; i++)); do
	grep -q '^disconnect' "$D/raw/log" && break
	sleep 0.1
done
is "$(tail -n 2 "$D/raw/log" | tr '\n' ' ')" "QUIT disconnect 1 " \
    "after smtp_connection_cache_time_limit idle: QUIT and close"

# a kept connection the server dropped meanwhile is not used: the next
# message goes out on a new one, never deferred for it
send a@example.org x@reuse.example "reuse 5"
wait_log "$QID: removed" 10
stop_pid "$RAWSINK_PID" 5
start_rawsink "$D/raw2" "$RAW_PORT" || setup_fail "rawsink does not start again"
send a@example.org x@reuse.example "reuse 6"
if wait_log "$QID: to=<x@reuse\\.example>, relay=127\\.0\\.0\\.1, delay=[0-9]+, dsn=2\\.0\\.0, status=sent" 10; then
	ok "a dropped kept connection: the message goes on a new one"
else
	not_ok "a dropped kept connection: the message goes on a new one"
	diag_file "$MTA_LOG" 10
fi
unlike "$(grep "$QID: to=" "$MTA_LOG")" "deferred" "and is not deferred"

# --- outbound content is canonical -----------------------------------------------

# lone dots and dot lines sent by the client arrive unstuffed in the
# queue; on the way out they must be stuffed again, every line end CR LF
converse "a message with dot lines is queued" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<y@reuse.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: dots\r\n\r\n..\r\n..x\r\n...\r\nQUIT\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
f=
for ((i = 0; i < 100; i++)); do
	f=$(grep -lF "Subject: dots" "$D"/raw2/data.* 2>/dev/null | head -n 1)
	[ -n "$f" ] && break
	sleep 0.1
done
if [ -n "$f" ]; then
	is "$(sed -n '/^Subject: dots/,$p' "$f" | od -An -c | tr -s ' \n' ' ')" \
	    "$(printf 'Subject: dots\r\n\r\n..\r\n..x\r\n...\r\nQUIT\r\n.\r\n' | od -An -c | tr -s ' \n' ' ')" \
	    "dot lines go out stuffed, CR LF, one message"
else
	not_ok "the message with dot lines reaches the next hop"
fi

# --- maildir ---------------------------------------------------------------------

send a@example.org Bob@md.example "maildir one"
wait_log "$QID: removed" 10
f=$(ls "$D/md/md.example/bob/new/" 2>/dev/null | head -n 1)
if [ -n "$f" ]; then
	ok "transport_maps maildir: a file in new/"
	M=$(cat "$D/md/md.example/bob/new/$f")
	like "$M" "^Return-Path: <a@example.org>" "with Return-Path first"
	like "$M" "Delivered-To: Bob@md.example" "and Delivered-To"
	like "$M" "Subject: maildir one" "and the message"
	unlike "$M" $'\r' "with LF line ends"
	is "$(ls "$D/md/md.example/bob/tmp" | wc -l)" 0 "nothing left in tmp/"
else
	not_ok "transport_maps maildir: a file in new/"
fi

# --- NOTIFY=SUCCESS ---------------------------------------------------------------

converse "NOTIFY=SUCCESS to a Maildir recipient is queued" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<sender@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<bob@md.example> NOTIFY=SUCCESS
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: notify success\r\n\r\nhi\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
f=$(sink_find "Successful Mail Delivery Report" 15)
if [ -n "$f" ]; then
	ok "NOTIFY=SUCCESS: a success DSN goes to the sender"
	like "$(tr -d '\r' <"$f")" "Action: delivered" "Action: delivered"
else
	not_ok "NOTIFY=SUCCESS: a success DSN goes to the sender"
	diag_file "$MTA_LOG" 10
fi

# --- virtual_alias_maps, local_recipient_maps ----------------------------------

send a@example.org old@md.example "via alias"
wait_log "$QID: removed" 10
for u in bob carol; do
	if grep -lqs "Subject: via alias" "$D/md/md.example/$u/new/"*; then
		ok "virtual_alias_maps (two levels): delivered to $u"
	else
		not_ok "virtual_alias_maps (two levels): delivered to $u"
	fi
done
like "$(cat "$MTA_LOG")" "$QID: to=<old@md.example>: virtual alias to 2 addresses" \
    "the expansion is logged"
smtp 127.0.0.1 a@example.org nobody@md.example
like "$(smtp_replies)" "550 5\.1\.1 <nobody@md\.example>: Recipient address rejected: User unknown in local recipient table" \
    "local_recipient_maps: an unknown user of relay_domains gets 550 5.1.1"

# --- error: and the DSN ----------------------------------------------------------

send sender@example.org x@err.example "bounce me"
BQID=$QID
f=$(sink_find "Undelivered Mail Returned to Sender" 15)
if [ -n "$f" ]; then
	ok "error: transport: a DSN goes back to the sender"
	/usr/bin/python3 - "$f" <<'PY'
import email, sys
raw = open(sys.argv[1], "rb").read()
# the sink's dump starts with its own X- lines and Received:, then ours
msg = email.message_from_bytes(raw)
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "delivery-status"
parts = msg.get_payload()
assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"], [p.get_content_type() for p in parts]
ds = parts[1].get_payload()
fields = {}
for block in ds:
    for k, v in block.items():
        fields[k.lower()] = v
assert fields["final-recipient"].lower().replace(" ", "") == "rfc822;x@err.example", fields
assert fields["action"] == "failed", fields
assert fields["status"] == "5.1.1", fields
assert "no such user here" in fields["diagnostic-code"], fields
assert parts[2].get_content_type() in ("message/rfc822", "text/rfc822-headers")
print("dsn ok")
PY
	is "$?" 0 "the DSN parses (multipart/report, delivery-status fields)"
	like "$(tr -d '\r' <"$f")" "X-Rcpt-Args: <sender@example\\.org>" \
	    "the DSN goes to the original sender"
	like "$(tr -d '\r' <"$f")" "X-Mail-Args: <>" \
	    "from the null sender"
else
	not_ok "error: transport: a DSN goes back to the sender"
fi
like "$(cat "$MTA_LOG")" "$BQID: sender non-delivery notification: [0-9A-Z]{16}" \
    "the DSN is logged"

send a@example.org y@drop.example "discard me"
wait_log "$QID: removed" 10
like "$(cat "$MTA_LOG")" "$QID: to=<y@drop\\.example>, relay=discard, .*status=sent" \
    "discard: reported as sent"

# --- a next hop that defers, then accepts ----------------------------------------

stop_pid "$SINK_PID" 5 2>/dev/null || true
pkill -f "smtp-sink.*127.0.0.1:$SINK_PORT" 2>/dev/null
sleep 0.5
send a@example.org later@remote.example "deferred one"
DQID=$QID
if wait_log "$DQID: to=<later@remote\\.example>.*status=deferred" 10; then
	ok "the next hop down: deferred"
else
	not_ok "the next hop down: deferred"
fi
sleep 1
like "$(mta_queue_json "$D/queue")" "\"id\": *\"$DQID\".*\"queue\": *\"(deferred|incoming|active)\"" \
    "the message waits in the queue"
# hold, release and delete while the queue manager runs: a held message
# is not delivered (not even by a flush), a released one goes at once, a
# deleted one never
send a@example.org held@remote.example "held one"
HQID=$QID
send a@example.org deleted@remote.example "deleted one"
EQID=$QID
wait_log "$HQID: to=<held@remote\\.example>.*status=deferred" 10
wait_log "$EQID: to=<deleted@remote\\.example>.*status=deferred" 10
sleep 0.5
is "$("$POSTERNCTL" queue -d "$D/queue" hold "$HQID" 2>&1; echo "rc=$?")" \
    "rc=0" "posternctl queue hold of a deferred message"
is "$("$POSTERNCTL" queue -d "$D/queue" delete "$EQID" 2>&1; echo "rc=$?")" \
    "rc=0" "posternctl queue delete of a deferred message"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start again"
sleep 3
is "$(grep -lF "Subject: deferred one" "$SINK_DIR"/* 2>/dev/null | wc -l)" 0 \
    "a deferred message waits for its time (minimal_backoff_time 60s)"
is "$("$POSTERNCTL" queue -d "$D/queue" flush)" "1 message flushed" \
    "posternctl queue flush"
f=$(sink_find "Subject: deferred one" 15)
if [ -n "$f" ]; then
	ok "after queue flush it is delivered at once"
else
	not_ok "after queue flush it is delivered at once"
	diag_file "$MTA_LOG" 20
fi
sleep 1
is "$(grep -lF -e "Subject: held one" -e "Subject: deleted one" \
    "$SINK_DIR"/* 2>/dev/null | wc -l)" 0 \
    "neither the held nor the deleted message was delivered by the flush"
like "$(mta_queue_json "$D/queue")" "\"id\": *\"$HQID\".*\"queue\": *\"hold\"" \
    "the held message is still in hold/"
is "$("$POSTERNCTL" queue -d "$D/queue" release "$HQID" 2>&1; echo "rc=$?")" \
    "rc=0" "posternctl queue release"
if [ -n "$(sink_find "Subject: held one" 15)" ]; then
	ok "a released message is delivered at once"
else
	not_ok "a released message is delivered at once"
	diag_file "$MTA_LOG" 20
fi
unlike "$(grep "$EQID" "$MTA_LOG")" "status=sent" "the deleted one never is"
stop_pid "$MTA_PID" 10

# --- retries on schedule, expiry -------------------------------------------------

# a second instance: short backoff and lifetime; mail for back.example
# (the senders' domain) goes to the sink, everything else to a sink that
# first answers 4xx to RCPT and later (restarted) accepts, or to nothing
DEAD=$(free_port)
RETRY_PORT=$(free_port)
mkdir -p "$D/x" "$D/retry"
HARD_PORT=$(free_port)
printf 'back.example\tsmtp:[127.0.0.1]:%s\nretry.example\tsmtp:[127.0.0.1]:%s\nhard.example\tsmtp:[127.0.0.1]:%s\n' \
    "$SINK_PORT" "$RETRY_PORT" "$HARD_PORT" >"$D/x/transport"
# a next hop that refuses every recipient for good
mkdir -p "$D/hard" && chown nobody "$D/hard"
BG_LOG=$D/hard/sink.log start_bg hard-sink smtp-sink -u nobody \
    -f RCPT -B "550 5.1.1 No such user here" -h hard.example \
    "127.0.0.1:$HARD_PORT" 64
wait_port "$HARD_PORT" 10 || setup_fail "smtp-sink -f does not start"
chown nobody "$D/retry"
BG_LOG=$D/retry/sink.log start_bg retry-sink smtp-sink -u nobody \
    -d "$D/retry/msg." -r RCPT -h retry.example "127.0.0.1:$RETRY_PORT" 64
RETRY_PID=$BG_PID
wait_port "$RETRY_PORT" 10 || setup_fail "smtp-sink -r does not start"
start_mta "$D/x" "myhostname = $H
user = nobody
queue_directory = $D/x/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$PORT
workers = 1
mynetworks = 127.0.0.0/8
queue_minfree = 1M
relayhost = [127.0.0.1]:$DEAD
transport_maps = hash:$D/x/transport
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
maximal_queue_lifetime = 8s
delay_warning_time = 3s" || setup_fail "postern-mta (retries) does not start"

# a 5xx from the next hop: a DSN naming the server and its reply
send h@back.example nobody@hard.example "refused for good"
HQID=$QID
if wait_log "$HQID: to=<nobody@hard\.example>, relay=127\.0\.0\.1.*dsn=5\.1\.1, status=bounced \(550 5\.1\.1 No such user here" 10; then
	ok "a 5xx from the next hop: bounced with its reply"
else
	not_ok "a 5xx from the next hop: bounced with its reply"
	diag_file "$MTA_LOG" 10
fi
f=$(sink_find "X-Postern-Queue-ID: $HQID" 15)
if [ -n "$f" ]; then
	/usr/bin/python3 - "$f" <<'PY'
import email, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read())
assert msg.get_content_type() == "multipart/report"
parts = msg.get_payload()
r = parts[1].get_payload()[1]
assert r["Final-Recipient"] == "rfc822; nobody@hard.example", r.items()
assert r["Action"] == "failed", r.items()
assert r["Status"] == "5.1.1", r.items()
assert r["Remote-MTA"] == "dns; 127.0.0.1", r.items()
assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 No such user here", \
    r.items()
assert parts[2].get_content_type() == "message/rfc822", \
    parts[2].get_content_type()
PY
	is "$?" 0 "the DSN: Remote-MTA, Diagnostic-Code with the server's reply, the original message"
else
	not_ok "the DSN of a 5xx reaches the sender's server"
fi

send s@back.example r@retry.example "retry me"
RQID=$QID
if wait_log "$RQID: to=<r@retry\.example>.*dsn=4\.[0-9.]*, status=deferred \(.*4[0-9][0-9] " 10; then
	ok "a next hop answering 4xx: deferred with its reply"
else
	not_ok "a next hop answering 4xx: deferred with its reply"
	diag_file "$MTA_LOG" 10
fi
stop_pid "$RETRY_PID" 5
BG_LOG=$D/retry/sink2.log start_bg retry-sink2 smtp-sink -u nobody \
    -d "$D/retry/msg." -h retry.example "127.0.0.1:$RETRY_PORT" 64
wait_port "$RETRY_PORT" 10 || setup_fail "smtp-sink does not start again"
if wait_log "$RQID: to=<r@retry\.example>.*status=sent" 15; then
	ok "once the next hop accepts, the message goes on schedule (no flush)"
else
	not_ok "once the next hop accepts, the message goes on schedule (no flush)"
	diag_file "$MTA_LOG" 10
fi

# two recipients that never get through: one with the default NOTIFY
# (failures and delays are reported), one with NOTIFY=FAILURE only
converse "a message for a next hop that never answers is queued" "$PORT" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<sender@back.example>
< 250 2.1.0 Ok
>> RCPT TO:<gone@remote.example>
< 250 2.1.5 Ok
>> RCPT TO:<quiet@remote.example> NOTIFY=FAILURE
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: expire me\r\n\r\nhi\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
EOF
XQID=$(sed -n 's/.* \([0-9A-Z]\{16\}\): from=<sender@back\.example>.*/\1/p' \
    "$MTA_LOG" | head -n 1)

# delay_warning_time: one "delayed" DSN once the message is 3s old
if wait_log "$XQID: sender delay notification: " 10; then
	ok "past delay_warning_time the sender gets a delay notification"
else
	not_ok "past delay_warning_time the sender gets a delay notification"
	diag_file "$MTA_LOG" 20
fi
f=$(sink_find "Action: delayed" 15)
if [ -n "$f" ]; then
	/usr/bin/python3 - "$f" "$XQID" <<'PY'
import email, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read())
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert "sender@back.example" in msg["To"], msg["To"]
parts = msg.get_payload()
blocks = parts[1].get_payload()
assert blocks[0]["X-Postern-Queue-ID"] == sys.argv[2], blocks[0].items()
rcpts = blocks[1:]
assert len(rcpts) == 1, [b.items() for b in rcpts]
r = rcpts[0]
assert r["Final-Recipient"] == "rfc822; gone@remote.example", r.items()
assert r["Action"] == "delayed", r.items()
assert r["Status"].startswith("4."), r.items()
assert "Will-Retry-Until" in r, r.items()
assert "connect to" in r["Diagnostic-Code"], r.items()
assert parts[2].get_content_type() == "text/rfc822-headers", \
    parts[2].get_content_type()
PY
	is "$?" 0 "the delay DSN: Action delayed, 4.x.x, Will-Retry-Until, headers only, the NOTIFY=FAILURE recipient left out"
else
	not_ok "the delay DSN reaches the sender's server"
fi

if wait_log "$XQID: to=<gone@remote\.example>, status=expired \(delivery time expired" 25; then
	ok "past maximal_queue_lifetime the recipient expires"
else
	not_ok "past maximal_queue_lifetime the recipient expires"
	diag_file "$MTA_LOG" 20
fi
wait_log "$XQID: removed" 5
like "$(cat "$MTA_LOG")" "$XQID: sender non-delivery notification" \
    "and a DSN is queued for the sender"
is "$(grep -c "$XQID: sender delay notification" "$MTA_LOG")" 1 \
    "one delay notification in all, though the message was deferred again"
is "$(grep -c "$XQID: to=<gone@remote\.example>.*status=deferred" \
    "$MTA_LOG" | awk '{ print ($1 > 2) ? "more than twice" : $1 }')" \
    "more than twice" "(it was deferred more than twice)"
# the sink file holding both TEXTs (the delay DSN names the queue id too)
sink_find2() {
	local i f
	for ((i = 0; i < $3 * 10; i++)); do
		f=$(grep -rlF -- "$1" "$SINK_DIR"/ 2>/dev/null |
		    xargs -r grep -lF -- "$2" | head -n 1)
		[ -n "$f" ] && { printf '%s\n' "$f"; return 0; }
		sleep 0.1
	done
	return 1
}
f=$(sink_find2 "X-Postern-Queue-ID: $XQID" "Action: failed" 15)
if [ -n "$f" ]; then
	/usr/bin/python3 - "$f" <<'PY'
import email, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read())
assert msg.get_content_type() == "multipart/report"
rcpts = {}
for block in msg.get_payload()[1].get_payload()[1:]:
    rcpts[block["Final-Recipient"]] = block
assert sorted(rcpts) == ["rfc822; gone@remote.example",
                         "rfc822; quiet@remote.example"], sorted(rcpts)
for r in rcpts.values():
    assert r["Action"] == "failed", r.items()
    assert r["Status"] == "4.4.7", r.items()
    assert "delivery time expired" in r["Diagnostic-Code"], r.items()
PY
	is "$?" 0 "the expiry DSN parses: both recipients, Action failed, Status 4.4.7"
else
	not_ok "the expiry DSN reaches the sender's server"
fi

stop_pid "$MTA_PID" 10
unlike "$(cat "$D"/mta.log "$D"/x/mta.log)" \
    "killed by signal|panic|AddressSanitizer|runtime error:" \
    "no process crashed, no sanitizer report"
done_testing
