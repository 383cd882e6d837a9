#!/bin/bash
# clamav.sh - the clamav module of postern-filterd as the milter of a real
# Postfix, with libclamav in process and with a private clamd, both on the
# test database of tests/data/clamav/make-testdb (the EICAR file by MD5,
# a body pattern of our own; no official database is needed).
#
# One Postfix instance has one SMTP listener per filterd node, each with
# its own smtpd_milters, so the nodes run at once:
#
#	fa	libclamav, infected_action reject (the default): EICAR as a
#		base64 attachment, inside a zip, the body pattern, a clean
#		message
#	fd fq fh	infected_action discard, quarantine, header
#	fr	db_check_interval 1s on its own database: a new signature
#		file while clean mail flows
#	fc	db_check_interval 1s on its own database: a database that
#		no longer loads leaves the old engine serving
#	fk	clamd:unix:SOCK; later clamd is stopped (on_failure default
#		tempfail)
#	fk2	two clamd servers, the first a socket that does not exist
#	fl ft	max_message_size 20k, oversize_action skip and tempfail
#	fz	max_recursion 3: nested zips deeper than that
#
# Every client is 127.0.0.1 (skip_mynetworks is off by default, so mail
# from mynetworks is scanned too). Then filterd -n on a database with a
# bad line; at the end half the nodes reload to a config without clamav
# (its engine, thread and clamd client are freed), the others are stopped
# with it, and every log gets the sanitizer check.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v swaks >/dev/null || setup_fail "swaks is not installed"
[ -x /usr/bin/python3 ] || setup_fail "/usr/bin/python3 is missing"

T_START=$SECONDS
mktmp_var D e2e-clamav
MAKE_TESTDB=$TOP/tests/data/clamav/make-testdb
NODES="fa fd fq fh fr fc fk fk2 fl ft fz"
H=mx.example.com
U=user@ours.example
EICAR_NAME=Postern.Test.EICAR.UNOFFICIAL
PATTERN_NAME=Postern.Test.Pattern.UNOFFICIAL
NEW_NAME=Postern.Test.New.UNOFFICIAL
LIMITS_NAME=Heuristics.Limits.Exceeded.MaxRecursion
PATTERN=$("$MAKE_TESTDB" --pattern) || setup_fail "make-testdb --pattern"
NEW_PATTERN=POSTERN-NEW-SIGNATURE-0b7d
QUEUED='250 2\.0\.0 Ok: queued as [0-9A-F]+'
TEMPFAIL='451 4\.3\.0 Temporary failure, please try again later'
# the version libclamav reports (cl_retver) is the one built against
CLVER=$(pkg-config --modversion libclamav 2>/dev/null) ||
    setup_fail "pkg-config knows no libclamav"

declare -A FPORT LPORT NODE_PID NODE_LOG

# free_ports N - N different free TCP ports on 127.0.0.1 (all bound at
# once, then released)
free_ports() {
	/usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r -a ports <<<"$(free_ports 23)"
[ "${#ports[@]}" = 23 ] || setup_fail "no free ports"
SINK_PORT=${ports[0]}
i=1
for n in $NODES; do
	FPORT[$n]=${ports[$i]}
	LPORT[$n]=${ports[$((i + 1))]}
	i=$((i + 2))
done

# --- the test files ---------------------------------------------------------

# databases: db for most nodes and clamd, db-r (reload) and db-c
# (corrupted) of their own, db-bad for filterd -n
for d in db db-r db-c db-bad; do
	"$MAKE_TESTDB" "$D/$d" || setup_fail "make-testdb $D/$d"
done
printf 'this is not a signature\n' >"$D/db-bad/bad.ndb"
# libclamav's temporary files, as user nobody
mkdir -m 1777 "$D/ctmp"
M=$D/msg
mkdir -p "$M"
"$MAKE_TESTDB" --eicar >"$M/eicar.com" || setup_fail "make-testdb --eicar"
[ "$(wc -c <"$M/eicar.com")" = 68 ] || setup_fail "EICAR is not 68 bytes"
# eicar.zip: the file in a zip; deep.zip: six zips, one in the other
/usr/bin/python3 - "$M/eicar.com" "$M" <<'PY' || setup_fail "zips"
import io, sys, zipfile
d = open(sys.argv[1], "rb").read()
for i in range(6):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("eicar.com" if i == 0 else "l%d.zip" % i, d)
    d = b.getvalue()
    if i == 0:
        open(sys.argv[2] + "/eicar.zip", "wb").write(d)
open(sys.argv[2] + "/deep.zip", "wb").write(d)
PY
# a 50 kB text body (700 lines of 72 characters)
awk 'BEGIN { for (i = 0; i < 700; i++) {
	s = sprintf("line %04d ", i)
	while (length(s) < 72) s = s "abcdefgh "
	print substr(s, 1, 72) } }' >"$M/big.txt"

