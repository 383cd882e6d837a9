#!/bin/bash
# mta_lmtp.sh - postern-mta delivering by LMTP (issue 8): into a real
# Dovecot (its LMTP server on a unix socket, started standalone by the
# test) through transport_maps, with LMTP's reply per recipient: an
# unknown user refused at RCPT and a user over quota refused after DATA
# each get a DSN while the other recipient is delivered. Then crash
# safety: kill -9 of the whole postern-mta (parent, qmgr, workers) again
# and again while it delivers to a slow LMTP sink over TCP, restarting it
# on the same queue each time; in the end every message that got 250 has
# reached every recipient, duplicates stay within the kills, and the
# queue is empty.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns, dovecot)"
[ -x "$MTA" ] || setup_fail "$MTA not built"
[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
command -v smtp-sink >/dev/null || setup_fail "smtp-sink not installed"
DOVECOT=/usr/sbin/dovecot
[ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/lmtp ] ||
    setup_fail "dovecot is not installed (dovecot-lmtpd, dovecot-core)"

mktmp_var D e2e-lmtp
mkdir -p "$D/tmp" "$D/dovecot/run" "$D/dovecot/state" "$D/mail" &&
    chmod 1777 "$D/tmp" && chown nobody:nogroup "$D/mail"
H=mx.test
LMTP_SOCK=$D/dovecot/lmtp.sock

# wait_log REGEX [SECS] - the mta's log gets a line matching REGEX
wait_log() {
	local i
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		grep -Eq -- "$1" "$MTA_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# send FROM TO SUBJECT [swaks options] - one message through postern-mta
# (TO may list several, comma-separated); QID set
send() {
	local from=$1 to=$2 subj=$3
	shift 3
	smtp 127.0.0.1 "$from" "$to" --header "Subject: $subj" "$@"
	QID=$(smtp_replies | sed -n 's/.*queued as \([0-9A-Z]*\).*/\1/p' |
	    tail -n 1)
}

# maildir_find USER TEXT - the file in USER's new/ (at Dovecot) that
# contains fixed TEXT, waiting up to 10 s; prints its name
maildir_find() {
	local i f
	for ((i = 0; i < 100; i++)); do
		f=$(grep -lF -- "$2" "$D/mail/lmtp.example/$1/new/"* \
		    2>/dev/null | head -n 1)
		if [ -n "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# dsn_check FILE RCPT STATUS TEXT - FILE (a sink dump) is a DSN
# (multipart/report) that reports RCPT failed with STATUS, TEXT in its
# diagnostic, and reports no other recipient; prints what is wrong
dsn_check() {
	/usr/bin/python3 - "$@" <<'PY'
import email, sys
path, rcpt, status, text = sys.argv[1:5]
msg = email.message_from_bytes(open(path, "rb").read())
if msg.get_content_type() != "multipart/report":
    sys.exit("not a report: %s" % msg.get_content_type())
parts = msg.get_payload()
ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
if not ds:
    sys.exit("no message/delivery-status part")
# the first block is per message, the others one per recipient
blocks = [dict((k.lower(), v) for k, v in b.items())
          for b in ds[0].get_payload()]
rcpts = [b for b in blocks if "final-recipient" in b]
got = [b["final-recipient"].lower().replace(" ", "") for b in rcpts]
if got != ["rfc822;" + rcpt]:
    sys.exit("final recipients %r, not only %s" % (got, rcpt))
b = rcpts[0]
if b.get("action") != "failed" or b.get("status") != status:
    sys.exit("action %r status %r" % (b.get("action"), b.get("status")))
if text not in b.get("diagnostic-code", ""):
    sys.exit("diagnostic %r lacks %r" % (b.get("diagnostic-code"), text))
PY
}

# === 1. LMTP into Dovecot ====================================================

# bob and carol exist, full has a 1k quota, zed is unknown; userdb_ makes
# passwd-file hand the field to the userdb (quota_rule, a plugin setting)
printf '%s\n' "bob@lmtp.example:::::::" "carol@lmtp.example:::::::" \
    "full@lmtp.example:::::::userdb_quota_rule=*:storage=1K" \
    >"$D/dovecot/users"
cat >"$D/dovecot/dovecot.conf" <<EOF
base_dir = $D/dovecot/run
state_dir = $D/dovecot/state
log_path = $D/dovecot/dovecot.log
protocols = lmtp
ssl = no
mail_location = maildir:$D/mail/%d/%n
mail_plugins = quota
plugin {
  quota = maildir:User quota
}
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = passwd-file
  args = $D/dovecot/users
  default_fields = uid=nobody gid=nogroup home=$D/mail/%d/%n
}
service lmtp {
  unix_listener $LMTP_SOCK {
    mode = 0666
  }
}
EOF
BG_LOG=$D/dovecot/stderr start_bg dovecot \
    "$DOVECOT" -F -c "$D/dovecot/dovecot.conf"
DOVECOT_PID=$BG_PID
for ((i = 0; i < 100; i++)); do
	[ -S "$LMTP_SOCK" ] && break
	kill -0 "$DOVECOT_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -S "$LMTP_SOCK" ]; then
	diag_file "$D/dovecot/stderr"
	diag_file "$D/dovecot/dovecot.log"
	setup_fail "dovecot does not create $LMTP_SOCK"
fi

SINK_PORT=$(free_port)
PORT=$(free_port)
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
printf 'lmtp.example\tlmtp:unix:%s\n' "$LMTP_SOCK" >"$D/transport"
start_mta "$D" "myhostname = $H
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
relay_domains = lmtp.example
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 60s
maximal_backoff_time = 120s" || setup_fail "postern-mta does not start"
PF_PORT=$PORT	# smtp (tests/lib.sh) talks to PF_PORT

send a@example.org bob@lmtp.example,carol@lmtp.example "lmtp two"
OK_QID=$QID
for u in bob carol; do
	if f=$(maildir_find "$u" "Subject: lmtp two"); then
		ok "lmtp:unix: delivered into $u's Maildir (new/)"
		like "$(cat "$f")" \
		    "^Received: from client\\.example \\(.*\\[127\\.0\\.0\\.1\\]\\)" \
		    "with our Received: header"
		like "$(cat "$f")" \
		    "^[[:space:]]+by $H \\(Postern\\) with E?SMTP.* id $OK_QID" \
		    "naming this host and the queue id"
		like "$(cat "$f")" "^Return-Path: <a@example\\.org>" \
		    "the envelope sender reached Dovecot (its Return-Path:)"
		like "$(cat "$f")" "^Received: from $H\$" \
		    "Dovecot's Received: names our LHLO ($H)"
	else
		not_ok "lmtp:unix: delivered into $u's Maildir (new/)"
		diag_file "$MTA_LOG" 15
		diag_file "$D/dovecot/dovecot.log" 15
	fi
done
wait_log "$OK_QID: removed" 10
for u in bob carol; do
	like "$(cat "$MTA_LOG")" \
	    "$OK_QID: to=<$u@lmtp\\.example>, relay=$LMTP_SOCK, .*dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 <$u@lmtp\\.example>" \
	    "the log has Dovecot's own reply for $u"
done
is "$(mta_queue_json "$D/queue" | grep -c "$OK_QID")" 0 \
    "the delivered message leaves the queue"

# --- an unknown user: 550 at RCPT -------------------------------------------

send sender1@example.org bob@lmtp.example,zed@lmtp.example "lmtp unknown"
U_QID=$QID
if maildir_find bob "Subject: lmtp unknown" >/dev/null; then
	ok "unknown user: the other recipient is delivered"
else
	not_ok "unknown user: the other recipient is delivered"
fi
is "$(ls "$D/mail/lmtp.example/zed" 2>/dev/null)" "" \
    "nothing is stored for the unknown user"
if wait_log "$U_QID: to=<zed@lmtp\\.example>, .*dsn=5\\.1\\.1, status=bounced \\(.*User doesn't exist" \
    10; then
	ok "the unknown user bounces with Dovecot's 5.1.1"
else
	not_ok "the unknown user bounces with Dovecot's 5.1.1"
	diag_file "$MTA_LOG" 15
fi
if f=$(sink_find "X-Rcpt-Args: <sender1@example.org>" 15); then
	ok "a DSN goes to the sender"
	WHY=$(dsn_check "$f" zed@lmtp.example 5.1.1 "User doesn't exist" 2>&1)
	is "$WHY" "" "the DSN reports zed (5.1.1) and only zed"
else
	not_ok "a DSN goes to the sender"
fi

# --- over quota: 552 after DATA, one reply per recipient ---------------------

BIG=$(printf 'filler line %064d\n' $(seq 40))	# about 3k, over full's 1k
send sender2@example.org full@lmtp.example,carol@lmtp.example "lmtp quota" \
    --body "$BIG"
Q_QID=$QID
if maildir_find carol "Subject: lmtp quota" >/dev/null; then
	ok "over quota after DATA: the other recipient is delivered"
else
	not_ok "over quota after DATA: the other recipient is delivered"
fi
is "$(grep -lsF "Subject: lmtp quota" "$D/mail/lmtp.example/full/new/"* |
    wc -l)" 0 "nothing is stored for the user over quota"
if wait_log "$Q_QID: to=<full@lmtp\\.example>, .*dsn=5\\.2\\.2, status=bounced \\(.*Quota exceeded" \
    10; then
	ok "the user over quota bounces with the 552 5.2.2 after DATA"
else
	not_ok "the user over quota bounces with the 552 5.2.2 after DATA"
	diag_file "$MTA_LOG" 15
fi
like "$(cat "$MTA_LOG")" "$Q_QID: to=<carol@lmtp\\.example>, .*status=sent" \
    "while carol's reply in the same transaction is 250"
if f=$(sink_find "X-Rcpt-Args: <sender2@example.org>" 15); then
	ok "a DSN goes to that sender"
	WHY=$(dsn_check "$f" full@lmtp.example 5.2.2 "Quota exceeded" 2>&1)
	is "$WHY" "" "the DSN reports full (5.2.2) and only full"
else
	not_ok "a DSN goes to that sender"
fi
wait_log "$Q_QID: removed" 10
is "$(mta_queue_json "$D/queue" | grep -c '"id"')" 0 \
    "nothing is left in the queue"
stop_pid "$MTA_PID" 10
unlike "$(cat "$MTA_LOG")" "killed by signal|panic|Sanitizer|runtime error:" \
    "no process crashed"
stop_pid "$DOVECOT_PID" 10

# === 2. kill -9 while delivering ==============================================

# The sink: LMTP over TCP, slow on purpose. After the final dot it answers
# each recipient after DELAY seconds, first recording "TIME SUBJECT RCPT
# SENDER" (flushed) in OUT: a kill in between is a delivery the mta does
# not know of, which it repeats.
cat >"$D/lmtp-sink.py" <<'PY'
import re, socket, sys, threading, time
port, out, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
lock = threading.Lock()
rec = open(out, "a")


def serve(c):
    f = c.makefile("rb")
    sender, rcpts = "", []
    c.sendall(b"220 lmtp-sink ready\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode(errors="replace").rstrip("\r\n")
        verb = cmd[:4].upper()
        if verb == "LHLO":
            c.sendall(b"250-lmtp-sink\r\n250 ENHANCEDSTATUSCODES\r\n")
        elif verb == "MAIL":
            m = re.search(r"<([^>]*)>", cmd)
            sender, rcpts = m.group(1) if m else "?", []
            c.sendall(b"250 2.1.0 Ok\r\n")
        elif verb == "RCPT":
            m = re.search(r"<([^>]*)>", cmd)
            rcpts.append(m.group(1).lower() if m else "?")
            c.sendall(b"250 2.1.5 Ok\r\n")
        elif verb == "DATA":
            c.sendall(b"354 go ahead\r\n")
            subj = "?"
            while True:
                d = f.readline()
                if not d:
                    return
                if d in (b".\r\n", b".\n"):
                    break
                m = re.match(rb"Subject: (\S+)", d)
                if m and subj == "?":
                    subj = m.group(1).decode()
            for r in rcpts:
                time.sleep(delay)
                with lock:
                    rec.write("%.3f %s %s %s\n" % (time.time(), subj, r,
                                                   sender or "<>"))
                    rec.flush()
                c.sendall(b"250 2.0.0 <%s> delivered\r\n" % r.encode())
            rcpts = []
        elif verb in ("RSET", "NOOP"):
            sender, rcpts = "", []
            c.sendall(b"250 2.0.0 Ok\r\n")
        elif verb == "QUIT":
            c.sendall(b"221 2.0.0 Bye\r\n")
            return
        else:
            c.sendall(b"502 5.5.2 what\r\n")


def conn(c):
    try:
        serve(c)
    except OSError:
        pass
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=conn, args=(c,), daemon=True).start()
PY

# The client: one message per session to 2..4 recipients, for SECS
# seconds; each "queued as ID" goes to OUT as "ID SUBJECT RCPT,RCPT.."
cat >"$D/crash-client.py" <<'PY'
import random, re, socket, sys, time
port, out, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.time() + secs
tries = queued = 0
with open(out, "w") as o:
    while time.time() < end:
        tries += 1
        subj = "crash-%d-%08x" % (tries, random.getrandbits(32))
        rcpts = ["u%d-%d@crash.example" % (tries, i)
                 for i in range(random.randint(2, 4))]
        s = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            f = s.makefile("rb")

            def reply():
                while True:
                    line = f.readline()
                    if not line:
                        raise OSError("closed")
                    if len(line) < 4 or line[3:4] != b"-":
                        return line.decode(errors="replace").rstrip("\r\n")

            steps = [(None, "220"), (b"EHLO crash.example\r\n", "250"),
                     (b"MAIL FROM:<c@example.org>\r\n", "250")]
            steps += [(b"RCPT TO:<%s>\r\n" % r.encode(), "250")
                      for r in rcpts]
            steps += [(b"DATA\r\n", "354"),
                      (b"Subject: " + subj.encode() + b"\r\n\r\nbody\r\n.\r\n",
                       "250")]
            for send, want in steps:
                if send:
                    s.sendall(send)
                got = reply()
                if not got.startswith(want):
                    raise OSError(got)
            m = re.fullmatch(r"250 2\.0\.0 Ok: queued as ([0-9A-Z]{16})", got)
            if not m:
                sys.stderr.write("odd 250: %r\n" % got)
                continue
            o.write("%s %s %s\n" % (m.group(1), subj, ",".join(rcpts)))
            o.flush()
            queued += 1
            s.sendall(b"QUIT\r\n")
            time.sleep(0.1)
        except OSError:
            time.sleep(0.05)
        finally:
            if s is not None:
                s.close()
print("%d tries, %d queued" % (tries, queued))
PY

mkdir -p "$D/crash"
LPORT=$(free_port)
CPORT=$(free_port)
: >"$D/crash/delivered"
KILLS=$D/crash/kills
: >"$KILLS"
BG_LOG=$D/crash/sink.log start_bg lmtp-sink /usr/bin/python3 \
    "$D/lmtp-sink.py" "$LPORT" "$D/crash/delivered" 0.1
wait_port "$LPORT" 10 || setup_fail "the LMTP sink does not start"
# everything, DSNs included, goes to the sink: none is expected
printf '*\tlmtp:[127.0.0.1]:%s\n' "$LPORT" >"$D/crash/transport"
CCONF="myhostname = $H
user = nobody
queue_directory = $D/crash/queue
temp_dir = $D/tmp
pid_file =
smtp_listen = 127.0.0.1:$CPORT
workers = 2
mynetworks = 127.0.0.0/8
queue_minfree = 1M
transport_maps = hash:$D/crash/transport
relay_domains = crash.example
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s"
start_mta "$D/crash" "$CCONF" || setup_fail "postern-mta (crash) does not start"
CQ=$D/crash/queue

# kill_mta - kill -9 the whole postern-mta: the parent is stopped first so
# that it forks no process unseen, then it and all its children go (a
# qmgr or worker left alone would run on as an orphan); "START END" of
# each kill (the times it began and when all were gone) go to KILLS
kill_mta() {
	local kids i t0=$EPOCHREALTIME
	kill -STOP "$MTA_PID"
	kids=$(pgrep -P "$MTA_PID")
	kill -KILL "$MTA_PID"
	[ -n "$kids" ] && kill -KILL $kids 2>/dev/null
	wait "$MTA_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		[ -z "$kids" ] && break
		kill -0 $kids 2>/dev/null || break
		sleep 0.05
	done
	printf '%s %s\n' "$t0" "$EPOCHREALTIME" >>"$KILLS"
}

BG_LOG=$D/crash/client.log start_bg crash-client \
    /usr/bin/python3 "$D/crash-client.py" "$CPORT" "$D/crash/queued" 14
CLIENT_PID=$BG_PID
kills=0 restart_fail=0
end=$((SECONDS + 16))
while [ "$SECONDS" -lt "$end" ]; do
	sleep "0.$((5 + RANDOM % 5))"
	kill_mta
	kills=$((kills + 1))
	for ((i = 0; i < 50; i++)); do
		port_listening "$CPORT" || break
		sleep 0.1
	done
	if ! start_mta "$D/crash" "$CCONF"; then
		restart_fail=$((restart_fail + 1))
		break
	fi
done
wait "$CLIENT_PID"
is "$restart_fail" 0 "postern-mta restarts on its queue after each kill -9"
diag "$kills kill(s) of the whole postern-mta;" \
    "client: $(tail -n 1 "$D/crash/client.log")"

# queue_left - the messages still to be delivered (one JSON a line); not
# those in corrupt/: files that a kill cut short before their 250
queue_left() {
	mta_queue_json "$CQ" 2>&1 | grep -v '"queue": *"corrupt"'
}

# wait until every queued message is gone (delivered), 60 s at most
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ] && [ -n "$(queue_left)" ]; do
	sleep 0.2
done
is "$(queue_left)" "" "after the last restart the queue empties"
stop_pid "$MTA_PID" 10
is "$(find "$CQ/incoming" "$CQ/active" "$CQ/deferred" -type f 2>/dev/null |
    wc -l)" 0 "no file is left in incoming/, active/ or deferred/"

