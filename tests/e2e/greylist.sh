#!/bin/bash
# greylist.sh - the greylist module of postern-filterd as the milter of a
# real Postfix, with short times (delay 2s) so the whole run takes well
# under a minute and a half.
#
# One Postfix instance has one SMTP listener per filterd node, each with
# its own smtpd_milters, so eight filterds run at once:
#
#	fm	LMDB; spf before greylist; auto_whitelist_clients 2,
#		skip_recipients: the triplet rules, auto-whitelisting,
#		proven senders, sender normalization, mynetworks /
#		authenticated / skip_recipients
#	fw	LMDB, retry_window 3s: a retry after the window
#	fk	LMDB, max_age 3s: kill -9 keeps the state; expiry of a pass
#	fo	dnsbl before greylist, only_if = dnsbl>=1
#	fn	at_data = null_sender
#	fx	at_data = multiple_recipients
#	fra	Redis, on_failure default (accept)
#	frb	Redis (the same server), on_failure = tempfail
#
# Clients are claimed with XCLIENT ADDR (the connection itself is from
# 127.0.0.1, which Postfix trusts for XCLIENT); nothing is sent outside
# 127/8. Networks (ipv4_prefix 24) are kept apart per scenario, because
# with auto_whitelist_clients 2 a second pass from one network would
# whitelist it: 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24
# (documentation) and 198.18.N.0/24 (benchmarking, RFC 2544).
#
# The scenarios run interleaved so that one wait of the delay serves all
# of them: first tries, then the retries after the delay, then the
# checks that need the retry window or max_age to run out. The module
# counts time in whole seconds (time(2)), so a retry 2.05 real seconds
# after the first try is always at least 2 whole seconds later. Every
# node but fw has a retry window of 60s, so a slow (loaded or sanitized)
# run still retries within it.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v nsd >/dev/null || setup_fail "nsd is not installed"
command -v redis-server >/dev/null || setup_fail "redis-server is not installed"
command -v redis-cli >/dev/null || setup_fail "redis-cli is not installed"

T_START=$SECONDS
mktmp_var D e2e-greylist
Z=spf.example.org
NODES="fm fw fk fo fn fx fra frb"
RSOCK=$D/redis/redis.sock
RSTORE=redis:unix:$RSOCK
GL_NEW='451 4\.7\.1 Greylisted, please try again in 2 seconds'
GL_EARLY='451 4\.7\.1 Greylisted, please try again in [12] seconds'
GL_FAILED='451 4\.3\.0 Temporary failure, please try again later'
QUEUED='250 2\.0\.0 Ok: queued as [0-9A-F]+'
XGL_RE='X-Greylist: delayed [0-9]+ seconds by postern-filterd at '
XGL_RE+='mx\.example\.com; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} '
XGL_RE+='(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} '
XGL_RE+='[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000'

declare -A FPORT LPORT NODE_PID NODE_LOG
# free_ports N - N different free TCP ports on 127.0.0.1 (all bound at
# once, then released; one python3 start instead of N)
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r -a ports <<<"$(free_ports 17)"
[ "${#ports[@]}" = 17 ] || setup_fail "no free ports"
SINK_PORT=${ports[0]}
i=1
for n in $NODES; do
	FPORT[$n]=${ports[$i]}
	LPORT[$n]=${ports[$((i + 1))]}
	i=$((i + 2))
done

start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"

# start_redis - redis-server on the unix socket RSOCK (mode 777: filterd
# reconnects after an outage as user nobody), no persistence
start_redis() {
	local i
	mkdir -p "$D/redis"
	BG_LOG=$D/redis/redis.log start_bg redis redis-server --port 0 \
	    --unixsocket "$RSOCK" --unixsocketperm 777 --dir "$D/redis" \
	    --save '' --appendonly no --daemonize no
	REDIS_PID=$BG_PID
	for ((i = 0; i < 50; i++)); do
		[ "$(redis-cli -s "$RSOCK" ping 2>/dev/null)" = PONG ] &&
		    return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "redis-server does not answer on $RSOCK"
	diag_file "$D/redis/redis.log"
	return 1
}
start_redis || setup_fail "redis-server does not start"

