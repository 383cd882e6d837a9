#!/bin/bash
# dmarc_tool.sh - posternctl dmarc report over a report store written in
# the store's format (policies/dmarc_store.h): the aggregate report XML
# read back with python3's xml.etree (documents, metadata, published
# policy, rows and their counts, auth results, escaping of hostile text),
# the period (-f/-t inclusive, default yesterday), -D, and the exit codes
# (0 reports, 1 no records, 2 errors with FILE:LINE for a malformed line).
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import xml.etree.ElementTree' 2>/dev/null ||
    setup_fail "python3 with xml.etree is needed"

mktmp_var D e2e-dmarc
S=$D/store
mkdir -p "$S"

# run CMD... - stdout in OUT, stderr in ERR, exit code in RC
run() {
	"$@" >"$D/out" 2>"$D/err"
	RC=$?
	OUT=$(cat "$D/out")
	ERR=$(cat "$D/err")
}

# summary - the reports on stdout ($D/out) as one line per element of
# interest, in document order; "BAD ..." when a document does not parse
summary() {
	PYTHONIOENCODING=utf-8 "$PY" - "$D/out" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET

text = open(sys.argv[1], encoding="utf-8").read()
docs = [d for d in text.split('<?xml version="1.0" encoding="UTF-8"?>\n')]
if docs[0] != "":
    print("BAD text before the first document")
for doc in docs[1:]:
    try:
        fb = ET.fromstring(doc)
    except ET.ParseError as e:
        print("BAD", e)
        continue
    t = lambda e, p: e.findtext(p)
    print("feedback", ",".join(c.tag for c in fb), "version=" +
          t(fb, "version"))
    m = fb.find("report_metadata")
    print("meta org=%s email=%s id=%s begin=%s end=%s" % (
        t(m, "org_name"), t(m, "email"), t(m, "report_id"),
        t(m, "date_range/begin"), t(m, "date_range/end")))
    p = fb.find("policy_published")
    print("policy " + " ".join("%s=%s" % (c.tag, c.text) for c in p))
    for r in fb.findall("record"):
        row = r.find("row")
        pe = row.find("policy_evaluated")
        reasons = ",".join(x.findtext("type") for x in pe.findall("reason"))
        dk = ";".join("%s/%s/%s" % (x.findtext("domain"),
                      x.findtext("selector") or "", x.findtext("result"))
                      for x in r.findall("auth_results/dkim"))
        sp = ";".join("%s/%s/%s" % (x.findtext("domain") or "",
                      x.findtext("scope"), x.findtext("result"))
                      for x in r.findall("auth_results/spf"))
        print("row ip=%s count=%s dis=%s dkim=%s spf=%s reason=%s "
              "from=%s | dkim=%s | spf=%s" % (
                  t(row, "source_ip"), t(row, "count"),
                  t(pe, "disposition"), t(pe, "dkim"), t(pe, "spf"),
                  reasons, t(r, "identifiers/header_from"), dk, sp))
PYEOF
}

# line TIME DOMAIN FROM P SP PCT IP DIS DKIM SPF REASON SPFDOM SPFRES DKIMS
# - one store line (version 1); adkim r, aspf r, fo 0, scope mfrom
line() {
	printf '1\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tr\tr\t0\t%s\t%s\t%s\t%s\t%s\tmfrom\t%s\t%s\n' \
	    "$1" "$7" "$3" "$2" "$4" "$5" "$6" "$8" "$9" "${10}" "${11}" \
	    "${12}" "${13}" "${14}"
}

T9=1709942400	# 2024-03-09
T10=1710028800	# 2024-03-10
T11=1710115200	# 2024-03-11

