#!/bin/bash
# greylist_tool.sh - posternctl greylist over stores seeded without
# filterd: LMDB written with mdb_load (the backend's layout: unnamed main
# database, key = the key text, value = "EXPIRES FIRST LAST COUNT") and a
# private redis-server on a unix socket written with redis-cli. Checks
# the exact lines of list (sorted, states, UTC times), show and stats,
# that expired records are neither listed, shown nor counted, delete and
# flush (their output and exit codes, and that the records are really
# gone from the store), prefix filtering, the [greylist] settings read
# from -c FILE (store, key_prefix, auto_whitelist_clients,
# redis_database, redis_password) and -s/-p overriding them, and the
# errors: a missing LMDB store (exit 2, nothing created), a Redis that
# cannot be reached, bad config values (FILE:LINE) and bad usage.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
for cmd in mdb_load mdb_dump redis-server redis-cli; do
	command -v "$cmd" >/dev/null ||
	    setup_fail "$cmd is not installed (lmdb-utils, redis-server)"
done

mktmp_var D e2e-greylist
printf '# no [greylist] section: built-in defaults\n' >"$D/empty.conf"

# run CMD... - stdout in OUT, stderr in ERR, exit code in RC
run() {
	"$@" >"$D/out" 2>"$D/err"
	RC=$?
	OUT=$(cat "$D/out")
	ERR=$(cat "$D/err")
}

# gl ARGS... - posternctl greylist through run
gl() {
	run "$POSTERNCTL" greylist "$@"
}

# line KEY STATE COUNT FIRST LAST EXPIRES - one expected output line
line() {
	printf '%s\t%s\tcount=%s\tfirst=%s\tlast=%s\texpires=%s\n' "$@"
}

# stats GREYLISTED PASSED COUNTING WHITELISTED TOTAL - expected stats
stats() {
	printf 'triplets_greylisted %s\ntriplets_passed %s\n' "$1" "$2"
	printf 'identities_counting %s\nidentities_whitelisted %s\n' "$3" "$4"
	printf 'total %s\n' "$5"
}

# absent PATH - nothing exists at PATH, nor at PATH followed by anything
# (LMDB's -lock file, for instance)
absent() {
	local f
	for f in "$1" "$1"*; do
		[ -e "$f" ] && return 1
	done
	return 0
}

# conf FILE TEXT... - write a config file, one line per argument
conf() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

T1=1700000000		# 2023-11-14T22:13:20Z
T2=1700000300		# 2023-11-14T22:18:20Z
E1=4102444800		# 2100-01-01T00:00:00Z
E2=4102488245		# 2100-01-01T12:04:05Z
PAST=1000000000		# 2001-09-09T01:46:40Z: expired
S1=2023-11-14T22:13:20Z
S2=2023-11-14T22:18:20Z
SE1=2100-01-01T00:00:00Z
SE2=2100-01-01T12:04:05Z

KG='t 192.0.2.0/24 a@example.com b@example.org'
KP='t 192.0.2.0/24 c@example.com b@example.org'
KN='t @example.net <> postmaster@example.org'
KC='c 192.0.2.0/24'
KV6='c 2001:db8:1::/64'
KW='c @example.net'
KX='t 198.51.100.0/24 old@example.com b@example.org'
KXC='c 198.51.100.0/24'

# The records, "KEY<TAB>VALUE", deliberately not in key order; the last
# two have expired.
RECORDS="$KW	$E1 $T1 $T2 5
$KP	$E2 $T1 $T2 1
$KC	$E1 $T1 $T2 2
$KN	$E2 $T1 $T2 3
$KG	$E1 $T1 $T1 0
$KV6	$E2 0 $T2 4
$KX	$PAST $T1 $T1 0
$KXC	$PAST $T1 $T2 1"

L_C=$(line "$KC" counting 2 $S1 $S2 $SE1)
L_V6=$(line "$KV6" counting 4 1970-01-01T00:00:00Z $S2 $SE2)
L_V6W=$(line "$KV6" whitelisted 4 1970-01-01T00:00:00Z $S2 $SE2)
L_W=$(line "$KW" whitelisted 5 $S1 $S2 $SE1)
L_G=$(line "$KG" greylisted 0 $S1 $S1 $SE1)
L_P=$(line "$KP" passed 1 $S1 $S2 $SE2)
L_N=$(line "$KN" passed 3 $S1 $S2 $SE2)
ALL="$L_C
$L_V6
$L_W
$L_G
$L_P
$L_N"