# filterd_conf NODE - filterd.conf text of one node (see the top)
filterd_conf() {
	local n=$1 pipeline="access, greylist" more=""
	local store="lmdb:$D/$n.lmdb" window=60s

	case $n in
	fm)
		pipeline="access, spf, greylist"
		more="auto_whitelist_clients = 2
skip_recipients = inline:{ postmaster@ours.example=OK }"
		;;
	fw)	window=3s ;;
	fk)	more="max_age = 3s" ;;
	fo)
		pipeline="access, dnsbl, greylist"
		more="only_if = dnsbl>=1"
		;;
	fn)	more="at_data = null_sender" ;;
	fx)	more="at_data = multiple_recipients" ;;
	fra)	store=$RSTORE ;;
	frb)
		store=$RSTORE
		more="on_failure = tempfail"
		;;
	esac
	cat <<EOF
socket        = inet:${FPORT[$n]}@127.0.0.1
user          = nobody
pid_file      =
pipeline      = $pipeline
authserv_id   = mx.example.com
hostname      = mx.example.com
mynetworks    = 127.0.0.1/32, 192.0.2.200/32
dns_servers   = 127.0.0.1@$NSD_PORT
dns_timeout   = 1s
dns_attempts  = 1

[access]
relay_domains = ours.example
EOF
	case $pipeline in
	*spf*)
		# a failing SPF result must reach greylisting, not refuse;
		# nsd serves only the test zones, so sender domains like
		# awl.example are temperror (REFUSED), which must not defer
		printf '\n[spf]\nmailfrom_fail = none\n'
		printf 'mailfrom_temperror = none\n'
		;;
	*dnsbl*)
		# listed 127.0.0.2 weighs 1: below the threshold
		printf '\n[dnsbl]\nclient_sites = zen.example.net\n'
		printf 'threshold = 5\n'
		;;
	esac
	cat <<EOF

[greylist]
store         = $store
delay         = 2s
retry_window  = $window
$more
EOF
}

# start_node NODE [DIR] - start NODE's filterd (state in DIR, default
# $D/NODE)
start_node() {
	local n=$1 dir=${2:-$D/$1}
	mkdir -p "$dir"
	start_filterd "$dir" "$(filterd_conf "$n")" || return 1
	NODE_PID[$n]=$FILTERD_PID
	NODE_LOG[$n]=$FILTERD_LOG
}

for n in $NODES; do
	start_node "$n" || setup_fail "postern-filterd ($n) does not start"
done
start_postfix "$D/pf" "${LPORT[fm]}" \
    "smtpd_milters = inet:127.0.0.1:${FPORT[fm]}" \
    "milter_default_action = tempfail" \
    "smtpd_authorized_xclient_hosts = 127.0.0.1" ||
    setup_fail "private Postfix does not start"
# one more listener per node, each with its own milter
listeners=()
for n in $NODES; do
	[ "$n" = fm ] && continue
	unset "LPORT[$n]"
	listeners+=("$n=inet:127.0.0.1:${FPORT[$n]}")
done
pf_listeners LPORT "${listeners[@]}" ||
    setup_fail "Postfix does not listen for every node"
diag "setup took $((SECONDS - T_START)) s"

# --- helpers ----------------------------------------------------------------

# now - the time in seconds with fractions
now() {
	date +%s.%N
}

# sleep_until T - sleep until the time T (now's format)
sleep_until() {
	sleep "$(awk -v t="$1" -v n="$(now)" \
	    'BEGIN { d = t - n; printf "%.3f\n", (d > 0 ? d : 0) }')"
}

# plus T SECS - T + SECS
plus() {
	awk -v t="$1" -v s="$2" 'BEGIN { printf "%.3f\n", t + s }'
}

# since T - seconds from T until now, one decimal
since() {
	awk -v t="$1" -v n="$(now)" 'BEGIN { printf "%.1f\n", n - t }'
}