{
	line $((T9 + 10)) example.com example.com reject reject 100 \
	    192.0.2.1 none pass pass "" example.com pass example.com,s1,pass
	line $((T9 + 20)) example.com example.com reject reject 100 \
	    192.0.2.1 none pass pass "" example.com pass example.com,s1,pass
} >"$S/2024-03-09.log"
{
	for i in 1 2 3; do
		line $((T10 + i)) example.com example.com reject reject 100 \
		    192.0.2.1 none pass pass "" example.com pass \
		    example.com,s1,pass
	done
	line $((T10 + 100)) example.com example.com reject reject 100 \
	    192.0.2.2 reject fail fail "" other.example fail ""
	line $((T10 + 200)) example.com example.com reject reject 100 \
	    192.0.2.2 reject fail fail "" other.example fail ""
	line $((T10 + 300)) example.com example.com reject reject 100 \
	    192.0.2.2 reject fail fail "" other.example fail \
	    "example.com,s1,fail;lists.example,,pass"
	line $((T10 + 400)) example.com mail.example.com reject reject 100 \
	    2001:db8::1 quarantine fail fail sampled_out "" none ""
	# the domain changed its policy during the day: a second report
	line $((T10 + 500)) example.com example.com none none 100 \
	    192.0.2.3 none fail fail "" example.com softfail ""
	# hostile text: markup characters, a control byte, UTF-8, a byte
	# that is not UTF-8
	line $((T10 + 600)) example.org "x<y>&\"'%01caf%C3%A9%FF" quarantine \
	    reject 50 192.0.2.4 none fail fail local_policy "" temperror \
	    "d<%26>.example,s%20%3B1,permerror"
} >"$S/2024-03-10.log"
line $((T11 + 5)) example.net example.net none none 100 192.0.2.5 none \
    pass fail "" example.net fail example.net,k,pass >"$S/2024-03-11.log"

# ---------------------------------------------------------------- one day
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-10 -t 2024-03-10 \
    -o "Postern & Co <test>" -e dmarc-reports@mx.example -D Example.COM.
is "$RC" 0 "one day, -D example.com: exit 0" || diag "$ERR"
is "$ERR" "" "nothing on stderr"
is "$(summary)" "feedback version,report_metadata,policy_published,record,record,record,record version=1.0
meta org=Postern & Co <test> email=dmarc-reports@mx.example id=1710028800.1710115199.example.com.1 begin=1710028800 end=1710115199
policy domain=example.com adkim=r aspf=r p=reject sp=reject pct=100 fo=0
row ip=192.0.2.1 count=3 dis=none dkim=pass spf=pass reason= from=example.com | dkim=example.com/s1/pass | spf=example.com/mfrom/pass
row ip=192.0.2.2 count=2 dis=reject dkim=fail spf=fail reason= from=example.com | dkim= | spf=other.example/mfrom/fail
row ip=192.0.2.2 count=1 dis=reject dkim=fail spf=fail reason= from=example.com | dkim=example.com/s1/fail;lists.example//pass | spf=other.example/mfrom/fail
row ip=2001:db8::1 count=1 dis=quarantine dkim=fail spf=fail reason=sampled_out from=mail.example.com | dkim= | spf=/mfrom/none
feedback version,report_metadata,policy_published,record version=1.0
meta org=Postern & Co <test> email=dmarc-reports@mx.example id=1710028800.1710115199.example.com.2 begin=1710028800 end=1710115199
policy domain=example.com adkim=r aspf=r p=none sp=none pct=100 fo=0
row ip=192.0.2.3 count=1 dis=none dkim=fail spf=fail reason= from=example.com | dkim= | spf=example.com/mfrom/softfail" \
    "the reports' metadata, policy, rows and counts"

# ---------------------------------------------------------------- all
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-09 -t 2024-03-11 \
    -o Org -e a@b.example
is "$RC" 0 "three days, every domain: exit 0" || diag "$ERR"
SUM=$(summary)
is "$(printf '%s\n' "$SUM" | grep '^meta' | sed 's/.* id=\([^ ]*\) .*/\1/' |
    tr '\n' ' ')" "1709942400.1710201599.example.com.1 1709942400.1710201599.example.com.2 1709942400.1710201599.example.net 1709942400.1710201599.example.org " \
    "one document per policy domain and policy, in domain order"
like "$SUM" '^row ip=192\.0\.2\.1 count=5 dis=none ' \
    "-f and -t are inclusive: the rows of both days add up"
