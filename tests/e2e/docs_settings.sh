#!/bin/bash
# docs_settings.sh - every setting the daemons know is in their man page:
# the names printed by postern-mta -n and postern-filterd -n (with every
# policy module in the pipeline, so each section is printed) must each be
# described in mta.conf(5) or filterd.conf(5) as a bold name, within the
# section's part of the page for filterd's modules.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ -x "$MTA" ] || setup_fail "$MTA not built"
mktmp_var D e2e-docs

# documented PAGE NAME - NAME appears as a word on a bold macro line
# (.B, .BR, .BI) or after \fB in the man page PAGE
documented() {
	grep -Eq "^\.B[IR]? (.*[ \"])?$2([ \"\\\\]|\$)|\\\\fB$2(\\\\f| |\$)" "$1"
}

# check PAGE DUMP - every "name =" of DUMP is documented in PAGE
check() {
	local page=$1 dump=$2 missing="" name
	while read -r name; do
		documented "$page" "$name" || missing="$missing $name"
	done < <(sed -n 's/^\([a-z0-9_]*\) =.*/\1/p' "$dump" | sort -u)
	is "${missing:-none}" none \
	    "every setting of $(basename "$dump" .dump) is in $(basename "$page")"
	is "$(grep -c ' = ' "$dump" | awk '$1 > 20 { print "many" }')" many \
	    "($(basename "$dump" .dump) printed its settings)"
}

printf 'myhostname = mx.example.com\npid_file =\nqueue_directory = %s/q\n' \
    "$D" >"$D/mta.conf"
"$MTA" -n -c "$D/mta.conf" >"$D/mta.dump" 2>"$D/mta.err" ||
    diag_file "$D/mta.err"
check "$TOP/docs/mta.conf.5" "$D/mta.dump"

"$TOP/tests/data/clamav/make-testdb" "$D/clamdb" >/dev/null ||
    setup_fail "make-testdb failed"
cat >"$D/filterd.conf" <<CONF
socket = inet:9@127.0.0.1
pid_file =
pipeline = access, dnsbl, greylist, spf, dkim, dmarc, clamav, content, spamd
[greylist]
store = lmdb:$D/greylist.lmdb
[clamav]
database_dir = $D/clamdb
CONF
"$FILTERD" -n -c "$D/filterd.conf" >"$D/filterd.dump" 2>"$D/filterd.err" ||
    diag_file "$D/filterd.err"
check "$TOP/docs/filterd.conf.5" "$D/filterd.dump"
like "$(cat "$D/filterd.dump")" "\\[clamav\\].*" "(every module's section was printed)"
done_testing