# send NODE CLIENT FROM TO [swaks options] - one message through NODE's
# listener from CLIENT (XCLIENT ADDR), HELO mail.spf.example.org (SPF pass
# for 192.0.2.10 only); its Subject is MARK (set here)
_mark_n=0
send() {
	local n=$1 ip=$2 from=$3 to=$4
	local PF_PORT=${LPORT[$1]}
	shift 4
	# fixed width, so that no mark is the start of another
	_mark_n=$((_mark_n + 1))
	printf -v MARK 'gl-%s-%04d' "$$" "$_mark_n"
	smtp 127.0.0.1 "$from" "$to" --xclient-addr "$ip" \
	    --helo "mail.$Z" --header "Subject: $MARK" "$@"
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

NOT_DELIVERED=()
DELIVERED=()

# expect_rcpt DESC REGEX NODE CLIENT FROM TO [opts] - every RCPT reply is
# REGEX (whole line); a message refused there is never delivered
expect_rcpt() {
	local desc=$1 want=$2 got r bad=0
	shift 2
	send "$@"
	got=$(smtp_reply_to 'RCPT TO')
	[ -n "$got" ] || bad=1
	while IFS= read -r r; do
		matches "$r" "$want" || bad=1
	done <<<"$got"
	if [ "$bad" = 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "RCPT replies: $got" "want: /$want/"
		diag "$(smtp_replies | tail -n 3)"
	fi
	# refused (whatever the check said): must never reach the sink
	printf '%s\n' "$got" | grep -q '^250 ' ||
	    NOT_DELIVERED+=("$MARK $desc")
	[ "$bad" = 0 ]
}

# expect_accepted DESC NODE CLIENT FROM TO [opts] - every RCPT and the
# end of data get 250; the message must reach the sink (checked later)
expect_accepted() {
	local desc=$1 got
	shift
	send "$@"
	got=$(dot_reply)
	DELIVERED+=("$MARK $desc")
	if [ "$SMTP_RC" = 0 ] && matches "$got" "$QUEUED"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc (swaks exit $SMTP_RC)"
	diag "$(smtp_replies | tail -n 4)"
	return 1
}

# expect_data_defer DESC REGEX NODE CLIENT FROM TO [opts] - every RCPT
# gets 250, the end of data gets REGEX; never delivered
expect_data_defer() {
	local desc=$1 want=$2 rc got r bad=0
	shift 2
	send "$@"
	rc=$(smtp_reply_to 'RCPT TO')
	got=$(dot_reply)
	[ -n "$rc" ] || bad=1
	while IFS= read -r r; do
		matches "$r" '250 2\.1\.5 Ok' || bad=1
	done <<<"$rc"
	matches "$got" "$want" || bad=1
	NOT_DELIVERED+=("$MARK $desc")
	if [ "$bad" = 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "RCPT replies: $rc" "end of data: $got" "want: /$want/"
		diag "$(smtp_replies | tail -n 4)"
	fi
}

# header_of MARK - the header of the delivered message MARK (CRs removed,
# folded lines joined); status 1 if it is not in the sink (call after
# pf_wait_idle: it waits 3 s at most)
header_of() {
	local f
	f=$(sink_find "Subject: $1" 3) || return 1
	tr -d '\r' <"$f" | sed '/^$/q' |
	    awk 'NR > 1 && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		 NR > 1 { printf "\n" } { printf "%s", $0 } END { printf "\n" }'
}

# expect_xgl DESC MARK - the message has exactly one X-Greylist field,
# "delayed N seconds by postern-filterd at mx.example.com; DATE" with
# 2 <= N < 60 (the delay, within the retry window)
expect_xgl() {
	local desc=$1 h x n
	h=$(header_of "$2") || {
		not_ok "$desc (message not in the sink)"
		return 1
	}
	x=$(printf '%s\n' "$h" | grep -i '^X-Greylist:')
	if matches "$x" "$XGL_RE"; then
		n=$(printf '%s\n' "$x" |
		    sed -E 's/^X-Greylist: delayed ([0-9]+) .*/\1/')
		if [ "$n" -ge 2 ] && [ "$n" -lt 60 ]; then
			ok "$desc"
			return 0
		fi
	fi
	not_ok "$desc"
	diag "X-Greylist fields: ${x:-(none)}"
	return 1
}

# expect_no_xgl DESC MARK - the message arrived without X-Greylist
expect_no_xgl() {
	local h
	h=$(header_of "$2") || {
		not_ok "$1 (message not in the sink)"
		return 1
	}
	unlike "$h" '^X-Greylist:' "$1"
}

# log_has DESC NODE REGEX - NODE's filterd log has a line matching REGEX
log_has() {
	like "$(cat "${NODE_LOG[$2]}")" "$3" "$1"
}

# re_quote TEXT - TEXT as an extended regex matching itself
re_quote() {
	printf '%s\n' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'
}

# defer_logged DESC NODE FROM TO REASON [COUNT] - NODE logged the RCPT
# defer of FROM to TO with the greylist reason REASON (a regex), COUNT
# times (default: at least once). The reply of a retry in the first
# second also says "2 seconds", so only the log tells "new" from "early".
defer_logged() {
	local re='defer: RCPT from [^ ]+: 451 4\.7\.1 Greylisted, please ' n
	re+="try again in [12] seconds; from=<$(re_quote "$3")> "
	re+="to=<$(re_quote "$4")> .*module=greylist reason=$5\$"
	if [ -z "${6:-}" ]; then
		log_has "$1" "$2" "$re"
		return
	fi
	n=$(grep -Ec -- "$re" "${NODE_LOG[$2]}")
	is "$n" "$6" "$1"
}

# alive NODE - ok when NODE's filterd still runs
alive() {
	if kill -0 "${NODE_PID[$1]}" 2>/dev/null; then
		ok "$1: postern-filterd still running"
	else
		not_ok "$1: postern-filterd still running"
	fi
}

U=user@ours.example

# --- phase 1: first tries ----------------------------------------------------

# LMDB survives kill -9: the first try, then the kill (below)
T_K=$(now)
expect_rcpt "lmdb: first try 451 4.7.1 with the delay" "$GL_NEW" \
    fk 198.18.20.1 k@kill.example "$U"

# the basic rules
expect_rcpt "first try: 451 4.7.1 Greylisted, please try again in 2 seconds" \
    "$GL_NEW" fm 192.0.2.21 s1@first.example "$U"
defer_logged "first try: filterd logs the network and 'new'" fm \
    s1@first.example "$U" '192\.0\.2\.0/24 new'
expect_rcpt "retry before the delay: 451 4.7.1 with the time left (1 or 2 s)" \
    "$GL_EARLY" fm 192.0.2.21 s1@first.example "$U"
defer_logged "retry before the delay: filterd logs 'early'" fm \
    s1@first.example "$U" '192\.0\.2\.0/24 early'

# the retry window (3s on fw): first try now, the retry in phase 3
T_S2=$(now)
expect_rcpt "window: first try 451" "$GL_NEW" fw 192.0.2.22 \
    s2@window.example "$U"

# auto-whitelisting: two triplets from 198.51.100.0/24
expect_rcpt "awl: first triplet, first try 451" "$GL_NEW" fm 198.51.100.1 \
    a1@awl.example "$U"
expect_rcpt "awl: second triplet, first try 451" "$GL_NEW" fm 198.51.100.2 \
    a2@awl.example "$U"

# proven senders: SPF pass for greypool from both networks; SPF pass
# for "pass" only from 192.0.2.10
expect_rcpt "proven: greypool from 192.0.2.30 (SPF pass): 451" "$GL_NEW" \
    fm 192.0.2.30 "p@greypool.$Z" "$U"
defer_logged "proven: the identity is the domain" fm "p@greypool.$Z" "$U" \
    '@greypool\.spf\.example\.org new'
expect_rcpt "proven: pass.$Z from 192.0.2.10 (SPF pass): 451" "$GL_NEW" \
    fm 192.0.2.10 "p@pass.$Z" "$U"

# per-message senders: BATV, SRS, VERP with a +extension, VERP with
# numbers and a tag; each from its own network
expect_rcpt "batv: prvs=TAG=alice first try 451" "$GL_NEW" fm 198.18.6.1 \
    prvs=1234abcdef=alice@batv.example "$U"
expect_rcpt "srs: SRS0 first try 451" "$GL_NEW" fm 198.18.7.1 \
    SRS0=AbCd=X1=orig.example=bob@fwd.example "$U"
expect_rcpt "verp: list-bounces+4711-user=ours.example first try 451" \
    "$GL_NEW" fm 198.18.8.1 list-bounces+4711-user=ours.example@lists.example \
    "$U"
expect_rcpt "verp: bounce-4711-a8f3c9d2e1 first try 451" "$GL_NEW" fm \
    198.18.10.1 bounce-4711-a8f3c9d2e1@news.example "$U"

# at_data = null_sender: a bounce is accepted at RCPT, deferred at the
# end of data; a normal sender is still deferred at RCPT
expect_data_defer "null_sender: bounce 250 at RCPT, 451 4.7.1 at end of data" \
    "$GL_NEW" fn 198.18.30.1 '<>' "$U"
expect_rcpt "null_sender: a normal sender still 451 at RCPT" "$GL_NEW" \
    fn 198.18.30.1 n@normal.example "$U"
# at_data = multiple_recipients: both RCPTs 250, one deferral at the end
expect_data_defer "multiple_recipients: 2 RCPT 250, end of data 451 4.7.1" \
    "$GL_NEW" fx 198.18.31.1 m@multi.example u1@ours.example,u2@ours.example
log_has "multiple_recipients: filterd logs one deferral for both" fx \
    '198\.18\.31\.0/24 at end of data: 2 of 2 recipients greylisted'
is "$(grep -c 'from=<m@multi.example>.*module=greylist' "${NODE_LOG[fx]}")" 1 \
    "multiple_recipients: exactly one greylist deferral logged"

# Redis: greylisted through node A, the same triplet is early at B
expect_rcpt "redis: first try through node A: 451" "$GL_NEW" fra \
    198.18.9.1 r1@redis.example "$U"
RKEY="postern:greylist:t 198.18.9.0/24 r1@redis.example $U"
is "$(redis-cli -s "$RSOCK" exists "$RKEY")" 1 \
    "redis: the triplet is stored under '$RKEY'"
ttl=$(redis-cli -s "$RSOCK" ttl "$RKEY")
if [ "$ttl" -gt 30 ] 2>/dev/null && [ "$ttl" -le 60 ]; then
	ok "redis: the record's TTL ($ttl s) ends with the retry window"
else
	not_ok "redis: the record's TTL ($ttl) ends with the retry window"
fi
expect_rcpt "redis: the same triplet through node B at once: 451 (early)" \
    "$GL_EARLY" frb 198.18.9.1 r1@redis.example "$U"
defer_logged "redis: node B knows the triplet from node A ('early')" frb \
    r1@redis.example "$U" '198\.18\.9\.0/24 early'
T_LAST=$(now)
diag "first tries took $(since "$T_K") s"

# --- while the delay runs ----------------------------------------------------

# kill -9, and a new filterd on the same store
kill -KILL "${NODE_PID[fk]}"
wait "${NODE_PID[fk]}" 2>/dev/null
FK_OLD_LOG=${NODE_LOG[fk]}
start_node fk "$D/fk2" ||
    setup_fail "postern-filterd (fk) does not start again after kill -9"
is "$(stat -c %U:%a "$D/fk.lmdb") $(stat -c %U:%a "$D/fk.lmdb-lock")" \
    "nobody:600 nobody:600" \
    "lmdb: store and lock file belong to filterd's user (user = nobody)"

# never greylisted: each from a network that is greylisted otherwise
expect_accepted "mynetworks client 192.0.2.200: accepted at once" fm \
    192.0.2.200 s7@exempt.example "$U"
M_MYNET=$MARK
expect_accepted "authenticated client (XCLIENT LOGIN): accepted at once" fm \
    203.0.113.7 s7@exempt.example "$U" --xclient-login joe
M_AUTH=$MARK
expect_rcpt "the same triplet unauthenticated: 451" \
    "$GL_NEW" fm 203.0.113.7 s7@exempt.example "$U"
defer_logged "the same triplet unauthenticated is new (no record was made)" \
    fm s7@exempt.example "$U" '203\.0\.113\.0/24 new' 1
expect_accepted "skip_recipients postmaster@ours.example: accepted at once" \
    fm 203.0.113.8 skip@exempt.example postmaster@ours.example
M_SKIP=$MARK
expect_rcpt "the same client and sender to another recipient: 451" \
    "$GL_NEW" fm 203.0.113.8 skip@exempt.example "$U"
# only_if = dnsbl>=1: 127.0.0.3 is listed nowhere, 127.0.0.2 everywhere
expect_accepted "only_if: unlisted 127.0.0.3 accepted at once" fo \
    127.0.0.3 o@onlyif.example "$U"
M_CLEAN=$MARK
expect_rcpt "only_if: zen-listed 127.0.0.2 (weight 1 < threshold 5): 451" \
    "$GL_NEW" fo 127.0.0.2 o@onlyif.example "$U"

# --- phase 2: the retries after the delay ------------------------------------

sleep_until "$(plus "$T_LAST" 2.05)"
T_P2=$(now)

# the triplet greylisted before kill -9 passes: the store kept it
expect_accepted "lmdb after kill -9: the retry is accepted" fk 198.18.20.1 \
    k@kill.example "$U"
M_K=$MARK
expect_accepted "lmdb: the next message of the triplet is accepted" fk \
    198.18.20.1 k@kill.example "$U"
M_K2=$MARK
T_KPASS=$(now)

# the basic rules: the retry passes
expect_accepted "retry after the delay: accepted (250)" fm 192.0.2.21 \
    s1@first.example "$U"
M_S1=$MARK
expect_accepted "the next message of the triplet: accepted at once" fm \
    192.0.2.21 s1@first.example "$U"
M_S1B=$MARK

# auto-whitelisting: a1 passes; with one pass 198.51.100.0/24 is not
# whitelisted yet
expect_accepted "awl: first triplet passes" fm 198.51.100.1 a1@awl.example "$U"
M_A1=$MARK
expect_rcpt "awl: after one pass a new triplet is still greylisted" \
    "$GL_NEW" fm 198.51.100.4 a4@awl.example "$U"
expect_accepted "awl: second triplet passes" fm 198.51.100.2 a2@awl.example "$U"
M_A2=$MARK
expect_accepted "awl: after two passes a new triplet is accepted at once" \
    fm 198.51.100.3 a3@awl.example "$U"
M_A3=$MARK

# proven senders: the retry from the other network
expect_accepted "proven: greypool's retry from 203.0.113.30 accepted" \
    fm 203.0.113.30 "p@greypool.$Z" "$U"
M_POOL=$MARK
expect_rcpt "proven: pass.$Z's retry from 203.0.113.77 (SPF fail): 451" \
    "$GL_NEW" fm 203.0.113.77 "p@pass.$Z" "$U"
defer_logged "proven: a failing SPF is keyed by the network" fm \
    "p@pass.$Z" "$U" '203\.0\.113\.0/24 new'

# another variant of each sender shares the triplet
expect_accepted "batv: prvs=alice=TAG2 (the other order) accepted" fm \
    198.18.6.1 prvs=alice=0987fedcba@batv.example "$U"
M_BATV=$MARK
expect_rcpt "batv: another local part from the same network: 451" \
    "$GL_NEW" fm 198.18.6.1 prvs=1234abcdef=mallory@batv.example "$U"
expect_accepted "srs: SRS0 with another hash and time accepted" fm \
    198.18.7.1 SRS0=WxYz=Y2=orig.example=bob@fwd.example "$U"
M_SRS=$MARK
expect_accepted "verp: list-bounces+4712-user=ours.example accepted" fm \
    198.18.8.1 list-bounces+4712-user=ours.example@lists.example "$U"
M_VERP=$MARK
expect_accepted "verp: bounce-4712-b9e4d0a3f2 accepted" fm 198.18.10.1 \
    bounce-4712-b9e4d0a3f2@news.example "$U"
M_VERP2=$MARK

# at_data: the retries
expect_accepted "null_sender: the bounce's retry accepted" fn 198.18.30.1 \
    '<>' "$U"
M_NULL=$MARK
expect_accepted "multiple_recipients: the retry accepted for both" fx \
    198.18.31.1 m@multi.example u1@ours.example,u2@ours.example
M_MULTI=$MARK

# Redis: the retry through node B passes; node A then knows it as passed
expect_accepted "redis: the retry through node B accepted" frb 198.18.9.1 \
    r1@redis.example "$U"
M_RB=$MARK
expect_accepted "redis: the next message through node A accepted at once" \
    fra 198.18.9.1 r1@redis.example "$U"
M_RA=$MARK
diag "retries took $(since "$T_P2") s"

# --- Redis goes away and comes back ------------------------------------------

stop_pid "$REDIS_PID" 5
expect_accepted "redis down, on_failure accept: a new triplet accepted" fra \
    198.18.11.1 down@redis.example "$U"
M_DOWN=$MARK
re="warning: .*greylist: store error: redis $(re_quote "unix:$RSOCK"): "
re+='.*\([0-9]+ store errors? since start\)$'
log_has "redis down: node A warns, naming the store" fra "$re"
log_has "redis down: node A applies on_failure=accept" fra \
    'module greylist failed at rcpt .*on_failure=accept'
expect_rcpt "redis down, on_failure = tempfail: node B answers 451 4.3.0" \
    "$GL_FAILED" frb 198.18.11.1 down@redis.example "$U"
log_has "redis down: node B applies on_failure=tempfail" frb \
    'module greylist failed at rcpt .*on_failure=tempfail'
alive fra
alive frb
start_redis || setup_fail "redis-server does not start again"
T_UP=$(now)
sleep 1.5
expect_rcpt "redis back for 1.5 s: node A greylists a new triplet again" \
    "$GL_NEW" fra 198.18.12.1 up@redis.example "$U"
a_back=$?
expect_rcpt "redis back: node B greylists a new triplet again" "$GL_NEW" \
    frb 198.18.13.1 upb@redis.example "$U"
if [ "$a_back" != 0 ]; then
	# for the diagnosis: how long node A takes to greylist again
	for ((i = 2; i < 12; i++)); do
		send fra 198.18.12.$i "up$i@redis.example" "$U"
		matches "$(smtp_reply_to 'RCPT TO')" "$GL_NEW" && break
		sleep 0.3
	done
	diag "node A greylisted again $(since "$T_UP") s after the" \
	    "restart (try $i)"
fi

# --- phase 3: the retry window and max_age run out ---------------------------

sleep_until "$(plus "$T_S2" 3.05)"
sleep_until "$(plus "$T_KPASS" 3.05)"
expect_rcpt "retry after the retry window: 451 with the full delay" \
    "$GL_NEW" fw 192.0.2.22 s2@window.example "$U"
defer_logged "retry after the window: logged 'new' again (2 in all)" fw \
    s2@window.example "$U" '192\.0\.2\.0/24 new' 2
expect_rcpt "max_age: a pass unseen for more than 3 s is greylisted again" \
    "$GL_NEW" fk 198.18.20.1 k@kill.example "$U"
defer_logged "max_age: filterd logs 'new'" fk k@kill.example "$U" \
    '198\.18\.20\.0/24 new' 1

# --- the delivered messages --------------------------------------------------

pf_wait_idle 30 || diag "queue did not become idle"

expect_xgl "retry after the delay: X-Greylist: delayed N seconds, N >= 2" \
    "$M_S1"
expect_no_xgl "the next message of the triplet: no X-Greylist" "$M_S1B"
expect_xgl "lmdb after kill -9: X-Greylist (passed, not greylisted anew)" "$M_K"
expect_no_xgl "lmdb: the next message: no X-Greylist" "$M_K2"
expect_xgl "awl: first pass has X-Greylist" "$M_A1"
expect_xgl "awl: second pass has X-Greylist" "$M_A2"
expect_no_xgl "awl: the whitelisted client's message: no X-Greylist" "$M_A3"
expect_xgl "proven: greypool's message has X-Greylist" "$M_POOL"
expect_xgl "batv: X-Greylist" "$M_BATV"
expect_xgl "srs: X-Greylist" "$M_SRS"
expect_xgl "verp (+extension): X-Greylist" "$M_VERP"
expect_xgl "verp (numbers, tag): X-Greylist" "$M_VERP2"
expect_xgl "null_sender: the bounce has X-Greylist" "$M_NULL"
expect_xgl "multiple_recipients: X-Greylist" "$M_MULTI"
h=$(header_of "$M_MULTI")
is "$(printf '%s\n' "$h" | grep -c '^X-Rcpt-Args: <u[12]@ours\.example>')" 2 \
    "multiple_recipients: delivered to both recipients"
expect_xgl "redis: node B's pass has X-Greylist" "$M_RB"
expect_no_xgl "redis: node A's next message: no X-Greylist" "$M_RA"
for m in "$M_MYNET" "$M_AUTH" "$M_SKIP" "$M_CLEAN" "$M_DOWN"; do
	expect_no_xgl "never greylisted message $m: no X-Greylist" "$m"
done
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
    ok "no deferred message reached the sink (${#NOT_DELIVERED[@]})"

# --- bad configurations: filterd -n exits 1 naming FILE:LINE ----------------

# bad_conf DESC LINES REGEX - a config with LINES in [greylist] (and a
# good store unless they name one); filterd -n must exit 1 and print
# "FILE:LINE: " REGEX for the last of them
bad_conf() {
	local desc=$1 text=$2 re=$3 f=$D/bad.conf out rc line store
	store="store = lmdb:$D/ok.lmdb"
	case $text in
	store*) store= ;;
	esac
	printf 'pipeline = greylist\n\n[greylist]\n%s\n%s\n' "$store" \
	    "$text" >"$f"
	line=$(grep -n -F -x -- "$text" "$f" | tail -n 1 | cut -d: -f1)
	out=$("$FILTERD" -n -c "$f" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && printf '%s\n' "$out" |
	    grep -Eq -- "^$(re_quote "$f"):$line: $re"; then
		ok "$desc"
	else
		not_ok "$desc (exit $rc)"
		diag "$out"
	fi
}
printf 'pipeline = greylist\n\n[greylist]\nstore = lmdb:%s\n' "$D/ok.lmdb" \
    >"$D/good.conf"
"$FILTERD" -n -c "$D/good.conf" >"$D/good.out" 2>&1
is "$?" 0 "config check: the base config is good"
bad_conf "config: store in a missing directory" \
    "store = lmdb:$D/missing/dir/gl.lmdb" \
    "store: .*missing/dir/gl\\.lmdb.*No such file or directory"
bad_conf "config: Redis that does not answer" \
    "store = redis:unix:$D/missing.sock" "store: .*missing\\.sock"
bad_conf "config: unknown at_data word" "at_data = null_sender, bogus" \
    "at_data: unknown word 'bogus'"
bad_conf "config: retry_window not longer than delay" \
    "delay = 10m
retry_window = 10m" "retry_window: must be longer than delay"
bad_conf "config: bad only_if item" "only_if = dnsbl>=x" \
    "only_if: bad item 'dnsbl>=x'"
bad_conf "config: reply_code outside 4xx" "reply_code = 550" \
    "bad value '550' for 'reply_code': must be from 400 to 499"

# --- the end -----------------------------------------------------------------

for n in $NODES; do
	alive "$n"
done
# stop them all at once (each takes a second or two)
for n in $NODES; do
	kill -TERM "${NODE_PID[$n]}" 2>/dev/null
done
for n in $NODES; do
	stop_pid "${NODE_PID[$n]}" 10
	check_no_sanitizer "${NODE_LOG[$n]}"
done
check_no_sanitizer "$FK_OLD_LOG"
if [ "$_tap_failed" -gt 0 ]; then
	for n in $NODES; do
		diag_file "${NODE_LOG[$n]}" 20
	done
	diag_file "$PF_LOG" 30
fi
diag "took $((SECONDS - T_START)) s"
done_testing