unlike "$SUM" '^BAD' "every document parses"
is "$(printf '%s\n' "$SUM" | grep -A2 'id=.*example\.org')" \
    "meta org=Org email=a@b.example id=1709942400.1710201599.example.org begin=1709942400 end=1710201599
policy domain=example.org adkim=r aspf=r p=quarantine sp=reject pct=50 fo=0
row ip=192.0.2.4 count=1 dis=none dkim=fail spf=fail reason=local_policy from=x<y>&\"'?caf"$'\xc3\xa9'"? | dkim=d<&>.example/s ;1/permerror | spf=/mfrom/temperror" \
    "hostile text is escaped: markup as entities, bad bytes as '?'"
like "$OUT" '<header_from>x&lt;y&gt;&amp;&quot;&apos;\?caf' \
    "markup characters are written as entities"

# ---------------------------------------------------------------- none
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-12 -t 2024-03-20 \
    -o Org -e a@b.example
is "$RC" 1 "a period without records: exit 1"
is "$OUT" "" "... and nothing on stdout"
like "$ERR" 'no records' "... and says so"
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-09 -t 2024-03-11 \
    -o Org -e a@b.example -D example.invalid
is "$RC" 1 "-D a domain without records: exit 1"
like "$ERR" 'no records for example\.invalid' "... and names it"

# ---------------------------------------------------------------- default
NOW=$(date -u +%s)
Y=$(( NOW / 86400 * 86400 - 86400 ))
mkdir -p "$D/recent"
{
	line $((Y + 7)) example.com example.com reject reject 100 \
	    192.0.2.9 none pass pass "" example.com pass ""
} >"$D/recent/$(date -u -d "@$Y" +%F).log"
line $((Y + 86400 + 1)) example.com example.com reject reject 100 \
    192.0.2.10 none pass pass "" example.com pass "" \
    >"$D/recent/$(date -u -d "@$((Y + 86400))" +%F).log"
run "$POSTERNCTL" dmarc report -d "$D/recent" -o Org -e a@b.example
is "$RC" 0 "no -f/-t: yesterday" || diag "$ERR"
is "$(summary | grep -c '^row')" 1 "... only yesterday's record"
like "$(summary)" "^meta .* begin=$Y end=$((Y + 86399))\$" \
    "... and yesterday's date range"
like "$(summary)" '^row ip=192\.0\.2\.9 count=1 ' "... its row"

# ---------------------------------------------------------------- errors
cp -r "$S" "$D/broken"
printf '1\t%s\tjunk\n' $((T10 + 700)) >>"$D/broken/2024-03-10.log"
run "$POSTERNCTL" dmarc report -d "$D/broken" -f 2024-03-09 -t 2024-03-11 \
    -o Org -e a@b.example
is "$RC" 2 "a malformed line: exit 2"
is "$OUT" "" "... and no report at all"
is "$ERR" "posternctl dmarc report: $D/broken/2024-03-10.log:10: too few fields" \
    "... naming FILE:LINE"

run "$POSTERNCTL" dmarc report -d "$D/nope" -f 2024-03-10 -o Org -e a@b
is "$RC" 2 "a missing store directory: exit 2"
like "$ERR" "$D/nope: No such file or directory" "... naming it"
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-02-30 -o Org -e a@b
is "$RC" 2 "a date that does not exist: exit 2"
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-3-1 -o Org -e a@b
is "$RC" 2 "a date not written YYYY-MM-DD: exit 2"
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-11 -t 2024-03-10 \
    -o Org -e a@b
is "$RC" 2 "-f after -t: exit 2"
run "$POSTERNCTL" dmarc report -d "$S" -f 2024-03-10 -e a@b
is "$RC" 2 "no -o: exit 2"
like "$ERR" 'usage:' "... with the usage"
run "$POSTERNCTL" dmarc report -d "$S" -o Org
is "$RC" 2 "no -e: exit 2"
run "$POSTERNCTL" dmarc report -d "$S" -o Org -e a@b extra
is "$RC" 2 "an extra argument: exit 2"
run "$POSTERNCTL" dmarc frobnicate
is "$RC" 2 "an unknown command: exit 2"
run "$POSTERNCTL" dmarc
is "$RC" 2 "no command: exit 2"

done_testing