# lmdb_seed PATH - a new LMDB store at PATH holding the lines of stdin
# ("KEY<TAB>VALUE"), in mdb_load's text form (key line, value line)
lmdb_seed() {
	tr '\t' '\n' >"$D/seed.txt"
	mdb_load -n -T -f "$D/seed.txt" "$1"
}

# lmdb_keys PATH - the keys in the store, one a line, in mdb_dump's
# printable form
lmdb_keys() {
	mdb_dump -n -p "$1" | sed -n '/^HEADER=END$/,/^DATA=END$/p' |
	    sed '1d;$d' | awk 'NR % 2 == 1' | sed 's/^ //'
}

# ================================================================ LMDB
G=$D/gl.lmdb
printf '%s\n' "$RECORDS" | lmdb_seed "$G" || setup_fail "mdb_load failed"
[ "$(lmdb_keys "$G" | wc -l)" = 8 ] || setup_fail "mdb_dump does not \
show the 8 seeded records"

gl -c "$D/empty.conf" -s "lmdb:$G" list
is "$RC" 0 "lmdb list: exit 0" || diag "$ERR"
is "$ERR" "" "lmdb list: nothing on stderr"
is "$OUT" "$ALL" "lmdb list: every live record in key order, exact lines"

gl -c "$D/empty.conf" -s "lmdb:$G" list 't 192.0.2.0/24 '
is "$OUT" "$L_G
$L_P" "lmdb list PREFIX: only the keys starting with it"
is "$RC" 0 "lmdb list PREFIX: exit 0"
gl -c "$D/empty.conf" -s "lmdb:$G" list 'c '
is "$OUT" "$L_C
$L_V6
$L_W" "lmdb list 'c ': the identities"
gl -c "$D/empty.conf" -s "lmdb:$G" list 't 198.51.100.0/24'
is "$RC:$OUT" "0:" "lmdb list: an expired record is not listed"
gl -c "$D/empty.conf" -s "lmdb:$G" list 'x nothing'
is "$RC:$OUT:$ERR" "0::" "lmdb list PREFIX that matches nothing: exit 0, no output"

gl -c "$D/empty.conf" -s "lmdb:$G" stats
is "$RC" 0 "lmdb stats: exit 0"
is "$OUT" "$(stats 1 2 2 1 6)" \
    "lmdb stats: counts per state and total; expired records not counted"

conf "$D/awl4.conf" '[greylist]' 'auto_whitelist_clients = 4'
gl -c "$D/awl4.conf" -s "lmdb:$G" list 'c '
is "$OUT" "$L_C
$L_V6W
$L_W" "auto_whitelist_clients = 4: an identity with count 4 is whitelisted"
gl -c "$D/awl4.conf" -s "lmdb:$G" stats
is "$OUT" "$(stats 1 2 1 2 6)" "auto_whitelist_clients = 4: stats"
conf "$D/awl0.conf" '[greylist]' 'auto_whitelist_clients = 0'
gl -c "$D/awl0.conf" -s "lmdb:$G" stats
is "$OUT" "$(stats 1 2 3 0 6)" \
    "auto_whitelist_clients = 0: no identity is whitelisted"
gl -c "$D/awl0.conf" -s "lmdb:$G" show "$KW"
is "$OUT" "$(line "$KW" counting 5 $S1 $S2 $SE1)" \
    "auto_whitelist_clients = 0: count 5 is still counting"

gl -c "$D/empty.conf" -s "lmdb:$G" show "$KN" "$KG"
is "$RC" 0 "lmdb show two keys: exit 0" || diag "$ERR"
is "$OUT" "$L_N
$L_G" "lmdb show: their lines, in the order asked"
is "$ERR" "" "lmdb show: nothing on stderr"
gl -c "$D/empty.conf" -s "lmdb:$G" show "$KC" 't nope x y' "$KW"
is "$RC" 1 "lmdb show with a missing key: exit 1"
is "$OUT" "$L_C
$L_W" "... the others are still shown"
is "$ERR" "posternctl greylist show: t nope x y: no such record" \
    "... and the missing one is named on stderr"