# --- servers ------------------------------------------------------------------

start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"
# clamd on the shared database; filterd runs as nobody
start_clamd "$D/clamd" "$D/db" "LocalSocketMode 666" ||
    setup_fail "clamd does not start"

# filterd_conf NODE - filterd.conf text of one node (see the top)
filterd_conf() {
	local n=$1 db=$D/db more=""

	case $n in
	fd)	more="infected_action = discard" ;;
	fq)	more="infected_action = quarantine" ;;
	fh)	more="infected_action = header" ;;
	fr)
		db=$D/db-r
		more="db_check_interval = 1s"
		;;
	fc)
		db=$D/db-c
		more="db_check_interval = 1s"
		;;
	fk)	more="backend = clamd:unix:$CLAMD_SOCK" ;;
	fk2)
		more="backend = clamd:unix:$D/missing.sock, "
		more+="clamd:unix:$CLAMD_SOCK"
		;;
	fl)	more="max_message_size = 20k" ;;
	ft)
		more="max_message_size = 20k
oversize_action = tempfail"
		;;
	fz)	more="max_recursion = 3" ;;
	esac
	cat <<EOF
socket        = inet:${FPORT[$n]}@127.0.0.1
user          = nobody
pid_file      =
pipeline      = clamav
authserv_id   = $H
hostname      = $H
mynetworks    = 127.0.0.1/32

[clamav]
database_dir  = $db
temp_dir      = $D/ctmp
$more
EOF
}

# filterds start in parallel: each start_bg at once, then the waits
for n in $NODES; do
	mkdir -p "$D/$n"
	filterd_conf "$n" >"$D/$n/filterd.conf"
	NODE_LOG[$n]=$D/$n/filterd.log
	BG_LOG=${NODE_LOG[$n]} start_bg "filterd-$n" "$FILTERD" -f \
	    -c "$D/$n/filterd.conf"
	NODE_PID[$n]=$BG_PID
done
for n in $NODES; do
	if ! wait_port "${FPORT[$n]}" 20 ||
	    ! kill -0 "${NODE_PID[$n]}" 2>/dev/null; then
		diag_file "${NODE_LOG[$n]}"
		setup_fail "postern-filterd ($n) does not start"
	fi
done

start_postfix "$D/pf" "${LPORT[fa]}" \
    "smtpd_milters = inet:127.0.0.1:${FPORT[fa]}" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"
listeners=()
for n in $NODES; do
	[ "$n" = fa ] && continue
	unset "LPORT[$n]"
	listeners+=("$n=inet:127.0.0.1:${FPORT[$n]}")
done
pf_listeners LPORT "${listeners[@]}" ||
    setup_fail "Postfix does not listen for every node"
diag "setup took $((SECONDS - T_START)) s"

# --- helpers ------------------------------------------------------------------

# now - the time in seconds with fractions
now() {
	date +%s.%N
}

# since T - seconds from T until now, one decimal
since() {
	awk -v t="$1" -v n="$(now)" 'BEGIN { printf "%.1f\n", n - t }'
}

