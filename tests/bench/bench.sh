# tests/bench/bench.sh - helpers shared by the Postfix benchmarks
# (milter-overhead, dns-policies); sourced after tests/lib.sh. Expects D
# (the run's temp dir).

# now - wall clock seconds with microseconds
now() {
	printf '%s\n' "$EPOCHREALTIME"
}

# median - middle value of the numbers on stdin
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B - A / B with two decimals
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# cpu_us PID - utime + stime of a process in microseconds
cpu_us() {
	awk -v hz="$(getconf CLK_TCK)" '{
		sub(/.*\) /, "");	# fields after the command name
		printf "%d\n", ($12 + $13) * 1000000 / hz }' "/proc/$1/stat"
}

# queue_busy DIR - messages still waiting in an instance's queue
queue_busy() {
	find "$1"/spool/incoming "$1"/spool/active "$1"/spool/maildrop \
	    -type f 2>/dev/null | head -n 1 | grep -q .
}

# queue_deferred DIR - number of deferred or held messages
queue_deferred() {
	find "$1"/spool/deferred "$1"/spool/hold -type f 2>/dev/null | wc -l
}

# start_fast_sink PORT - smtp-sink that keeps nothing; sets SINK_PORT,
# which start_postfix uses as the relayhost
start_fast_sink() {
	# shellcheck disable=SC2034
	SINK_PORT=$1
	BG_LOG=$D/sink.log start_bg sink \
	    smtp-sink -u nobody -h sink.example "127.0.0.1:$1" 256
	wait_port "$1" 10
}

# timed_run NAME DIR COUNT COMMAND... - run the sending COMMAND against a
# Postfix instance whose files are in DIR, then wait for its queue to
# drain; sets ACCEPT_RATE (COUNT / time until COMMAND ended) and E2E_RATE
# (COUNT / time until the queue was empty); 1 on any failure: COMMAND
# failed or printed anything (smtp-source) or more than its figures
# (smtpload), Postfix logged a rejection, a message was deferred or held
timed_run() {
	local name=$1 dir=$2 count=$3 t0 t1 t2 out i before
	shift 3
	before=$(grep -c 'reject' "$dir/maillog")
	t0=$(now)
	if ! out=$("$@" 2>&1); then
		diag "$name: $1 failed: $out"
		return 1
	fi
	t1=$(now)
	for ((i = 0; i < 3000; i++)); do
		queue_busy "$dir" || break
		sleep 0.02
	done
	t2=$(now)
	if queue_busy "$dir"; then
		diag "$name: queue not empty after 60 s"
		return 1
	fi
	if [ "$(queue_deferred "$dir")" -ne 0 ]; then
		diag "$name: messages deferred or held"
		diag_file "$dir/maillog" 10
		return 1
	fi
	out=$(printf '%s\n' "$out" | grep -Ev '^(messages|seconds|rate): ')
	if [ -n "$out" ] || [ "$(grep -c 'reject' "$dir/maillog")" != \
	    "$before" ]; then
		diag "$name: rejections during the run: $out"
		diag_file "$dir/maillog" 10
		return 1
	fi
	ACCEPT_RATE=$(awk -v n="$count" -v a="$t0" -v b="$t1" \
	    'BEGIN { printf "%.1f", n / (b - a) }')
	E2E_RATE=$(awk -v n="$count" -v a="$t0" -v b="$t2" \
	    'BEGIN { printf "%.1f", n / (b - a) }')
	return 0
}
