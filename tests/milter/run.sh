#!/bin/bash
# tests/milter/run.sh - the miltertest scripts against postern-filterd
#
# Usage: tests/milter/run.sh [NAME...]   (default: every NAME.lua here)
#
# For each tests/milter/NAME.lua (common.lua is a library, not a test):
# write NAME.conf into a fresh temp dir with @PORT@ (a free port on
# 127.0.0.1), @DIR@ (the temp dir), @TOP@ (the source tree) and @DNS@ (a
# private nsd serving tests/data/zones, started once for the first script
# that asks) filled in, start
# "$BUILD/filterd/postern-filterd -f -c DIR/filterd.conf" (log in
# DIR/filterd.log), run
#	miltertest -s NAME.lua -D port=PORT -D dir=DIR -D log=LOG
#	    -D srcdir=tests/milter -D probe=tests/milter/replytext.py
# and stop filterd. Prints "ok - NAME" or "not ok - NAME" (with the
# transcript and the end of filterd's log as "# " lines); exits 1 if any
# script failed. MILTERTEST_VERBOSE=1 passes -v to miltertest.

. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

HERE=$TOP/tests/milter
need_filterd
command -v miltertest >/dev/null || setup_fail "miltertest not installed"

if [ $# -gt 0 ]; then
	names=("$@")
else
	names=()
	for f in "$HERE"/*.lua; do
		n=$(basename "$f" .lua)
		[ "$n" = common ] || names+=("$n")
	done
fi

verbose=()
[ "${MILTERTEST_VERBOSE:-0}" = 1 ] && verbose=(-v)

DNS=

# need_dns - DNS: the address of the private nsd, started on first use
need_dns() {
	local dir
	[ -n "$DNS" ] && return 0
	mktmp_var dir milter-nsd || return 1
	start_nsd "$dir" || return 1
	DNS=127.0.0.1@$NSD_PORT
}

# run_script NAME - one script against its own filterd; 0 when it passed
run_script() {
	local name=$1 dir port rc
	if [ ! -r "$HERE/$name.lua" ] || [ ! -r "$HERE/$name.conf" ]; then
		diag "$name: $HERE/$name.lua or $name.conf missing"
		return 1
	fi
	if grep -q '@DNS@' "$HERE/$name.conf" && ! need_dns; then
		diag "$name: nsd does not start"
		return 1
	fi
	mktmp_var dir "milter-$name" || return 1
	port=$(free_port)
	if ! start_filterd "$dir" "$(sed -e "s|@PORT@|$port|g" \
	    -e "s|@DIR@|$dir|g" -e "s|@DNS@|$DNS|g" -e "s|@TOP@|$TOP|g" "$HERE/$name.conf")"; then
		diag "$name: postern-filterd did not start"
		return 1
	fi
	(cd "$HERE" && miltertest "${verbose[@]}" -s "$name.lua" \
	    -D "port=$port" -D "dir=$dir" -D "log=$FILTERD_LOG" \
	    -D "srcdir=$HERE" -D "probe=$HERE/replytext.py") \
	    >"$dir/miltertest.out" 2>&1
	rc=$?
	if ! kill -0 "$FILTERD_PID" 2>/dev/null; then
		diag "$name: postern-filterd died during the script"
		rc=1
	fi
	stop_pid "$FILTERD_PID"
	if [ "$rc" -ne 0 ]; then
		diag_file "$dir/miltertest.out"
		diag_file "$FILTERD_LOG" 20
	fi
	return "$rc"
}

for name in "${names[@]}"; do
	if run_script "$name"; then
		ok "$name"
	else
		not_ok "$name"
	fi
done
done_testing