# send NODE [swaks options] - one message through NODE's listener; its
# Subject is MARK (set here)
_mark_n=0
send() {
	local PF_PORT=${LPORT[$1]}
	shift
	# fixed width, so that no mark is the start of another
	_mark_n=$((_mark_n + 1))
	printf -v MARK 'cv-%s-%04d' "$$" "$_mark_n"
	smtp 127.0.0.1 a@client.example "$U" --header "Subject: $MARK" "$@"
}

# dot_reply - the server's reply to the end of the message data
dot_reply() {
	tr -d '\r' <"$SMTP_OUT" | awk '
		/^ *[-~*]*> / { sent = ($0 ~ /^ *[-~*]*> \.$/); next }
		/^ *<[-~*]* +/ { if (sent) { sub(/^ *<[-~*]* +/, ""); print } }'
}

# matches TEXT REGEX - TEXT is exactly one line matching the whole REGEX
matches() {
	[ -n "$1" ] && [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] &&
	    printf '%s\n' "$1" | grep -Eqx -- "$2"
}

# re_quote TEXT - TEXT as an extended regex matching itself
re_quote() {
	printf '%s\n' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

NOT_DELIVERED=()
DELIVERED=()

# expect_refused DESC REGEX NODE [opts] - the end of data gets REGEX
# (the whole line); the message must never reach the sink
expect_refused() {
	local desc=$1 want=$2 got
	shift 2
	send "$@"
	got=$(dot_reply)
	NOT_DELIVERED+=("$MARK $desc")
	if matches "$got" "$want"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "end of data: ${got:-(none)}" "want: /$want/"
	diag "$(smtp_replies | tail -n 4)"
	return 1
}

# expect_queued DESC NODE [opts] - the end of data gets 250; where the
# message goes is the caller's to check
expect_queued() {
	local desc=$1 got
	shift
	send "$@"
	got=$(dot_reply)
	if [ "$SMTP_RC" = 0 ] && matches "$got" "$QUEUED"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc (swaks exit $SMTP_RC)"
	diag "$(smtp_replies | tail -n 4)"
	return 1
}

# expect_accepted DESC NODE [opts] - 250, and the message must reach the
# sink (checked at the end)
expect_accepted() {
	expect_queued "$@"
	DELIVERED+=("$MARK $1")
}

# header_of MARK - the header of the delivered message MARK (CRs removed,
# folded lines joined); status 1 if it does not reach the sink in 15 s
header_of() {
	local f
	f=$(sink_find "Subject: $1" 15) || return 1
	tr -d '\r' <"$f" | sed '/^$/q' |
	    awk 'NR > 1 && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		 NR > 1 { printf "\n" } { printf "%s", $0 } END { printf "\n" }'
}

# expect_header DESC MARK NAME REGEX - the delivered message MARK has
# exactly one NAME field, and it matches "NAME: REGEX" (whole line)
expect_header() {
	local desc=$1 h x
	h=$(header_of "$2") || {
		not_ok "$desc (message not in the sink)"
		return 1
	}
	x=$(printf '%s\n' "$h" | grep -i "^$3:")
	if matches "$x" "$3: $4"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "$3 fields: ${x:-(none)}" "want: /$3: $4/"
	return 1
}

# expect_no_header DESC MARK NAME - the delivered message has no NAME
expect_no_header() {
	local h
	h=$(header_of "$2") || {
		not_ok "$1 (message not in the sink)"
		return 1
	}
	unlike "$h" "^$3:" "$1"
}

# log_has DESC NODE REGEX - NODE's filterd log has a line matching REGEX
log_has() {
	like "$(cat "${NODE_LOG[$1]}")" "$3" "$2"
}

# wait_log NODE REGEX [SECS] - wait until NODE's log has REGEX
wait_log() {
	local n=$1 re=$2 secs=${3:-5} i
	for ((i = 0; i < secs * 10; i++)); do
		grep -Eq -- "$re" "${NODE_LOG[$n]}" && return 0
		sleep 0.1
	done
	return 1
}

# alive NODE - ok when NODE's filterd still runs
alive() {
	if kill -0 "${NODE_PID[$1]}" 2>/dev/null; then
		ok "$1: postern-filterd still running"
	else
		not_ok "$1: postern-filterd still running"
	fi
}

# clamd_version SOCK - clamd's answer to zVERSION
clamd_version() {
	perl -MIO::Socket::UNIX -e '
		$SIG{ALRM} = sub { exit 1 };
		alarm 2;
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 1;
		print $s "zVERSION\0";
		my ($r, $b) = ("", "");
		$r .= $b while $r !~ /\0/ && sysread($s, $b, 256);
		$r =~ s/\0.*//s;
		print "$r\n";' "$1"
}

SCANNED="ClamAV $(re_quote "$CLVER"), 2 signatures at $(re_quote "$H")"
VIRUS_EICAR="554 5\\.7\\.1 Virus found: $(re_quote "$EICAR_NAME")"
ATTACH=(--attach @"$M/eicar.com")
ZIP=(--attach-type application/zip --attach @"$M/eicar.zip")

# --- (1) libclamav: found, clean, each infected_action --------------------

expect_refused "libclamav: EICAR as a base64 attachment: 554 5.7.1" \
    "$VIRUS_EICAR" fa "${ATTACH[@]}"
expect_refused "libclamav: EICAR inside a zip attachment: 554 5.7.1" \
    "$VIRUS_EICAR" fa "${ZIP[@]}"
expect_refused "libclamav: the body pattern: 554 5.7.1 naming $PATTERN_NAME" \
    "554 5\\.7\\.1 Virus found: $(re_quote "$PATTERN_NAME")" fa \
    --body "Hello,
this line carries $PATTERN in the middle.
Bye"
# Postfix logs the reply without its three digits
like "$(cat "$PF_LOG")" \
    "milter-reject: END-OF-MESSAGE from [^:]*: ${VIRUS_EICAR#554 };" \
    "libclamav: Postfix logs the refusal as the milter's"
log_has fa "libclamav: filterd logs the refusal with the signature" \
    "reject: END-OF-MESSAGE from [^:]*: $VIRUS_EICAR; .*module=clamav \
reason=infected: $(re_quote "$EICAR_NAME")\$"
log_has fa "libclamav: filterd's summary: action=reject, clamav:" \
    'filterd: action=reject .*modules=clamav:'
expect_accepted "libclamav: a clean message: 250" fa --body "Nothing here."
M_CLEAN=$MARK
expect_accepted "libclamav: a clean message with a clean attachment: 250" fa \
    --attach-type text/plain --attach "just text"
M_CLEAN2=$MARK

expect_queued "discard: EICAR attachment: 250 (the client sees success)" \
    fd "${ATTACH[@]}"
NOT_DELIVERED+=("$MARK discard: EICAR")
like "$(cat "$PF_LOG")" 'milter-discard: END-OF-MESSAGE from ' \
    "discard: Postfix logs milter-discard"
log_has fd "discard: filterd logs action=discard" 'filterd: action=discard '
log_has fd "discard: filterd logs the signature" \
    "clamav: infected: $(re_quote "$EICAR_NAME"); infected_action=discard\$"
expect_accepted "discard: a clean message is still delivered" fd \
    --body "Nothing here."
M_DCLEAN=$MARK

expect_queued "quarantine: EICAR attachment: 250" fq "${ATTACH[@]}"
M_HOLD=$MARK
NOT_DELIVERED+=("$MARK quarantine: EICAR")
held=0
for ((i = 0; i < 50; i++)); do
	pf_hold_has "Subject: $M_HOLD" && { held=1; break; }
	sleep 0.1
done
is "$held" 1 "quarantine: the message is in Postfix's hold queue"
like "$(cat "$PF_LOG")" \
    'milter-hold: END-OF-MESSAGE from [^:]*: milter triggers HOLD action;' \
    "quarantine: Postfix logs milter-hold"
log_has fq "quarantine: filterd logs the signature (Postfix drops the reason)" \
    "clamav: infected: $(re_quote "$EICAR_NAME"); infected_action=quarantine\$"
log_has fq "quarantine: filterd logs action=quarantine" \
    'filterd: action=quarantine '

expect_accepted "header: EICAR attachment: 250 and delivered" fh \
    "${ATTACH[@]}"
M_HDR=$MARK
log_has fh "header: filterd logs the signature" \
    "clamav: infected: $(re_quote "$EICAR_NAME"); infected_action=header\$"

# --- (5) limits -----------------------------------------------------------

expect_accepted "oversize skip: 50 kB over max_message_size 20k: 250" \
    fl --body @"$M/big.txt"
M_BIG=$MARK
expect_accepted "oversize skip: a small clean message is scanned" fl \
    --body "Nothing here."
M_SMALL=$MARK
expect_refused "oversize skip: a small infected message is still refused" \
    "$VIRUS_EICAR" fl "${ATTACH[@]}"
expect_refused "oversize tempfail: 451 4.3.4 Message too large to be scanned" \
    '451 4\.3\.4 Message too large to be scanned for viruses' ft \
    --body @"$M/big.txt"
expect_accepted "oversize tempfail: a small clean message passes" ft \
    --body "Nothing here."
expect_refused "max_recursion 3: six nested zips: Heuristics.Limits.Exceeded" \
    "554 5\\.7\\.1 Virus found: $(re_quote "$LIMITS_NAME")" fz \
    --attach-type application/zip --attach @"$M/deep.zip"
expect_refused "max_recursion 3: EICAR in one zip is still found" \
    "$VIRUS_EICAR" fz "${ZIP[@]}"

# --- (4) clamd --------------------------------------------------------------

CLAMD_VERSION=$(clamd_version "$CLAMD_SOCK")
like "$CLAMD_VERSION" "^ClamAV $(re_quote "$CLVER")" \
    "clamd: zVERSION answers ($CLAMD_VERSION)"
expect_refused "clamd: EICAR attachment: 554 5.7.1 naming clamd's signature" \
    "$VIRUS_EICAR" fk "${ATTACH[@]}"
expect_refused "clamd: the body pattern: 554 5.7.1 $PATTERN_NAME" \
    "554 5\\.7\\.1 Virus found: $(re_quote "$PATTERN_NAME")" fk \
    --body "a line with $PATTERN"
expect_accepted "clamd: a clean message: 250" fk --body "Nothing here."
M_KCLEAN=$MARK
like "$(cat "$D/clamd/clamd.log")" \
    "stream\\(.*\\): $(re_quote "$EICAR_NAME") FOUND" \
    "clamd: clamd itself logged the find (the scan went there)"
expect_refused "clamd, first server missing: EICAR still refused" \
    "$VIRUS_EICAR" fk2 "${ATTACH[@]}"
expect_accepted "clamd, first server missing: a clean message: 250" fk2 \
    --body "Nothing here."
M_K2CLEAN=$MARK
log_has fk2 "clamd, first server missing: logged under the queue id, the next one asked" \
    "warning: [0-9A-Za-z]+: clamd unix:$(re_quote "$D/missing.sock"): .*; \
asking unix:$(re_quote "$CLAMD_SOCK")"

# --- (3) a database that does not load, under a running filterd ------------

# bad.ndb is written beside the directory and renamed in: the thread
# sees a whole file or none
printf 'this is not a signature\n' >"$D/bad.ndb.tmp"
mv "$D/bad.ndb.tmp" "$D/db-c/bad.ndb"

# --- (2) a new signature while mail flows -----------------------------------

# stream N - clean messages through fr until $D/stream.stop exists; one
# line "N I RC START END" each into $D/stream.rc
stream() {
	local k=$1 i=0 t0 rc
	while [ ! -e "$D/stream.stop" ]; do
		i=$((i + 1))
		t0=$(now)
		swaks --server "127.0.0.1:${LPORT[fr]}" --helo client.example \
		    --from s@client.example --to "$U" --timeout 15 \
		    --header "Subject: stream-$$-$k-$i" \
		    --body "Clean message $i of stream $k." \
		    >"$D/stream.$k.$i.out" 2>&1 </dev/null
		rc=$?
		printf '%s %s %s %s %s\n' "$k" "$i" "$rc" "$t0" "$(now)" \
		    >>"$D/stream.rc"
	done
}
: >"$D/stream.rc"
BG_LOG=$D/stream.log start_bg stream-1 stream 1
STREAM1=$BG_PID
BG_LOG=$D/stream.log start_bg stream-2 stream 2
STREAM2=$BG_PID
sleep 1
printf 'Postern.Test.New:0:*:%s\n' \
    "$(printf '%s' "$NEW_PATTERN" | od -An -v -tx1 | tr -d ' \n')" \
    >"$D/new.ndb.tmp"
mv "$D/new.ndb.tmp" "$D/db-r/new.ndb"
T_NEW=$(now)
# the time counted is when the refused message was sent: a probe that
# began before the swap is accepted, however long it takes
found=
while :; do
	t=$(since "$T_NEW")
	send fr --body "The new one: $NEW_PATTERN."
	got=$(dot_reply)
	if matches "$got" "554 5\\.7\\.1 Virus found: $(re_quote "$NEW_NAME")"
	then
		found=$t
		NOT_DELIVERED+=("$MARK reload: the new pattern")
		break
	fi
	if ! matches "$got" "$QUEUED"; then
		diag "reload: unexpected reply: $got"
		break
	fi
	[ "$(awk -v s="$(since "$T_NEW")" 'BEGIN { print (s > 6) }')" = 1 ] &&
	    break
	sleep 0.1
done
if [ -n "$found" ] &&
    [ "$(awk -v s="$found" 'BEGIN { print (s <= 3.0) }')" = 1 ]; then
	ok "reload: the new signature refuses a message sent $found s later"
else
	not_ok "reload: the new signature refuses mail within 3 s" \
	    "(${found:-never})"
fi
T_SEEN=$(now)
sleep 1
touch "$D/stream.stop"
# each loop ends after the message it is sending (a kill would leave
# that swaks running, unrecorded)
for ((i = 0; i < 100; i++)); do
	kill -0 "$STREAM1" 2>/dev/null || kill -0 "$STREAM2" 2>/dev/null ||
	    break
	sleep 0.1
done
stop_pid "$STREAM1" 1
stop_pid "$STREAM2" 1
n_all=$(wc -l <"$D/stream.rc")
n_bad=$(awk '$3 != 0' "$D/stream.rc" | wc -l)
n_before=$(awk -v t="$T_NEW" '$5 < t' "$D/stream.rc" | wc -l)
n_after=$(awk -v t="$T_SEEN" '$4 > t' "$D/stream.rc" | wc -l)
if [ "$n_all" -ge 6 ] && [ "$n_bad" = 0 ] && [ "$n_before" -ge 1 ] &&
    [ "$n_after" -ge 1 ]; then
	ok "reload: all $n_all clean messages of the stream got 250" \
	    "($n_before before the new file, $n_after after the swap)"
else
	not_ok "reload: the stream of clean messages all got 250"
	diag "$n_all sent, $n_bad failed, $n_before before, $n_after after"
	for f in $(awk '$3 != 0 { print "'"$D"'/stream." $1 "." $2 ".out" }' \
	    "$D/stream.rc" | head -n 3); do
		diag_file "$f" 6
	done
fi
log_has fr "reload: filterd logs the new engine with 3 signatures" \
    "clamav: database_dir $(re_quote "$D/db-r"): 3 signatures reloaded in "
t=$(sed -En 's/^([0-9:.]+) .* 3 signatures reloaded in ([0-9.]+) s$/\1 \2/p' \
    "${NODE_LOG[fr]}" | head -n 1)
[ -n "$t" ] && diag "reload: the engine was swapped" \
    "$(awk -v t="$(date -d "${t%% *}" +%s.%N)" -v n="$T_NEW" \
    'BEGIN { printf "%.2f", t - n }') s after the file came" \
    "(the load took ${t#* } s)"
expect_accepted "reload: a clean message after the swap: 250" fr \
    --body "Nothing here."
M_RCLEAN=$MARK
expect_refused "reload: EICAR still refused by the new engine" \
    "$VIRUS_EICAR" fr "${ATTACH[@]}"

# --- (3) continued: the old engine keeps serving ----------------------------

if wait_log fc 'clamav: database_dir .*: reload failed: ' 5; then
	ok "corrupt database: filterd logs the failed reload"
else
	not_ok "corrupt database: filterd logs the failed reload"
fi
log_has fc "corrupt database: the log names the directory and the error" \
    "clamav: database_dir $(re_quote "$D/db-c"): reload failed: .+; \
the old engine keeps serving"
expect_refused "corrupt database: EICAR still refused (old engine)" \
    "$VIRUS_EICAR" fc "${ATTACH[@]}"
expect_accepted "corrupt database: a clean message passes (old engine)" fc \
    --body "Nothing here."
M_CCLEAN=$MARK
# the bad file withdrawn: the directory changed again, and loads
rm -f "$D/db-c/bad.ndb"
if wait_log fc \
    "clamav: database_dir $(re_quote "$D/db-c"): 2 signatures reloaded in " 5
then
	ok "corrupt database: withdrawn, the next check loads the database"
else
	not_ok "corrupt database: withdrawn, the next check loads the database"
fi
alive fc

# filterd -n on a directory with a bad line: exit 1, FILE:LINE of
# database_dir, the directory and libclamav's error
f=$D/bad.conf
printf 'pipeline = clamav\npid_file =\n\n[clamav]\n' >"$f"
printf 'database_dir = %s\ntemp_dir = %s\n' "$D/db-bad" "$D/ctmp" >>"$f"
out=$("$FILTERD" -n -c "$f" 2>&1)
rc=$?
is "$rc" 1 "config check: a database with a bad line: filterd -n exits 1"
like "$out" "^$(re_quote "$f"):5: database_dir: \
$(re_quote "$D/db-bad"): Malformed database\$" \
    "config check: FILE:LINE of database_dir, the directory and the problem"
like "$out" "$(re_quote "$D/db-bad/bad.ndb")" \
    "config check: libclamav's line names the bad file"
rm -f "$D/db-bad/bad.ndb"
"$FILTERD" -n -c "$f" >"$D/good.out" 2>&1
is "$?" 0 "config check: the same config without the bad file: exit 0"

# --- (4) continued: clamd stopped -------------------------------------------

stop_pid "$CLAMD_PID" 10
expect_refused "clamd stopped: 451 4.3.0 (on_failure default tempfail)" \
    "$TEMPFAIL" fk --body "Nothing here."
log_has fk "clamd stopped: filterd logs the failed scan naming the server" \
    "clamav: scan failed: clamd unix:$(re_quote "$CLAMD_SOCK"): "
log_has fk "clamd stopped: filterd logs on_failure=tempfail" \
    'module clamav failed at eom .*on_failure=tempfail'
expect_refused "clamd stopped, two servers: 451 4.3.0" "$TEMPFAIL" fk2 \
    --body "Nothing here."
alive fk
alive fk2

# --- the delivered messages -------------------------------------------------

pf_wait_idle 30 || diag "queue did not become idle"

expect_header "clean: X-Virus-Scanned names ClamAV, the signatures, the host" \
    "$M_CLEAN" X-Virus-Scanned "$SCANNED"
expect_header "clean attachment: X-Virus-Scanned" "$M_CLEAN2" \
    X-Virus-Scanned "$SCANNED"
expect_no_header "clean: no X-Virus-Status" "$M_CLEAN" X-Virus-Status
expect_header "discard node, clean message: X-Virus-Scanned" "$M_DCLEAN" \
    X-Virus-Scanned "$SCANNED"
expect_header "header: X-Virus-Status: Infected (NAME)" "$M_HDR" \
    X-Virus-Status "Infected \\($(re_quote "$EICAR_NAME")\\)"
expect_header "header: X-Virus-Scanned too" "$M_HDR" X-Virus-Scanned \
    "$SCANNED"
expect_header "oversize skip: X-Virus-Scanned says not scanned" "$M_BIG" \
    X-Virus-Scanned \
    "not scanned \\([0-9]+ bytes, over max_message_size\\) at $(re_quote "$H")"
h=$(header_of "$M_BIG" | grep '^X-Virus-Scanned:')
sz=$(printf '%s\n' "$h" | sed -En 's/.*\(([0-9]+) bytes.*/\1/p')
if [ -n "$sz" ] && [ "$sz" -ge 50400 ] && [ "$sz" -lt 60000 ]; then
	ok "oversize skip: the size counted is the whole message ($sz bytes)"
else
	not_ok "oversize skip: the size counted is the whole message" \
	    "(${sz:-none})"
fi
expect_header "oversize skip: a small message is scanned" "$M_SMALL" \
    X-Virus-Scanned "$SCANNED"
expect_header "clamd: X-Virus-Scanned is clamd's version at the host" \
    "$M_KCLEAN" X-Virus-Scanned "$(re_quote "$CLAMD_VERSION at $H")"
expect_header "clamd, two servers: X-Virus-Scanned" "$M_K2CLEAN" \
    X-Virus-Scanned "$(re_quote "$CLAMD_VERSION at $H")"
expect_header "reload: the new engine's 3 signatures in X-Virus-Scanned" \
    "$M_RCLEAN" X-Virus-Scanned \
    "ClamAV $(re_quote "$CLVER"), 3 signatures at $(re_quote "$H")"
expect_header "corrupt database: the old engine's 2 signatures" \
    "$M_CCLEAN" X-Virus-Scanned "$SCANNED"

bad=0
for e in "${DELIVERED[@]}"; do
	if ! sink_find "Subject: ${e%% *}" 3 >/dev/null; then
		not_ok "delivered: ${e#* }"
		bad=1
	fi
done
[ "$bad" = 0 ] &&
    ok "every accepted message is in the sink (${#DELIVERED[@]})"
bad=0
for e in "${NOT_DELIVERED[@]}"; do
	if sink_has "Subject: ${e%% *}"; then
		not_ok "not delivered: ${e#* }"
		bad=1
	fi
done
[ "$bad" = 0 ] &&
    ok "no refused, discarded or held message reached the sink" \
    "(${#NOT_DELIVERED[@]})"
n=$(grep -l 'Subject: stream-' "$SINK_DIR"/* 2>/dev/null | wc -l)
is "$n" "$n_all" "reload: every message of the stream was delivered"
is "$(pf_queue_count hold)" 1 "quarantine: exactly one message held"

# --- the end ------------------------------------------------------------------

for n in $NODES; do
	alive "$n"
done
# Half the nodes retire their clamav config by reload (SIGUSR1 to a
# config without it), the others keep it until they stop: either way the
# engine, its thread and the clamd client must go with the last config
# that uses them (at stop filterd retires its config as at a reload).
# Under an ASan build (BUILD=build-asan) LeakSanitizer checks that at
# exit: libclamav keeps an engine's pointers in mmap'ed pools that it does
# not scan, so an engine still alive at exit reads as leaked blocks.
RETIRE="fa fq fr fk fl fz"
for n in $RETIRE; do
	cat >"$D/$n/filterd.conf" <<EOF
socket        = inet:${FPORT[$n]}@127.0.0.1
user          = nobody
pid_file      =
pipeline      = access
hostname      = $H
EOF
	kill -USR1 "${NODE_PID[$n]}"
done
bad=0
for n in $RETIRE; do
	if ! wait_log "$n" 'configuration .* reloaded$' 10; then
		not_ok "$n: reload to a config without clamav"
		bad=1
	fi
done
[ "$bad" = 0 ] && ok "$RETIRE reloaded to a config without clamav"
for n in $NODES; do
	kill -TERM "${NODE_PID[$n]}" 2>/dev/null
done
for n in $NODES; do
	stop_pid "${NODE_PID[$n]}" 10
	check_no_sanitizer "${NODE_LOG[$n]}"
done
if [ "$_tap_failed" -gt 0 ]; then
	for n in $NODES; do
		diag_file "${NODE_LOG[$n]}" 20
	done
	diag_file "$PF_LOG" 30
fi
diag "took $((SECONDS - T_START)) s"
done_testing