NQ=$(wc -l <"$D/crash/queued")
check "the client got at least 15 messages queued ($NQ)" [ "$NQ" -ge 15 ]
# per recipient of every message that got 250: how often it arrived, and
# whether each repeated delivery was in flight at a kill: one began
# within 1.5 s after it (the sink's replies take at most 0.4 s, the mta's
# sync of the states a moment) and ended less than 0.3 s before it (the
# sink goes on recording, sleeping between its replies, until it notices
# that the mta is gone)
OUT=$(/usr/bin/python3 - "$D/crash/queued" "$D/crash/delivered" "$kills" \
    "$KILLS" <<'PY'
import collections, sys
queued, delivered, kills = sys.argv[1], sys.argv[2], int(sys.argv[3])
killed = [tuple(map(float, l.split())) for l in open(sys.argv[4])]
want = {}
for line in open(queued):
    qid, subj, rcpts = line.split()
    want[subj] = (qid, rcpts.split(","))
got = collections.Counter()
times = collections.defaultdict(list)
senders = collections.Counter()
for line in open(delivered):
    t, subj, rcpt, sender = line.split()
    got[(subj, rcpt)] += 1
    times[(subj, rcpt)].append(float(t))
    senders[sender] += 1
unkilled = []
gaps = []
for k, ts in times.items():
    for t1, t2 in zip(ts, ts[1:]):
        ks = [start for start, end in killed
              if t1 - 0.3 < end and start < min(t2, t1 + 1.5)]
        if not ks:
            unkilled.append("%s %s: again after %.2fs, no kill within"
                            " 1.5s of the first" % (k[0], k[1], t2 - t1))
        else:
            gaps.append(min(ks) - t1)
print("in_flight_max %.2fs" % max(gaps, default=0))
lost = ["%s %s %s" % (want[s][0], s, r) for s in want for r in want[s][1]
        if got[(s, r)] == 0]
dups = sum(n - 1 for n in got.values() if n > 1)
worst = max(got.values(), default=0)
over = ["%s %s: %d times" % (s, r, n) for (s, r), n in got.items()
        if n - 1 > kills]
print("rcpts %d" % sum(len(v[1]) for v in want.values()))
print("deliveries %d" % sum(got.values()))
print("duplicates %d" % dups)
print("dup_rcpts %d" % sum(1 for n in got.values() if n > 1))
print("worst %d" % worst)
print("bounces %d" % senders["<>"])
for l in lost:
    print("lost " + l)
for o in over:
    print("over " + o)
for u in unkilled:
    print("unkilled " + u)
PY
)
diag "$(printf '%s\n' "$OUT" | grep -Ev '^(lost|over|unkilled) ' | tr '\n' ' ')"
LOST=$(printf '%s\n' "$OUT" | grep '^lost ')
is "$(printf '%s' "$LOST" | grep -c .)" 0 \
    "every recipient of every message that got 250 got it (nothing lost)" ||
    diag "$(printf '%s\n' "$LOST" | head -n 10)"