gl -c "$D/empty.conf" -s "lmdb:$G" show "$KX"
is "$RC:$OUT" "1:" "lmdb show of an expired record: exit 1, no output"
is "$ERR" "posternctl greylist show: $KX: no such record" \
    "... named as missing"

gl -c "$D/empty.conf" -s "lmdb:$G" delete "$KV6"
is "$RC:$OUT:$ERR" "0::" "lmdb delete: exit 0, silent"
gl -c "$D/empty.conf" -s "lmdb:$G" show "$KV6"
is "$RC" 1 "... show no longer finds it"
unlike "$(lmdb_keys "$G")" "^c 2001:db8:1::/64\$" "... and it is gone from the file"
gl -c "$D/empty.conf" -s "lmdb:$G" delete "$KV6"
is "$RC" 1 "lmdb delete of a missing key: exit 1"
is "$ERR" "posternctl greylist delete: $KV6: no such record" \
    "... named on stderr"
gl -c "$D/empty.conf" -s "lmdb:$G" delete "$KN" 't nope x y'
is "$RC" 1 "lmdb delete of a present and a missing key: exit 1"
is "$ERR" "posternctl greylist delete: t nope x y: no such record" \
    "... only the missing one is named"
unlike "$(lmdb_keys "$G")" "^t @example\.net " "... the present one is deleted"

gl -c "$D/empty.conf" -s "lmdb:$G" flush 't 192.0.2.0/24 '
is "$RC" 0 "lmdb flush PREFIX: exit 0" || diag "$ERR"
is "$OUT" "2 records deleted" "lmdb flush PREFIX: the count"
KEYS=$(lmdb_keys "$G")
unlike "$KEYS" '^t 192\.0\.2\.0/24 ' "... those records are gone from the file"
like "$KEYS" '^c 192\.0\.2\.0/24$' "... others are still there"
gl -c "$D/empty.conf" -s "lmdb:$G" list
is "$OUT" "$L_C
$L_W" "... list shows what is left"
gl -c "$D/empty.conf" -s "lmdb:$G" flush 'x nothing'
is "$RC:$OUT" "0:0 records deleted" "lmdb flush of nothing: 0 records, exit 0"
gl -c "$D/empty.conf" -s "lmdb:$G" flush
is "$RC" 0 "lmdb flush everything: exit 0"
# the two expired records may have been swept by an earlier write
like "$OUT" '^[234] records deleted$' \
    "lmdb flush everything: the live records and what is left of the expired"
is "$(lmdb_keys "$G")" "" "... the file holds no record any more"
gl -c "$D/empty.conf" -s "lmdb:$G" stats
is "$RC:$OUT" "0:$(stats 0 0 0 0 0)" "lmdb stats of an empty store: zeros"
gl -c "$D/empty.conf" -s "lmdb:$G" list
is "$RC:$OUT" "0:" "lmdb list of an empty store: exit 0, no output"

# A record the module would never write: another kind of key, a byte
# outside 0x20..0x7e (mdb_load's \09 is a tab). The lines stay lines.
G2=$D/foreign.lmdb
printf 'zz foreign\n%s\nt tab\\09key x y\n%s\n' "$E1 $T1 $T2 7" \
    "$E1 $T1 $T1 0" >"$D/seed2.txt"
mdb_load -n -T -f "$D/seed2.txt" "$G2" || setup_fail "mdb_load failed"
gl -c "$D/empty.conf" -s "lmdb:$G2" list
is "$OUT" "$(line 't tab%09key x y' greylisted 0 $S1 $S1 $SE1)
$(line 'zz foreign' unknown 7 $S1 $S2 $SE1)" \
    "foreign keys: listed with state unknown, control bytes as %XX"
gl -c "$D/empty.conf" -s "lmdb:$G2" stats
is "$OUT" "$(stats 1 0 0 0 2)" "foreign keys: in the total only"

# -------------------------------------------------- missing LMDB stores
gl -c "$D/empty.conf" -s "lmdb:$D/missing.lmdb" list
is "$RC" 2 "a missing LMDB store: exit 2"
like "$ERR" "^posternctl greylist: lmdb:$D/missing\\.lmdb: " \
    "... the error names the store"
