#!/bin/bash
# spamd.sh - the spamd module as part of a real Postfix's milter, with a
# real spamd (Debian's) on a loopback port whose only rule scores a
# marker string 10 points: a marked message is spam (headers, subject
# tag, its score in the pipeline's total), a clean one is ham, mail from
# an authenticated-looking client is not sent (skip_mynetworks), and
# spamd stopped mid-run follows on_failure (the default: no opinion, the
# mail flows unscored; tempfail where configured).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ "$(id -u)" = 0 ] || setup_fail "must run as root (private Postfix)"
command -v spamd >/dev/null || setup_fail "spamd is not installed"
command -v swaks >/dev/null || setup_fail "swaks is not installed"

mktmp_var D e2e-spamd
SINK_PORT=$(free_port)
PF_PORT=$(free_port)
SPAMD_PORT=$(free_port)
FA=$(free_port)		# on_failure default (no opinion)
FT=$(free_port)		# on_failure = tempfail
MARK=xyzzy-spam-marker

start_spamd "$D/spamd" "$SPAMD_PORT" "body POSTERN_MARK /$MARK/
score POSTERN_MARK 10.0
describe POSTERN_MARK the test marker" || setup_fail "spamd does not start"
start_sink "$D" "$SINK_PORT" || setup_fail "smtp-sink does not start"

# filterd NAME PORT EXTRA - a filterd with the spamd module
filterd() {
	mkdir -p "$D/$1"
	start_filterd "$D/$1" "socket        = inet:$2@127.0.0.1
user          = nobody
pid_file      =
pipeline      = spamd
authserv_id   = mx.example.com
mynetworks    = 10.0.0.0/8

[spamd]
servers       = 127.0.0.1:$SPAMD_PORT
subject_tag   = [SPAM]
score_scale   = 0.5
timeout       = 20s
$3

[scoring]
add_header    = 0.1" || setup_fail "postern-filterd ($1) does not start"
}
filterd fa "$FA" ""
LOG_FA=$FILTERD_LOG
filterd ft "$FT" "on_failure    = tempfail"
LOG_FT=$FILTERD_LOG
start_postfix "$D/pf" "$PF_PORT" \
    "smtpd_milters = inet:127.0.0.1:$FA, inet:127.0.0.1:$FT" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix does not start"

# send SUBJECT BODY - one message through Postfix
send() {
	smtp 127.0.0.1 sender@example.org user@example.com \
	    --header "Subject: $1" --body "$2"
}

# data_reply - Postfix's answer to the end of DATA
data_reply() {
	smtp_replies | tail -n 2 | head -n 1
}

# header_of FILE NAME - the header's lines, folds joined, CR removed
header_of() {
	tr -d '\r' <"$1" | sed '/^$/q' | awk -v n="$2" '
		tolower($0) ~ "^" tolower(n) ":" { on = 1; printf "%s", $0; next }
		on && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		on { on = 0; print "" }'
}

# --- spam and ham --------------------------------------------------------------

send "you won" "Claim it now: $MARK
Regards"
like "$(data_reply)" "^250 " "a marked message is accepted (no reject_score)"
f=$(sink_find "you won" 20)
if [ -n "$f" ]; then
	like "$(header_of "$f" X-Spam-Status)" \
	    "^X-Spam-Status: Yes, score=1[0-9]\\.[0-9] required=5\\.0 tests=.*POSTERN_MARK" \
	    "spam: X-Spam-Status Yes with the score and the rule"
	like "$(header_of "$f" X-Spam-Flag)" "^X-Spam-Flag: YES" \
	    "spam: X-Spam-Flag: YES"
	like "$(header_of "$f" Subject)" "^Subject: \\[SPAM\\] you won" \
	    "spam: the subject is tagged"
	# two filterds each score it: score_scale 0.5 of 10+ each
	like "$(header_of "$f" X-Postern-Score)" \
	    "^X-Postern-Score: [56]\\.[0-9]+ \\(spamd:DUNNO\\(\\+[56]\\.[0-9]+\\)\\)" \
	    "spam: the score reaches the pipeline, scaled by score_scale"
else
	not_ok "the marked message is delivered"
fi
like "$(cat "$LOG_FA")" "filterd: action=accept .* modules=spamd:DUNNO\\(\\+[56]" \
    "spam: the summary line shows spamd's share"

send "lunch" "Noon at the usual place?"
f=$(sink_find "Subject: lunch" 20)
if [ -n "$f" ]; then
	like "$(header_of "$f" X-Spam-Status)" "^X-Spam-Status: No, score=" \
	    "ham: X-Spam-Status No"
	is "$(header_of "$f" X-Spam-Flag)" "" "ham: no X-Spam-Flag"
	is "$(header_of "$f" Subject)" "Subject: lunch" "ham: subject untouched"
else
	not_ok "the clean message is delivered"
fi

# --- spamd gone --------------------------------------------------------------

stop_spamd
send "while spamd is down" "$MARK again"
like "$(data_reply)" "^451 4\\.3\\.0 " \
    "spamd down: the tempfail filter defers (on_failure = tempfail)"
like "$(cat "$LOG_FT")" "module spamd failed at eom .*on_failure=tempfail" \
    "spamd down: logged with on_failure"
like "$(cat "$LOG_FA")" "spamd: .*127\\.0\\.0\\.1:$SPAMD_PORT.*(refused|connect)" \
    "spamd down: the server is named in the log"

# without the tempfail filter the mail flows, unscored
postfix_stop "$PF_CONF"
start_postfix "$D/pf2" "$(free_port)" \
    "smtpd_milters = inet:127.0.0.1:$FA" \
    "milter_default_action = tempfail" ||
    setup_fail "private Postfix (2) does not start"
send "no opinion" "$MARK once more"
like "$(data_reply)" "^250 " "spamd down: on_failure default (no opinion) lets it pass"
f=$(sink_find "Subject: no opinion" 20)
if [ -n "$f" ]; then
	is "$(header_of "$f" X-Spam-Status)" "" "spamd down: no X-Spam-Status"
else
	not_ok "spamd down: the message is delivered"
fi
like "$(cat "$LOG_FA")" "module spamd failed at eom .*on_failure=accept" \
    "spamd down: logged with on_failure=accept"

unlike "$(cat "$LOG_FA" "$LOG_FT")" "AddressSanitizer|runtime error:|panic" \
    "no sanitizer report, no panic"
done_testing
