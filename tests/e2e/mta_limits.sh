#!/bin/bash
# mta_limits.sh - postern-mta under pressure: every session limit
# (recipients, header and message size, idle and data-rate timeouts,
# connections per client and in total, junk commands, greet_pause,
# queue_minfree), durability (strace shows the queue file, its rename and
# its directory on disk before the 250; a full file system; kill -9 of
# workers and parent while a client sends), and config errors at -n and
# at a reload.
#
# Each part runs a postern-mta of its own with the settings it needs
# (instance NAME lives in $D/NAME). Clients: 127.0.0.1 is outside
# mynetworks, 127.0.0.2/32 is inside.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ "$(id -u)" = 0 ] || setup_fail "must run as root (binds, chowns, mount)"
[ -x "$MTA" ] || setup_fail "$MTA not built"
[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
command -v strace >/dev/null || setup_fail "strace is not installed" \
    "(apt package strace; scripts/deps installs it)"

mktmp_var D e2e-mta-limits
mkdir -p "$D/tmp" && chmod 1777 "$D/tmp"
H=mx.test
SMALL=$D/small
INSTANCES=()

# forget_instance PID - PID is gone: never signal that number again
forget_instance() {
	local i
	for i in "${!INSTANCES[@]}"; do
		[ "${INSTANCES[$i]}" = "$1" ] && unset 'INSTANCES[i]'
	done
	return 0
}

# stop_instance PID - stop a postern-mta and see that none of its workers
# outlives it: one that misses its SIGTERM would run on as an orphan,
# keeping its port
stop_instance() {
	local pid=$1 kids k
	forget_instance "$pid"
	kids=$(pgrep -P "$pid")
	stop_pid "$pid" 3
	for k in $kids; do
		if kill -0 "$k" 2>/dev/null; then
			diag "worker $k of postern-mta $pid did not stop:" \
			    "killed"
			kill -KILL "$k" 2>/dev/null
		fi
	done
	return 0
}

# limits_cleanup - what stop_all cannot know: workers (postern-mta under
# strace is not even our child), and the tmpfs, unmounted once nothing
# writes to it
limits_cleanup() {
	local pid
	for pid in "${INSTANCES[@]}"; do
		stop_instance "$pid"
	done
	if mountpoint -q "$SMALL" 2>/dev/null; then
		umount "$SMALL" 2>/dev/null || umount -l "$SMALL"
	fi
}
trap 'limits_cleanup; stop_all' EXIT

# instance_conf NAME PORT [SETTING...] - the mta.conf text of instance
# NAME (queue $D/NAME/queue) on 127.0.0.1:PORT; a SETTING ("name =
# value") replaces the default of that name (mta.conf refuses a setting
# given twice)
instance_conf() {
	local name=$1 port=$2 line
	local -A given=()
	shift 2
	for line in "$@"; do
		given[${line%% *}]=1
	done
	for line in "myhostname = $H" "user = nobody" \
	    "queue_directory = $D/$name/queue" "temp_dir = $D/tmp" \
	    "pid_file =" "smtp_listen = 127.0.0.1:$port" "workers = 2" \
	    "mynetworks = 127.0.0.2/32" "relay_domains = ours.example" \
	    "queue_minfree = 0" "delivery = no"; do
		[ -n "${given[${line%% *}]:-}" ] || printf '%s\n' "$line"
	done
	printf '%s\n' "$@"
}

# start_instance NAME PORT [SETTING...] - start_mta in $D/NAME with
# instance_conf; the test cannot go on without it
start_instance() {
	mkdir -p "$D/$1"
	start_mta "$D/$1" "$(instance_conf "$@")" ||
	    setup_fail "postern-mta ($1) does not start"
	INSTANCES+=("$MTA_PID")
}

# queue_files DIR - every file below the queue DIR, temporary ones too
queue_files() {
	find "$1" -type f -printf '%P\n' 2>/dev/null | sort
}

# since T0 - seconds from the $EPOCHREALTIME value T0 until now
since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# took DESC SECS LO HI - ok when LO <= SECS <= HI (decimals)
took() {
	if awk -v x="$2" -v lo="$3" -v hi="$4" \
	    'BEGIN { exit !(x >= lo && x <= hi) }'; then
		ok "$1 (${2}s)"
	else
		not_ok "$1 (${2}s, not within ${3}s..${4}s)"
	fi
}

# wait_log FILE REGEX [SECS] - wait until a line of FILE matches REGEX
wait_log() {
	local i
	for ((i = 0; i < ${3:-10} * 10; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# send_msg PORT SUBJECT BODYSIZE [HEADERSIZE] - one message to
# <user@ours.example> in a session of its own: HEADERSIZE bytes (at
# least) of X-Filler: fields, a body of BODYSIZE bytes (at least) in
# 78-byte lines; prints the reply to the final dot, or the first reply
# that went wrong before it ("MAIL: 452 ...")
send_msg() {
	/usr/bin/python3 - "$@" <<'PY'
import socket, sys
port, subj, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
hsize = int(sys.argv[4]) if len(sys.argv) > 4 else 0
head = b"Subject: %s\r\n" % subj.encode()
n = 0
while len(head) < hsize:
    n += 1
    head += b"X-Filler-%04d: %s\r\n" % (n, b"h" * 60)
body = b""
while len(body) < size:
    body += b"b" * 76 + b"\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")


def reply():
    while True:
        line = f.readline()
        if not line:
            return "(closed)"
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace").rstrip("\r\n")


for step, send, want in (("greeting", None, "220"),
                         ("EHLO", b"EHLO client.example\r\n", "250"),
                         ("MAIL", b"MAIL FROM:<s@example.org>\r\n", "250"),
                         ("RCPT", b"RCPT TO:<user@ours.example>\r\n", "250"),
                         ("DATA", b"DATA\r\n", "354")):
    if send:
        s.sendall(send)
    got = reply()
    if not got.startswith(want):
        print("%s: %s" % (step, got))
        sys.exit(0)
s.sendall(head + b"\r\n" + body + b".\r\n")
print(reply())
s.sendall(b"QUIT\r\n")
PY
}

# trickle PORT COUNT [STEP] - a session to DATA, then COUNT bytes of
# message one at a time, one per STEP seconds (0.5), while the server
# says nothing; then the final dot. Prints the server's line, the seconds
# from the 354 to it, and whether the server closed after it
trickle() {
	/usr/bin/python3 - "$@" <<'PY'
import select, socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
step = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")


def reply():
    while True:
        line = f.readline()
        if not line:
            return "(closed)"
        if len(line) < 4 or line[3:4] != b"-":
            return line.decode(errors="replace").rstrip("\r\n")


reply()
for c in (b"EHLO client.example\r\n", b"MAIL FROM:<t@example.org>\r\n",
          b"RCPT TO:<user@ours.example>\r\n", b"DATA\r\n"):
    s.sendall(c)
    reply()
t0 = time.time()
data = b"x" * count
for i in range(count):
    if select.select([s], [], [], 0)[0]:
        break
    s.sendall(data[i:i + 1])
    time.sleep(step)
else:
    s.sendall(b"\r\n.\r\n")
got = reply()
took = time.time() - t0
s.settimeout(3)
try:
    closed = f.read(1) == b""
except (socket.timeout, OSError):
    closed = False
print(got)
print("%.2f" % took)
print("closed" if closed else "open")
PY
}

# hold_conns PORT ACTION... - connections held open together: an address
# opens one from there and prints its first line (after a 421, whether
# the server then closed it); "-" closes the oldest one still open
hold_conns() {
	/usr/bin/python3 - "$@" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held, n = [], 0
for a in sys.argv[2:]:
    if a == "-":
        held.pop(0).close()
        time.sleep(0.3)
        print("- closed one")
        continue
    n += 1
    s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=(a, 0))
    buf = b""
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    line = buf.split(b"\n")[0].decode(errors="replace").rstrip("\r")
    if line.startswith("421"):
        s.settimeout(3)
        try:
            closed = s.recv(4096) == b""
        except (socket.timeout, OSError):
            closed = False
        print("%d %s: %s [%s]" % (n, a, line, "closed" if closed else "open"))
        s.close()
    else:
        print("%d %s: %s" % (n, a, line))
        held.append(s)
PY
}

# === 1. limits ===============================================================

# --- recipients, header and message size, junk, idle timeout -----------------

PA=$(free_port)
start_instance limits "$PA" "recipient_limit = 3" "header_size_limit = 2k" \
    "message_size_limit = 20k" "junk_command_limit = 5" \
    "smtpd_timeout = 2s" "min_data_rate = 0" "client_connection_limit = 2"
A_PID=$MTA_PID
A_LOG=$MTA_LOG
QA=$D/limits/queue

converse "recipient_limit = 3: the fourth RCPT gets 452 4.5.3" "$PA" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<r1@ours.example>
< 250 2.1.5 Ok
>> RCPT TO:<r2@ours.example>
< 250 2.1.5 Ok
>> RCPT TO:<r3@ours.example>
< 250 2.1.5 Ok
>> RCPT TO:<r4@ours.example>
< 452 4.5.3 Error: too many recipients
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: four recipients\r\n\r\nx\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
>> QUIT
< 221 2.0.0 Bye
EOF
QID=$(printf '%s\n' "$CONV_OUT" | sed -n 's/^S: 250 2.0.0 Ok: queued as //p' |
    tr -d '\r')
SHOW=$("$POSTERNCTL" queue -d "$QA" show "$QID" 2>&1)
like "$SHOW" "r3@ours\\.example" "the message has the first three recipients"
unlike "$SHOW" "r4@ours\\.example" "the refused fourth is not in the queue file"

before=$(queue_files "$QA")
HDR=$(for i in $(seq 40); do
	printf 'X-Filler-%02d: %s\\r\\n' "$i" "$(printf '%060d' 0)"
done)
converse "header_size_limit = 2k: 552 5.3.4 at the end of DATA" "$PA" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: big header\r\n$HDR\r\nbody\r\n
<\$
> .\r\n
< 552 5.3.4 Error: message header too big
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
EOF
is "$(queue_files "$QA")" "$before" "no queue file for the big header"

is "$(send_msg "$PA" "too big" 30000)" \
    "552 5.3.4 Error: message file too big" \
    "message_size_limit = 20k: a 30k message gets 552 5.3.4 after DATA"
is "$(queue_files "$QA")" "$before" "no queue file for the big message"
like "$(send_msg "$PA" "just fits" 15000 1500)" \
    "^250 2\\.0\\.0 Ok: queued as [0-9A-Z]{16}$" \
    "a 15k message with a 1.5k header (under both limits) is queued"

converse "junk_command_limit = 5: the sixth NOOP/RSET/VRFY/HELP gets 421" \
    "$PA" <<EOF
<<
>> EHLO client.example
<<
>> NOOP
< 250 2.0.0 Ok
>> RSET
< 250 2.0.0 Ok
>> VRFY postmaster
< 252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery
>> HELP
< 214 2.0.0 See RFC 5321 (Postern)
>> NOOP
< 250 2.0.0 Ok
>> NOOP
< 421 4.7.0 $H Error: too many junk commands
<.
EOF

T0=$EPOCHREALTIME
converse "smtpd_timeout = 2s: an idle client gets 421 4.4.2 and is closed" \
    "$PA" <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
<<
< 421 4.4.2 $H Error: timeout exceeded
<.
EOF
took "the idle timeout came after 2s" "$(since "$T0")" 1.8 3.5

T0=$EPOCHREALTIME
converse "a client silent in the middle of DATA gets 421 4.4.2 too" \
    "$PA" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: half\r\n
< 421 4.4.2 $H Error: timeout exceeded
<.
EOF
took "the DATA timeout came after 2s" "$(since "$T0")" 1.8 3.5
like "$(cat "$A_LOG")" "timeout after DATA from unknown\\[127\\.0\\.0\\.1\\]" \
    "the log names the DATA timeout"

OUT=$(trickle "$PA" 8)
like "$(printf '%s\n' "$OUT" | sed -n 1p)" \
    "^250 2\\.0\\.0 Ok: queued as [0-9A-Z]{16}$" \
    "min_data_rate = 0: 1 byte per 0.5s for 4s (past smtpd_timeout) is queued"

# --- client_connection_limit -------------------------------------------------

is "$(hold_conns "$PA" 127.0.0.1 127.0.0.1 127.0.0.1 - 127.0.0.1)" \
    "1 127.0.0.1: 220 $H ESMTP Postern
2 127.0.0.1: 220 $H ESMTP Postern
3 127.0.0.1: 421 4.7.0 Error: too many connections from you [closed]
- closed one
4 127.0.0.1: 220 $H ESMTP Postern" \
    "client_connection_limit = 2: a third gets 421 4.7.0 until one ends"
like "$(cat "$A_LOG")" \
    "too many connections from unknown\\[127\\.0\\.0\\.1\\]: client_connection_limit" \
    "the log says why"
is "$(hold_conns "$PA" 127.0.0.2 127.0.0.2 127.0.0.2 127.0.0.2)" \
    "1 127.0.0.2: 220 $H ESMTP Postern
2 127.0.0.2: 220 $H ESMTP Postern
3 127.0.0.2: 220 $H ESMTP Postern
4 127.0.0.2: 220 $H ESMTP Postern" \
    "a mynetworks client (127.0.0.2) is exempt from client_connection_limit"
stop_instance "$A_PID"

# --- min_data_rate -----------------------------------------------------------

PB=$(free_port)
start_instance rate "$PB" "smtpd_timeout = 3s" "min_data_rate = 100000"
B_PID=$MTA_PID
like "$(send_msg "$PB" "fast" 50000)" \
    "^250 2\\.0\\.0 Ok: queued as [0-9A-Z]{16}$" \
    "min_data_rate = 100000: a fast client's 50k message is queued"
OUT=$(trickle "$PB" 40)
is "$(printf '%s\n' "$OUT" | sed -n '1p;3p')" \
    "421 4.4.2 $H Error: timeout exceeded
closed" \
    "a client trickling 1 byte per 0.5s gets 421 4.4.2 and is closed"
took "the 421 came after smtpd_timeout (3s) + 10ms per byte" \
    "$(printf '%s\n' "$OUT" | sed -n 2p)" 2.5 4.5

# Both workers may wake up for a new client and only one gets it; the
# other must not block in accept(2), deaf to its own sessions, its timers
# and SIGTERM until the next client comes. The listening socket must be
# non-blocking (the flags of the open file, shared by all the workers).
# Then, since the race is rare: each round a client comes and goes, and
# the held session's NOOP must be answered at once.
W=$(pgrep -P "$B_PID" | head -n 1)
LFD=$(ss -Hltnp "sport = :$PB" | grep -o "pid=$W,fd=[0-9]*" | head -n 1)
LFLAGS=$(awk '/^flags:/ { print $2 }' "/proc/$W/fdinfo/${LFD##*=}" 2>/dev/null)
if [ -n "$LFLAGS" ] && [ $((8#$LFLAGS & 8#4000)) != 0 ]; then
	ok "the listening socket is non-blocking (flags $LFLAGS)"
else
	not_ok "the listening socket is non-blocking (flags ${LFLAGS:-?}," \
	    "worker $W, ${LFD:-no fd})"
fi
OUT=$(/usr/bin/python3 - "$PB" <<'PY'
import socket, sys
port = int(sys.argv[1])


def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    return s, s.makefile("rb")


held, hf = conn()
hf.readline()
held.sendall(b"EHLO client.example\r\n")
while hf.readline()[3:4] == b"-":
    pass
held.settimeout(1)
for i in range(1, 31):
    c, cf = conn()
    cf.readline()
    c.sendall(b"QUIT\r\n")
    cf.readline()
    c.close()
    held.sendall(b"NOOP\r\n")
    try:
        line = hf.readline()
    except socket.timeout:
        print("round %d: no answer to NOOP within 1s" % i)
        sys.exit(0)
    if not line.startswith(b"250 "):
        print("round %d: %r" % (i, line))
        sys.exit(0)
print("30 rounds answered")
PY
)
is "$OUT" "30 rounds answered" \
    "a session on one worker is served while the other worker accepts clients"
stop_instance "$B_PID"

# --- max_sessions ------------------------------------------------------------

PC=$(free_port)
start_instance sessions "$PC" "max_sessions = 3" "client_connection_limit = 0"
C_PID=$MTA_PID
is "$(hold_conns "$PC" 127.0.0.1 127.0.0.1 127.0.0.3 127.0.0.1 127.0.0.2 - \
    127.0.0.2)" \
    "1 127.0.0.1: 220 $H ESMTP Postern
2 127.0.0.1: 220 $H ESMTP Postern
3 127.0.0.3: 220 $H ESMTP Postern
4 127.0.0.1: 421 4.3.2 Service overloaded, try again later [closed]
5 127.0.0.2: 421 4.3.2 Service overloaded, try again later [closed]
- closed one
6 127.0.0.2: 220 $H ESMTP Postern" \
    "max_sessions = 3: a fourth (mynetworks too) gets 421 4.3.2 until one ends"
stop_instance "$C_PID"

# --- greet_pause -------------------------------------------------------------

PG=$(free_port)
start_instance greet "$PG" "greet_pause = 1s"
G_PID=$MTA_PID

converse "greet_pause: talking after 220- gets 554 5.5.0 and disconnect" \
    "$PG" <<EOF
< 220-$H ESMTP Postern
> EHLO client.example\r\n
< 554 5.5.0 Error: SMTP protocol synchronization
<.
EOF

converse "greet_pause: talking at once (before any greeting) too" "$PG" <<EOF
> EHLO client.example\r\n
< 220-$H ESMTP Postern
< 554 5.5.0 Error: SMTP protocol synchronization
<.
EOF

T0=$EPOCHREALTIME
converse "greet_pause: a patient client gets 220- then 220 and is served" \
    "$PG" <<EOF
< 220-$H ESMTP Postern
< 220 $H ESMTP Postern
>> EHLO client.example
<<
>> QUIT
< 221 2.0.0 Bye
EOF
took "the real greeting came after the 1s pause" "$(since "$T0")" 0.9 3
like "$(cat "$MTA_LOG")" \
    "pregreet: unknown\\[127\\.0\\.0\\.1\\] talked before the greeting" \
    "the log has the pregreet lines"
stop_instance "$G_PID"

# --- queue_minfree -----------------------------------------------------------

# 1000G, or more where there is that much
PM=$(free_port)
FREE_G=$(df -Pk "$D" | awk 'NR == 2 { print int($4 / 1048576) }')
MINFREE=$((FREE_G < 1000 ? 1000 : FREE_G + 1000))G
start_instance minfree "$PM" "queue_minfree = $MINFREE"
M_PID=$MTA_PID
converse "queue_minfree = $MINFREE: MAIL gets 452 4.3.1" "$PM" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 452 4.3.1 Insufficient system storage
>> RCPT TO:<user@ours.example>
< 503 5.5.1 Error: need MAIL command
>> QUIT
< 221 2.0.0 Bye
EOF
like "$(cat "$MTA_LOG")" "not enough space in $D/minfree/queue" \
    "the log says the queue is short of space"
stop_instance "$M_PID"

# === 2. durability ===========================================================

# --- a. the order of the system calls (strace) -------------------------------

# strace cuts strings at 32 bytes by default: -s 256 keeps the whole
# reply. LeakSanitizer cannot work under ptrace: no leak check there.
TRACE=$D/trace/strace.out
mkdir -p "$D/trace"
cat >"$D/trace/mta" <<EOF
#!/bin/sh
ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
exec strace -f -tt -s 256 \\
    -e trace=fsync,fdatasync,rename,renameat,renameat2,write,sendto,openat \\
    -o '$TRACE' '$MTA' "\$@"
EOF
chmod 755 "$D/trace/mta"
PS=$(free_port)
MTA=$D/trace/mta start_mta "$D/trace" "$(instance_conf trace "$PS" \
    "workers = 1")" || setup_fail "postern-mta under strace does not start"
STRACE_PID=$MTA_PID
STRACED_PID=$(pgrep -P "$STRACE_PID" | head -n 1)
INSTANCES+=("$STRACED_PID")
converse "a message under strace" "$PS" <<EOF
<<
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: traced\r\n\r\nhello\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
>> QUIT
< 221 2.0.0 Bye
EOF
QID=$(printf '%s\n' "$CONV_OUT" | sed -n 's/^S: 250 2.0.0 Ok: queued as //p' |
    tr -d '\r')
stop_instance "$STRACED_PID"
# strace needs a moment after its tracee is gone to write the rest
for ((i = 0; i < 50; i++)); do
	kill -0 "$STRACE_PID" 2>/dev/null || break
	sleep 0.1
done
stop_pid "$STRACE_PID" 5

# One line per event: NAME START END TIME (line numbers in the trace; a
# call interrupted by another thread's lines starts at its "unfinished"
# line and ends at its "resumed" one), or NAME - when it is missing.
# fds are followed through openat (close is not traced: an fsync's fd
# names what the latest openat returning that number opened).
EVENTS=$(/usr/bin/python3 - "$TRACE" "$D/trace/queue" "${QID:-none}" <<'PY'
import re, sys
trace, qdir, qid = sys.argv[1:4]
tmp = "%s/incoming/.%s.tmp" % (qdir, qid)
final = "%s/incoming/%s" % (qdir, qid)
incoming = "%s/incoming" % qdir
reply = "250 2.0.0 Ok: queued as %s\\r\\n" % qid
head = re.compile(r"(\d+) +(\d\d:\d\d:\d\d\.\d+) (.*)$")
resumed = re.compile(r"<\.\.\. (\w+) resumed>(.*)$")
call = re.compile(r"(\w+)\((.*)\) += (-?\d+)(?: .*)?$", re.S)
string = re.compile(r'"((?:[^"\\]|\\.)*)"')
pending, calls = {}, []
with open(trace, errors="replace") as f:
    for i, line in enumerate(f, 1):
        m = head.match(line.rstrip("\n"))
        if not m:
            continue
        pid, t, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (i, t, rest[:-len("<unfinished ...>")].rstrip())
            continue
        r = resumed.match(rest)
        if r:
            if pid not in pending:
                continue
            start, t0, text = pending.pop(pid)
            rest = text + r.group(2)
        else:
            start, t0 = i, t
        c = call.match(rest)
        if c:
            calls.append((start, i, t0, c.group(1), c.group(2),
                          int(c.group(3))))
calls.sort(key=lambda c: c[1])
fds, ev = {}, {}
def first(name, c):
    ev.setdefault(name, (c[0], c[1], c[2]))
for c in calls:
    start, end, t, name, args, ret = c
    strs = string.findall(args)
    fd = args.split(",")[0].strip()
    if name == "openat" and ret >= 0 and strs:
        fds[ret] = strs[0]
        if strs[0] == tmp:
            first("open_tmp", c)
    elif name in ("fsync", "fdatasync") and ret == 0 and fd.isdigit():
        path = fds.get(int(fd))
        if path == tmp:
            first("fsync_file", c)
        elif path in (incoming, incoming + "/") and "rename" in ev and \
                start > ev["rename"][1]:
            first("fsync_dir", c)
    elif name.startswith("rename") and ret == 0 and strs[-2:] == [tmp, final]:
        first("rename", c)
    elif name in ("write", "sendto") and ret > 0 and strs:
        if strs[0].startswith("354 "):
            ev.setdefault("fd_354", (int(fd), int(fd), t))
        if reply in strs[0]:
            first("reply", c)
            ev.setdefault("fd_reply", (int(fd), int(fd), t))
for name in ("open_tmp", "fsync_file", "rename", "fsync_dir", "reply",
             "fd_354", "fd_reply"):
    print(name, *ev.get(name, ("-",)))
PY
)
# ev NAME [FIELD] - START (1), END (2) or TIME (3) of an event, "-" if none
ev() {
	printf '%s\n' "$EVENTS" | awk -v n="$1" -v f="${2:-1}" \
	    '$1 == n { print ($2 == "-" ? "-" : $(f + 1)) }'
}
# before A B - event A ended before event B started
before() {
	local a b
	a=$(ev "$1" 2) b=$(ev "$2" 1)
	[ "$a" != - ] && [ "$b" != - ] && [ -n "$a" ] && [ -n "$b" ] &&
	    [ "$a" -lt "$b" ]
}
diag "strace events (name, first line, last line, time):"
diag "$EVENTS"
unlike "$EVENTS" " -$" \
    "strace saw the file $QID, its fsync and rename, incoming/'s fsync, the 250"
is "$(ev fd_reply)" "$(ev fd_354)" \
    "the 250 went to the client's socket (the fd the 354 went to)"
check "the queue file is fsynced before its rename" before fsync_file rename
check "the queue file's fsync ends before the 250 is written" \
    before fsync_file reply
check "the rename into incoming/ ends before the 250 is written" \
    before rename reply
check "the fsync of incoming/ (after the rename) ends before the 250" \
    before fsync_dir reply

# --- b. a full file system ---------------------------------------------------

mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=512k,mode=755 postern-test "$SMALL" \
    2>"$D/mount.err"; then
	not_ok "mount a 512k tmpfs on $SMALL"
	diag_file "$D/mount.err"
else
	PF=$(free_port)
	mkdir -p "$D/full"
	start_mta "$D/full" "$(instance_conf full "$PF" \
	    "queue_directory = $SMALL/queue" "workers = 1")" ||
	    setup_fail "postern-mta (full) does not start"
	FULL_PID=$MTA_PID
	INSTANCES+=("$FULL_PID")
	is "$(send_msg "$PF" "too big for the disk" 600000)" \
	    "452 4.3.1 Insufficient system storage" \
	    "600k into a 512k queue (queue_minfree = 0): 452 4.3.1 after DATA"
	is "$(queue_files "$SMALL/queue")" "" \
	    "no file at all in any queue directory (no .tmp either)"
	like "$(cat "$MTA_LOG")" \
	    "reject: DATA from .*: 452 4\\.3\\.1 .*\\(queue file: No space left on device\\)" \
	    "the log has the reason"
	like "$(send_msg "$PF" "small enough" 2000)" \
	    "^250 2\\.0\\.0 Ok: queued as [0-9A-Z]{16}$" \
	    "then a small message still gets 250"
	like "$(queue_files "$SMALL/queue")" "^incoming/[0-9A-Z]{16}$" \
	    "and it is in incoming/"
	stop_instance "$FULL_PID"
	umount "$SMALL" || umount -l "$SMALL"
fi

# --- c. kill -9 while a client sends -----------------------------------------

# The client: one short message per session, for SECS seconds; every
# "queued as ID" goes to OUT as "ID SUBJECT" at once (flushed).
cat >"$D/kill-client.py" <<'PY'
import random, re, socket, sys, time
port, out, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
body = b"".join(b"line %04d %s\r\n" % (i, b"k" * 60) for i in range(100))
end = time.time() + secs
tries = queued = 0
with open(out, "w") as o:
    while time.time() < end:
        tries += 1
        subj = "kill-%d-%08x" % (tries, random.getrandbits(32))
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

            for send, want in ((None, "220"),
                               (b"EHLO kill.example\r\n", "250"),
                               (b"MAIL FROM:<k@example.org>\r\n", "250"),
                               (b"RCPT TO:<k@ours.example>\r\n", "250"),
                               (b"DATA\r\n", "354"),
                               (b"Subject: " + subj.encode() + b"\r\n\r\n" +
                                body + b".\r\n", "250")):
                if send:
                    s.sendall(send)
                got = reply()
                if not got.startswith(want):
                    raise OSError(got)
            m = re.fullmatch(r"250 2\.0\.0 Ok: queued as ([0-9A-Z]{16})", got)
            if not m:
                sys.stderr.write("odd 250: %r\n" % got)
                continue
            o.write("%s %s\n" % (m.group(1), subj))
            o.flush()
            queued += 1
            s.sendall(b"QUIT\r\n")
            # a pace that keeps the check of every message short
            time.sleep(0.08)
        except OSError:
            time.sleep(0.02)
        finally:
            if s is not None:
                s.close()
print("%d tries, %d queued" % (tries, queued))
PY

PK=$(free_port)
mkdir -p "$D/kill"
KCONF=$(instance_conf kill "$PK")
QK=$D/kill/queue
start_mta "$D/kill" "$KCONF" || setup_fail "postern-mta (kill) does not start"
INSTANCES+=("$MTA_PID")
BG_LOG=$D/kill/client.log start_bg kill-client \
    /usr/bin/python3 "$D/kill-client.py" "$PK" "$D/kill/queued" 20
CLIENT_PID=$BG_PID
kills_w=0 kills_p=0 restart_fail=0 round=0
end=$((SECONDS + 19))
while [ "$SECONDS" -lt "$end" ]; do
	sleep "0.$((4 + RANDOM % 6))"
	round=$((round + 1))
	if [ $((round % 5)) = 0 ]; then
		# the parent: its workers would live on (nothing tells
		# them) with the listening socket, maybe inside a store;
		# they go too, as in a crash of the whole service. It is
		# stopped first, so that it forks no worker unseen.
		kill -STOP "$MTA_PID"
		orphans=$(pgrep -P "$MTA_PID")
		kill -KILL "$MTA_PID"
		wait "$MTA_PID" 2>/dev/null
		forget_instance "$MTA_PID"
		[ -n "$orphans" ] && kill -KILL $orphans 2>/dev/null
		kills_p=$((kills_p + 1))
		for ((i = 0; i < 50; i++)); do
			port_listening "$PK" || break
			sleep 0.1
		done
		if ! start_mta "$D/kill" "$KCONF"; then
			restart_fail=$((restart_fail + 1))
			break
		fi
		INSTANCES+=("$MTA_PID")
	else
		workers=($(pgrep -P "$MTA_PID"))
		[ "${#workers[@]}" -gt 0 ] || continue
		kill -KILL "${workers[RANDOM % ${#workers[@]}]}" 2>/dev/null &&
		    kills_w=$((kills_w + 1))
	fi
done
wait "$CLIENT_PID"
is "$restart_fail" 0 "postern-mta restarts on the queue after each kill -9"
diag "killed $kills_w worker(s) and $kills_p parent(s);" \
    "client: $(tail -n 1 "$D/kill/client.log")"
# a clean stop and start: queue_recover moves what the last kills left
stop_instance "$MTA_PID"
start_mta "$D/kill" "$KCONF" || setup_fail "postern-mta (kill) does not restart"
INSTANCES+=("$MTA_PID")
stop_instance "$MTA_PID"

NQ=$(wc -l <"$D/kill/queued")
check "the client got at least 20 messages queued ($NQ)" [ "$NQ" -ge 20 ]
# "ID SUBJECT" of each message that posternctl does not show as sent
# (hundreds of runs: a sanitizer build's leak check at each exit would
# double the time; posternctl's own tests check its leaks)
LOST=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    xargs -P 4 -L 1 sh -c 'out=$("$0" queue -d "$1" show "$2" 2>&1) &&
    case $out in *"Subject: $3"*) exit 0 ;; esac
    echo "$2 $3: $(printf "%s\n" "$out" | head -n 1)"' \
    "$POSTERNCTL" "$QK" <"$D/kill/queued")
is "$(printf '%s' "$LOST" | grep -c .)" 0 \
    "every message that got 250 is in the queue with its Subject" ||
    diag "$(printf '%s\n' "$LOST" | head -n 5)"
corrupt=$(find "$QK/corrupt" -type f -printf '%f\n' | sort)
diag "$(printf '%s\n' "$corrupt" | grep -c .) file(s) in corrupt/" \
    "(writes that kill -9 cut before any 250)"
is "$(printf '%s\n' "$corrupt" |
    grep -Fxf <(cut -d' ' -f1 "$D/kill/queued"))" "" \
    "nothing in corrupt/ got a 250"
is "$(find "$QK" -name '.*.tmp' | wc -l)" 0 \
    "no temporary file is left after the restart's recovery"
like "$(cat "$MTA_LOG")" "worker [0-9]+ killed by signal 9; starting another" \
    "the parent replaced killed workers"

# === 3. config errors ========================================================

PR=$(free_port)
mkdir -p "$D/cfg"
BAD=$D/cfg/bad.conf
{
	instance_conf reload "$PR"
	echo "recipient_limit = lots"
	echo "no_such_setting = 1"
} >"$BAD"
BADLINE=$(grep -n '^recipient_limit' "$BAD" | cut -d: -f1)
OUT=$("$MTA" -n -c "$BAD" 2>"$D/cfg/bad.err")
rc=$?
is "$rc" 1 "postern-mta -n with bad lines exits 1"
is "$OUT" "" "and prints no settings"
ERR=$(cat "$D/cfg/bad.err")
like "$ERR" "^$BAD:$BADLINE: bad value 'lots' for 'recipient_limit'" \
    "the bad value is named with FILE:LINE"
like "$ERR" "^$BAD:$((BADLINE + 1)): unknown setting 'no_such_setting'" \
    "the unknown setting is named with FILE:LINE"

GOOD=$D/cfg/good.conf
instance_conf reload "$PR" "recipient_limit = 3" >"$GOOD"
OUT=$("$MTA" -n -c "$GOOD" 2>&1)
rc=$?
is "$rc" 0 "postern-mta -n on a good config exits 0"
like "$OUT" "^recipient_limit = 3$" "and prints the settings given"
like "$OUT" "^junk_command_limit = 100$" "and the defaults of the others"
like "$OUT" "^# listener: smtp 127\\.0\\.0\\.1:$PR$" "and the listeners"

start_instance reload "$PR"
R_PID=$MTA_PID
R_CONF=$MTA_CONF
R_LOG=$MTA_LOG
R_WORKERS=$(pgrep -P "$R_PID" | sort)
cp "$R_CONF" "$D/cfg/running.conf"
echo "smtpd_timeout = never" >>"$R_CONF"
BADLINE=$(wc -l <"$R_CONF")
kill -HUP "$R_PID"
check "a reload with a bad config is refused (logged)" wait_log "$R_LOG" \
    "reload of $R_CONF failed; keeping the running configuration" 10
like "$(cat "$R_LOG")" \
    "$R_CONF:$BADLINE: bad value 'never' for 'smtpd_timeout'" \
    "the log names the error with FILE:LINE"
is "$(pgrep -P "$R_PID" | sort)" "$R_WORKERS" "the running workers are kept"
converse "after the bad reload a message still gets 250" "$PR" <<EOF
< 220 $H ESMTP Postern
>> EHLO client.example
<<
>> MAIL FROM:<a@example.org>
< 250 2.1.0 Ok
>> RCPT TO:<user@ours.example>
< 250 2.1.5 Ok
>> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: after a bad reload\r\n\r\nx\r\n.\r\n
<~ 250 2\.0\.0 Ok: queued as [0-9A-Z]{16}
>> QUIT
< 221 2.0.0 Bye
EOF

{
	grep -v '^smtpd_banner' "$D/cfg/running.conf"
	echo "smtpd_banner = ESMTP Reloaded"
} >"$R_CONF"
kill -HUP "$R_PID"
check "a reload with a new smtpd_banner is taken" \
    wait_log "$R_LOG" "configuration $R_CONF reloaded" 10
gone=1
for ((i = 0; i < 50; i++)); do
	gone=1
	for p in $R_WORKERS; do
		kill -0 "$p" 2>/dev/null && gone=0
	done
	[ "$gone" = 1 ] && break
	sleep 0.1
done
is "$gone" 1 "the old workers are gone" ||
	for p in $R_WORKERS; do
		[ -r "/proc/$p/wchan" ] &&
		    diag "old worker $p is still there, in $(cat "/proc/$p/wchan")"
	done
converse "new sessions show the new banner" "$PR" <<EOF
< 220 $H ESMTP Reloaded
>> QUIT
< 221 2.0.0 Bye
EOF
stop_instance "$R_PID"

# every instance has stopped: a sanitizer build has written its reports
found=
for f in "$D"/*/mta.log; do
	if grep -Eq 'Sanitizer|runtime error:|panic:' "$f"; then
		found="$found ${f#$D/}"
		grep -E 'Sanitizer|SUMMARY|runtime error:|panic:' "$f" |
		    head -n 5 | sed 's/^/# /'
	fi
done
is "$found" "" "no sanitizer report or panic in any mta log"
done_testing