is "$OUT" "" "... nothing on stdout"
gl -c "$D/empty.conf" -s "lmdb:$D/missing.lmdb" stats
is "$RC" 2 "a missing LMDB store, stats: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$D/missing.lmdb" show "$KG"
is "$RC" 2 "a missing LMDB store, show KEY: exit 2 (not 1)"
gl -c "$D/empty.conf" -s "lmdb:$D/missing.lmdb" flush
is "$RC" 2 "a missing LMDB store, flush: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$D/missing.lmdb" delete "$KG"
is "$RC" 2 "a missing LMDB store, delete KEY: exit 2 (not 1)"
check "... and no file was created for it" absent "$D/missing.lmdb"
gl -c "$D/empty.conf" -s "lmdb:$D/nodir/gl.lmdb" flush
is "$RC" 2 "an LMDB store in a missing directory: exit 2"
check "... the directory was not created" absent "$D/nodir"

if [ ! -e /var/lib/postern/greylist.lmdb ]; then
	gl -c "$D/empty.conf" stats
	is "$RC" 2 "no store setting: the default store, missing here: exit 2"
	like "$ERR" 'lmdb:/var/lib/postern/greylist\.lmdb' \
	    "... the error names the default store"
	check "... the default store was not created" \
	    absent /var/lib/postern/greylist.lmdb
fi
if [ ! -e /etc/postern/filterd.conf ]; then
	printf '%s\n' "$RECORDS" | lmdb_seed "$D/again.lmdb"
	gl -s "lmdb:$D/again.lmdb" stats
	is "$RC:$OUT" "0:$(stats 1 2 2 1 6)" \
	    "no -c and no /etc/postern/filterd.conf: built-in defaults"
fi

# ================================================================ Redis
SOCK=$D/redis.sock
BG_LOG=$D/redis.log start_bg redis redis-server --port 0 \
    --unixsocket "$SOCK" --unixsocketperm 700 --dir "$D" --save '' \
    --appendonly no --daemonize no
REDIS_PID=$BG_PID
for ((i = 0; i < 100; i++)); do
	[ "$(redis-cli -s "$SOCK" ping 2>/dev/null)" = PONG ] && break
	kill -0 "$REDIS_PID" 2>/dev/null || break
	sleep 0.1
done
[ "$(redis-cli -s "$SOCK" ping 2>/dev/null)" = PONG ] || {
	diag_file "$D/redis.log"
	setup_fail "redis-server does not answer on $SOCK"
}

# rset [-n DB] KEY VALUE - one key written straight into Redis
rset() {
	redis-cli -s "$SOCK" "$@" >/dev/null
}
# rexists KEY - 1 when Redis has the key, else 0
rexists() {
	redis-cli -s "$SOCK" exists "$1"
}
# redis_seed PREFIX - the records of RECORDS under PREFIX
redis_seed() {
	local key value
	while IFS=$'\t' read -r key value; do
		rset set "$1$key" "$value"
	done <<<"$RECORDS"
}

redis_seed 'postern:greylist:'
rset set 'site2:c 203.0.113.0/24' "$E1 $T1 $T2 1"
rset set 'unrelated:key' 'not a greylist record'
rset -n 3 set 'postern:greylist:t 203.0.113.0/24 db3@example.com b@example.org' \
    "$E1 $T1 $T1 0"
L_S2=$(line 'c 203.0.113.0/24' counting 1 $S1 $S2 $SE1)

conf "$D/r1.conf" '[greylist]' "store = redis:unix:$SOCK"
conf "$D/r2.conf" 'pipeline = greylist' '' '[greylist]' \
    "store = redis:unix:$SOCK" 'key_prefix = site2:' 'delay = 1m'

gl -c "$D/r1.conf" list
is "$RC" 0 "redis list: exit 0" || diag "$ERR"
is "$ERR" "" "redis list: nothing on stderr"
is "$OUT" "$ALL" \
    "redis list (store from -c, default key_prefix): every live record, sorted"
