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

# cpu_us PID... - utime + stime of the processes in microseconds
cpu_us() {
	local p
	for p in "$@"; do
		cat "/proc/$p/stat"
	done | awk -v hz="$(getconf CLK_TCK)" '{
		sub(/.*\) /, "");	# fields after the command name
		t += $12 + $13 } END { printf "%d\n", t * 1000000 / hz }'
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

# bench_rounds - the measured runs: RUNS rounds, each configuration of
# CONFIGS in turn (so noisy phases hit all of them), each one
# "run_once NAME COUNT ROUND" (defined by the script; NAME is
# "CONFIG run ROUND"). A script may define bench_before CONFIG, called
# before each run outside the timing. Fills ACC[c] and E2E[c] (rates,
# space separated) and CPUSUM[c] (CPU microseconds of the process
# CPID[c] (one or more PIDs), if set, over the runs); a failed run is reported and left out.
bench_rounds() {
	local r c pid
	declare -gA ACC E2E CPU0 CPUSUM
	for c in "${CONFIGS[@]}"; do
		ACC[$c]=
		E2E[$c]=
		CPUSUM[$c]=0
	done
	for ((r = 1; r <= RUNS; r++)); do
		for c in "${CONFIGS[@]}"; do
			if declare -F bench_before >/dev/null; then
				bench_before "$c" ||
				    setup_fail "preparing $c run $r failed"
			fi
			pid=${CPID[$c]:-}
			# shellcheck disable=SC2086
			[ -n "$pid" ] && CPU0[$c]=$(cpu_us $pid)
			if ! run_once "$c run $r" "$MESSAGES" "$r"; then
				not_ok "$c run $r"
				continue
			fi
			if [ -n "$pid" ]; then
				# shellcheck disable=SC2086
				CPUSUM[$c]=$((CPUSUM[$c] + $(cpu_us $pid) -
				    CPU0[$c]))
			fi
			ACC[$c]+="$ACCEPT_RATE "
			E2E[$c]+="$E2E_RATE "
			diag "$(printf 'run %d %-14s accept %8s msg/s  e2e %8s msg/s' \
			    "$r" "$c" "$ACCEPT_RATE" "$E2E_RATE")"
		done
	done
}

# bench_median CONFIG KIND - median of ACC or E2E of a configuration
bench_median() {
	local -n rates=$2
	# shellcheck disable=SC2086
	printf '%s\n' ${rates[$1]} | median
}

# bench_table BASE [OTHER] - one line per configuration: median rates,
# their ratio to configuration BASE (and to OTHER, e.g. a null milter or
# a peer), and the milter's CPU microseconds per message
bench_table() {
	local base=$1 other=${2:-} c acc e2e cpu
	local b_acc b_e2e o_acc o_e2e
	b_acc=$(bench_median "$base" ACC)
	b_e2e=$(bench_median "$base" E2E)
	if [ -n "$other" ]; then
		o_acc=$(bench_median "$other" ACC)
		o_e2e=$(bench_median "$other" E2E)
	fi
	printf '%-14s %12s %12s %8s %8s' config accept_msg/s e2e_msg/s \
	    accept_x e2e_x
	[ -n "$other" ] && printf ' %14s' "acc/e2e_vs_$other"
	printf ' %14s\n' milter_us/msg
	for c in "${CONFIGS[@]}"; do
		acc=$(bench_median "$c" ACC)
		e2e=$(bench_median "$c" E2E)
		cpu=-
		if [ -n "${CPID[$c]:-}" ]; then
			cpu=$(awk -v us="${CPUSUM[$c]}" \
			    -v n=$((RUNS * MESSAGES)) \
			    'BEGIN { printf "%.0f", us / n }')
		fi
		printf '%-14s %12s %12s %8s %8s' "$c" "$acc" "$e2e" \
		    "$(ratio "$acc" "$b_acc")" "$(ratio "$e2e" "$b_e2e")"
		[ -n "$other" ] && printf ' %14s' \
		    "$(ratio "$acc" "$o_acc")/$(ratio "$e2e" "$o_e2e")"
		printf ' %14s\n' "$cpu"
	done
}
