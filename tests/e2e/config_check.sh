#!/bin/bash
# config_check.sh - postern-filterd -n: a good config exits 0 and prints the
# effective settings (without opening the socket or writing the pid file);
# a missing config file exits 1 naming the file.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
mktmp_var D e2e-config
PORT=$(free_port)

cat >"$D/good.conf" <<EOF
# a good config: comments, continuation lines, a section
socket        = inet:$PORT@127.0.0.1
pid_file      = $D/filterd.pid
pipeline      = access
authserv_id   = mx.example.com
mynetworks    = 127.0.0.1/32,
	10.0.0.0/8

[access]
relay_domains = ours.example
local_domains = mx.example.com
sender_restrictions = check_sender_access
	inline:{ a@b.example=REJECT }
EOF

"$FILTERD" -n -c "$D/good.conf" >"$D/out" 2>"$D/err"
rc=$?
is "$rc" 0 "-n with a good config exits 0" || diag_file "$D/err"
OUT=$(cat "$D/out")
like "$OUT" "^socket = inet:$PORT@127\.0\.0\.1\$" \
    "-n prints 'socket = inet:$PORT@127.0.0.1'"
like "$OUT" '^authserv_id = mx\.example\.com$' "-n prints authserv_id"
like "$OUT" '^pipeline = .*access' "-n prints the pipeline"
like "$OUT" '^mynetworks = .*127\.0\.0\.1/32.*10\.0\.0\.0/8' \
    "-n prints the continued mynetworks value"
like "$OUT" '^delay_reject = yes$' "-n prints defaults (delay_reject = yes)"
like "$OUT" '^relay_domains = .*ours\.example' \
    "-n prints module settings (relay_domains)"
like "$OUT" '^sender_restrictions = .*check_sender_access.*inline:\{ ?a@b\.example=REJECT ?\}' \
    "-n prints the continued sender_restrictions value"
if [ -s "$D/err" ]; then
	diag "stderr of -n (expected empty):"
	diag "$(head -n 10 "$D/err")"
fi
[ -e "$D/filterd.pid" ] && not_ok "-n writes no pid file" ||
    ok "-n writes no pid file"
port_listening "$PORT" && not_ok "-n leaves no socket open" ||
    ok "-n leaves no socket open"

# Missing config file, with and without -n
"$FILTERD" -n -c "$D/nope.conf" >"$D/out2" 2>&1
is "$?" 1 "-n with a missing file exits 1"
like "$(cat "$D/out2")" "$D/nope\.conf" "the message names the missing file"
timeout 10 "$FILTERD" -f -c "$D/nope.conf" >"$D/out3" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
    ok "start with a missing file exits non-zero ($rc)" ||
    not_ok "start with a missing file exits non-zero (got $rc)"
like "$(cat "$D/out3")" "$D/nope\.conf" "the start error names the file"

# An unknown option is a usage error, not a start
timeout 10 "$FILTERD" -Z >"$D/out4" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
    ok "unknown option exits non-zero ($rc)" ||
    not_ok "unknown option exits non-zero (got $rc)"

done_testing