gl -c "$D/r1.conf" list 'c '
is "$OUT" "$L_C
$L_V6
$L_W" "redis list PREFIX: only the keys starting with it"
gl -c "$D/r1.conf" stats
is "$RC:$OUT" "0:$(stats 1 2 2 1 6)" \
    "redis stats: other prefixes and expired records not counted"
gl -c "$D/r1.conf" show "$KP" 't nope x y'
is "$RC" 1 "redis show with a missing key: exit 1"
is "$OUT" "$L_P" "... the present one is shown"
is "$ERR" "posternctl greylist show: t nope x y: no such record" \
    "... the missing one is named"
gl -c "$D/r1.conf" show "$KXC"
is "$RC:$OUT" "1:" "redis show of an expired record: exit 1"

gl -c "$D/r2.conf" list
is "$RC:$OUT" "0:$L_S2" "key_prefix from -c: only that prefix's records"
gl -c "$D/r1.conf" -p site2: list
is "$RC:$OUT" "0:$L_S2" "-p overrides the key prefix"
gl -c "$D/r2.conf" -p postern:greylist: list
is "$OUT" "$ALL" "-p overrides key_prefix from -c"
gl -c "$D/empty.conf" -s "redis:unix:$SOCK" list
is "$OUT" "$ALL" "-s names the store; the default key_prefix applies"
printf '%s\t%s\n' "$KW" "$E1 $T1 $T2 5" | lmdb_seed "$D/other.lmdb"
gl -c "$D/r1.conf" -s "lmdb:$D/other.lmdb" list
is "$RC:$OUT" "0:$L_W" "-s overrides store from -c"

conf "$D/r3.conf" '[greylist]' "store = redis:unix:$SOCK" \
    'redis_database = 3'
gl -c "$D/r3.conf" list
is "$RC:$OUT" "0:$(line 't 203.0.113.0/24 db3@example.com b@example.org' \
    greylisted 0 $S1 $S1 $SE1)" "redis_database selects the database"

gl -c "$D/r1.conf" delete "$KW"
is "$RC:$OUT:$ERR" "0::" "redis delete: exit 0, silent"
is "$(rexists "postern:greylist:$KW")" 0 "... the key is gone from Redis"
gl -c "$D/r1.conf" delete "$KW"
is "$RC" 1 "redis delete of a missing key: exit 1"
is "$ERR" "posternctl greylist delete: $KW: no such record" \
    "... named on stderr"
gl -c "$D/r1.conf" flush 't 192.0.2.0/24 '
is "$RC:$OUT" "0:2 records deleted" "redis flush PREFIX: the count"
is "$(rexists "postern:greylist:$KG")$(rexists "postern:greylist:$KP")" 00 \
    "... those keys are gone from Redis"
is "$(rexists "postern:greylist:$KN")" 1 "... others are still there"
gl -c "$D/r1.conf" list
is "$OUT" "$L_C
$L_V6
$L_N" "... list shows what is left"
gl -c "$D/r1.conf" flush
is "$RC" 0 "redis flush everything: exit 0"
is "$OUT" "5 records deleted" \
    "redis flush everything: live and expired records of the prefix"
is "$(redis-cli -s "$SOCK" --scan --pattern 'postern:greylist:*')" "" \
    "... no key with the prefix is left"
is "$(rexists 'site2:c 203.0.113.0/24')$(rexists 'unrelated:key')" 11 \
    "... keys under other prefixes are untouched"
is "$(redis-cli -s "$SOCK" -n 3 dbsize)" 1 "... other databases are untouched"
gl -c "$D/r1.conf" stats
is "$RC:$OUT" "0:$(stats 0 0 0 0 0)" "redis stats after flush: zeros"

redis-cli -s "$SOCK" config set requirepass 'se cret' >/dev/null
conf "$D/r4.conf" '[greylist]' "store = redis:unix:$SOCK" \
    'key_prefix = site2:' 'redis_password = se cret'
gl -c "$D/r4.conf" list
is "$RC:$OUT" "0:$L_S2" "redis_password: AUTH with it"
gl -c "$D/r2.conf" list
is "$RC:$OUT" "2:" "a Redis that wants a password, none given: exit 2"
like "$ERR" "^posternctl greylist: redis:unix:$D/redis\\.sock: " \
    "... the error names the store"