OVER=$(printf '%s\n' "$OUT" | grep '^over ')
is "$(printf '%s' "$OVER" | grep -c .)" 0 \
    "no recipient got a message more than 1 + $kills (kills) times" ||
    diag "$(printf '%s\n' "$OVER" | head -n 10)"
UNK=$(printf '%s\n' "$OUT" | grep '^unkilled ')
is "$(printf '%s' "$UNK" | grep -c .)" 0 \
    "a recipient gets a message again only if it was in flight at a kill" ||
    diag "$(printf '%s\n' "$UNK" | head -n 10)"
is "$(printf '%s\n' "$OUT" | sed -n 's/^bounces //p')" 0 \
    "no DSN: no recipient failed"
corrupt=$(find "$CQ/corrupt" -type f -printf '%f\n' 2>/dev/null | sort)
diag "$(printf '%s\n' "$corrupt" | grep -c .) file(s) in corrupt/" \
    "(writes that kill -9 cut before any 250)"
is "$(printf '%s\n' "$corrupt" |
    grep -Fxf <(cut -d' ' -f1 "$D/crash/queued"))" "" \
    "nothing in corrupt/ got a 250"

found=
for f in "$D/mta.log" "$D/crash/mta.log"; do
	if grep -Eq 'Sanitizer|runtime error:|panic:' "$f"; then
		found="$found ${f#$D/}"
		grep -E 'Sanitizer|SUMMARY|runtime error:|panic:' "$f" |
		    head -n 5 | sed 's/^/# /'
	fi
done
is "$found" "" "no sanitizer report or panic in any mta log"
done_testing