stop_pid "$REDIS_PID"
gl -c "$D/r1.conf" list
is "$RC:$OUT" "2:" "a Redis that is gone: exit 2, no output"
like "$ERR" "^posternctl greylist: redis:unix:$D/redis\\.sock: " \
    "... the error names the store"
gl -c "$D/empty.conf" -s "redis:unix:$D/nosuch.sock" stats
is "$RC:$OUT" "2:" "a socket that does not exist: exit 2"
gl -c "$D/empty.conf" -s "redis:unix:$D/nosuch.sock" flush
is "$RC" 2 "... also for flush"

# ================================================================ config
conf "$D/bad.conf" 'pipeline = greylist' '[greylist]' \
    'store_timeout = soon' 'delay = whenever' \
    'auto_whitelist_clients = many'
gl -c "$D/bad.conf" -s "lmdb:$G" list
is "$RC:$OUT" "2:" "bad values in [greylist]: exit 2, no output"
is "$ERR" "posternctl greylist: $D/bad.conf:3: bad value 'soon' for 'store_timeout': expected a duration such as 30s, 5m, 2h, 1d
posternctl greylist: $D/bad.conf:4: bad value 'whenever' for 'delay': expected a duration such as 30s, 5m, 2h, 1d
posternctl greylist: $D/bad.conf:5: bad value 'many' for 'auto_whitelist_clients': expected a non-negative integer (leading 0 for octal)" \
    "... each named FILE:LINE (read with the module's own settings table)"
conf "$D/bad2.conf" '[greylist]' 'store = /var/lib/greylist.lmdb'
gl -c "$D/bad2.conf" list
is "$RC" 2 "a store without a type: exit 2"
like "$ERR" "^posternctl greylist: $D/bad2\\.conf:2: bad value '/var/lib/greylist\\.lmdb' for 'store'" \
    "... named FILE:LINE"
conf "$D/bad3.conf" '[greylist]' 'redis_database = -1'
gl -c "$D/bad3.conf" -s "lmdb:$G" stats
is "$RC" 2 "a bad redis_database: exit 2"
like "$ERR" "$D/bad3\\.conf:2: bad value '-1' for 'redis_database'" \
    "... named FILE:LINE"
conf "$D/bad4.conf" '[greylist]' 'this is not a setting'
gl -c "$D/bad4.conf" -s "lmdb:$G" stats
is "$RC" 2 "a syntax error in the file: exit 2"
like "$ERR" "$D/bad4\\.conf:2: " "... named FILE:LINE"
gl -c "$D/nope.conf" -s "lmdb:$G" stats
is "$RC" 2 "-c FILE that does not exist: exit 2"
is "$ERR" "posternctl greylist: $D/nope.conf: cannot open: No such file or directory" \
    "... naming it"
gl -c "$D/empty.conf" -s nowhere stats
is "$RC" 2 "-s without a store type: exit 2"
like "$ERR" 'nowhere' "... naming it"

# ================================================================ usage
gl
is "$RC" 2 "no command: exit 2"
like "$ERR" '^usage:' "... with the usage"
like "$ERR" 'posternctl greylist \[-c FILE\] \[-s STORE\] \[-p PREFIX\] list \[PREFIX\]' \
    "... which shows the options"
gl frobnicate
is "$RC" 2 "an unknown command: exit 2"
like "$ERR" "unknown command 'frobnicate'" "... named"
gl -c "$D/empty.conf" -s "lmdb:$G" show
is "$RC" 2 "show without a key: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$G" delete
is "$RC" 2 "delete without a key: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$G" list a b
is "$RC" 2 "list with two prefixes: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$G" flush a b
is "$RC" 2 "flush with two prefixes: exit 2"
gl -c "$D/empty.conf" -s "lmdb:$G" stats x
is "$RC" 2 "stats with an argument: exit 2"
gl -x -s "lmdb:$G" list
is "$RC" 2 "an unknown option: exit 2"
gl -c "$D/empty.conf" list -s "lmdb:$G"
is "$RC" 2 "an option after the command: exit 2"
like "$ERR" '^usage:' "... with the usage"
gl -c
is "$RC" 2 "-c without a file: exit 2"

done_testing
