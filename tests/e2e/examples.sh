#!/bin/bash
# examples.sh - every worked example in docs/examples/ loads. Each *.conf
# is copied with its absolute paths moved under one temp root (tables,
# keys, certificates, sockets, directories), the files it names are made
# there (tables with a line or two, a self-signed certificate, DKIM keys
# from posternctl, the ClamAV test database), and postern-filterd -n or
# postern-mta -n (for *-mta.conf) must exit 0; a copy with an unknown
# setting appended must fail naming FILE:LINE. The MTA and filterd halves
# of a deployment must agree (milter socket, relay_domains, mynetworks).
# postfix-milter-main.cf is read back with postconf -c DIR -n.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

need_filterd
[ -x "$MTA" ] || setup_fail "$MTA not built"
[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
command -v openssl >/dev/null || setup_fail "openssl is not installed"
[ -x /usr/bin/python3 ] || setup_fail "/usr/bin/python3 is missing"

EX=$TOP/docs/examples
MAKE_TESTDB=$TOP/tests/data/clamav/make-testdb
mktmp_var D e2e-examples
# every example's paths go under one root, so that the two halves of a
# deployment name the same files, as they do on a real host
R=$D/root
mkdir -p "$R"

# re_quote TEXT - TEXT as a literal in an extended regex
re_quote() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# --- the deployments -----------------------------------------------------

# each deployment has its filterd.conf and the MTA side: postern-mta's
# mta.conf, or Postfix's main.cf
for f in inbound-gateway.conf inbound-gateway-mta.conf outbound-relay.conf \
    outbound-relay-mta.conf postfix-milter.conf postfix-milter-main.cf; do
	[ -f "$EX/$f" ] && ok "docs/examples/$f exists" ||
	    not_ok "docs/examples/$f exists"
done

# --- copying and rewriting -----------------------------------------------

# relocate SRC DST - copy an example, every absolute path in a value (not
# in comments) moved under $R
relocate() {
	sed -E -e '/^[[:space:]]*#/b' \
	    -e "s#(^|[=:,[:space:]{])/#\1$R/#g" "$1" >"$2"
}

# conf_paths FILE - "section|setting|type|path" for every path
# under $R in FILE's values; type is the table or socket type before the
# path (hash, cidr, file, refile, lmdb, unix, ...) or empty
conf_paths() {
	/usr/bin/python3 - "$1" "$R" <<'PY'
import re, sys
path, root = sys.argv[1], sys.argv[2]
entries, section = [], ""
for line in open(path):
    line = line.rstrip("\n")
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    if line[0] in " \t" and entries:
        entries[-1][2] += " " + line.strip()
    elif line.startswith("["):
        section = line.strip()[1:-1]
    elif "=" in line:
        name, value = line.split("=", 1)
        entries.append([section, name.strip(), value.strip()])
pat = re.compile(r"((?:[a-z0-9]+:)*)(" + re.escape(root) + r"/[^\s,{}]*)")
for section, name, value in entries:
    for m in pat.finditer(value):
        kinds = [k for k in m.group(1).split(":") if k]
        print("|".join([section or "-", name, kinds[-1] if kinds else "",
                         m.group(2)]))
PY
}

# --- the files the examples name -------------------------------------------

# table_text SETTING TYPE FILE - a line or two that fit what SETTING looks
# up; an example file of the same name (docs/examples/transport) is used
# as it is
table_text() {
	local name=$1 type=$2 file=$3
	if [ -f "$EX/${file##*/}" ]; then
		cat "$EX/${file##*/}"
		return
	fi
	case "$name:$type" in
	virtual_alias_maps:*)
		printf 'info@example.com\talice@example.com, bob@example.com\n'
		printf '@example.net\t@example.com\n' ;;
	local_recipient_maps:* | local_recipients:*)
		printf 'alice@example.com\tOK\nbob@example.com\tOK\n'
		printf '@example.org\tOK\nexample.org\tOK\n' ;;
	smtp_tls_policy_maps:*)
		printf 'example.net\tencrypt\n' ;;
	relay_domains:* | local_domains:*)
		printf 'example.net\tOK\n' ;;
	mynetworks:cidr)
		printf '10.0.0.0/8\tOK\n2001:db8::/32\tOK\n' ;;
	*:cidr)
		printf '192.0.2.0/24\tREJECT\n198.51.100.7\tOK\n' ;;
	*:regexp | *:pcre)
		printf '/^spam[0-9]*@/\tREJECT\n' ;;
	*)
		printf 'spammer@example.net\tREJECT\nexample.net\tREJECT\n' ;;
	esac
}

CERT=
KEY=
KEYTABLE=
SIGNTABLE=
SIGNTYPE=
# fixture SECTION SETTING TYPE PATH - make what the setting needs there
fixture() {
	local sect=$1 name=$2 type=$3 path=$4
	mkdir -p "${path%/*}"
	case "$type:$name" in
	unix:*)			# a socket: bound at start, not by -n
		;;
	lmdb:store)		# the greylist store: made at start
		;;
	file:key_table)
		KEYTABLE=$path ;;
	file:signing_table | refile:signing_table)
		SIGNTABLE=$path
		SIGNTYPE=$type ;;
	lmdb:*)
		table_text "$name" "$type" "$path" >"$path"
		"$POSTERNCTL" lists compile "$path" >/dev/null ||
		    not_ok "posternctl lists compile $path" ;;
	hash:* | texthash:* | cidr:* | regexp:* | pcre:*)
		[ -e "$path" ] ||
		    table_text "$name" "$type" "$path" >"$path" ;;
	:tls_cert_file)
		CERT=$path ;;
	:tls_key_file)
		KEY=$path ;;
	:auth_users)
		printf 'alice:%s\n' "$(openssl passwd -6 -salt examples \
		    secret)" >"$path"
		chmod 600 "$path" ;;
	:report_store | :temp_dir | :queue_directory)
		mkdir -p "$path" ;;
	:database_dir)
		[ -d "$path" ] || "$MAKE_TESTDB" "$path" >/dev/null ||
		    not_ok "make-testdb $path" ;;
	:dns_trust_anchor_file)	# the root zone's KSK-2017, as a DS record
		printf '. IN DS 20326 8 2 %s%s\n' \
		    E06D44B80B8F1D39A95C0B0D7C65D084 \
		    58E880409BBC683457104237C7F8EC8D >"$path" ;;
	:pid_file)
		;;
	*)
		not_ok "a fixture for [$sect] $name = $type${type:+:}$path" ;;
	esac
}

# fixtures_finish - the files that come in pairs: certificate and key,
# KeyTable and SigningTable with their keys
fixtures_finish() {
	local host keys
	if [ -n "$CERT$KEY" ] && [ ! -e "$CERT" ]; then
		host=${CERT##*/}
		host=${host%.pem}
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -days 2 -subj "/CN=$host" -keyout "$KEY" \
		    -out "$CERT" 2>/dev/null || not_ok "openssl req for $host"
		chmod 600 "$KEY"
	fi
	if [ -n "$KEYTABLE" ] && [ ! -e "$KEYTABLE" ]; then
		keys=${KEYTABLE%/*}/keys/example.com
		mkdir -p "$keys"
		"$POSTERNCTL" dkim keygen -d example.com -s rsa2026 \
		    -o "$keys" >/dev/null &&
		    "$POSTERNCTL" dkim keygen -d example.com -s ed2026 \
		    -a ed25519 -o "$keys" >/dev/null ||
		    not_ok "posternctl dkim keygen into $keys"
		printf 'example.com-rsa\texample.com:rsa2026:%s\n' \
		    "$keys/rsa2026.private" >"$KEYTABLE"
		printf 'example.com-ed\texample.com:ed2026:%s\n' \
		    "$keys/ed2026.private" >>"$KEYTABLE"
		if [ "$SIGNTYPE" = refile ]; then
			printf '*@example.com\texample.com-rsa\n' >"$SIGNTABLE"
			printf '*@example.com\texample.com-ed\n' >>"$SIGNTABLE"
		else
			printf 'example.com\texample.com-rsa\n' >"$SIGNTABLE"
		fi
	fi
	CERT= KEY= KEYTABLE= SIGNTABLE= SIGNTYPE=
}

# --- each example loads ----------------------------------------------------

declare -A OUT
for src in "$EX"/*.conf; do
	base=${src##*/}
	case $base in
	*-mta.conf) bin=$MTA what=postern-mta ;;
	*) bin=$FILTERD what=postern-filterd ;;
	esac
	conf=$D/$base
	relocate "$src" "$conf"
	left=$(sed '/^[[:space:]]*#/d' "$conf" |
	    grep -E "(^|[=:,[:space:]{])/" | grep -v "$R/")
	is "$left" "" "$base: every absolute path is moved to the temp root"
	while IFS='|' read -r sect name type path; do
		fixture "$sect" "$name" "$type" "$path"
	done < <(conf_paths "$conf")
	fixtures_finish

	"$bin" -n -c "$conf" >"$D/$base.out" 2>"$D/$base.err"
	rc=$?
	is "$rc" 0 "$what -n -c $base exits 0" || diag_file "$D/$base.err"
	unlike "$(cat "$D/$base.err")" 'warning|error' \
	    "$what -n -c $base warns about nothing"
	OUT[$base]=$(cat "$D/$base.out")

	# the same file with a setting no version of Postern knows
	broken=$D/broken-$base
	cp "$conf" "$broken"
	printf 'no_such_setting = 1\n' >>"$broken"
	line=$(wc -l <"$broken")
	out=$("$bin" -n -c "$broken" 2>&1)
	rc=$?
	is "$rc" 1 "$what -n on $base with an unknown setting exits 1"
	like "$out" \
	    "^$(re_quote "$broken"):$line: unknown setting 'no_such_setting'" \
	    "$base: the unknown setting is reported as FILE:$line"
done

# --- the halves of each deployment agree ------------------------------------

# setting OUTPUT SECTION NAME - NAME's value in -n output (SECTION - for
# the global one), white space around commas removed; false when OUTPUT
# has no such line
setting() {
	printf '%s\n' "$1" | awk -v want="$2" -v name="$3" '
		/^\[.*\]$/ { sect = substr($0, 2, length($0) - 2); next }
		!found && /^[^#]/ && / =( |$)/ {
			n = $0; sub(/ *=.*/, "", n)
			v = $0; sub(/^[^=]*= ?/, "", v)
			if ((sect == "" ? "-" : sect) == want && n == name) {
				gsub(/ *, */, ",", v); print v; found = 1
			}
		}
		END { exit !found }'
}

# same_setting PAIR NAME SECTION - the MTA's global NAME is filterd's NAME
# of SECTION
same_setting() {
	local mv fv
	if mv=$(setting "$M" - "$2") && fv=$(setting "$F" "$3" "$2"); then
		is "$mv" "$fv" \
		    "$1: the MTA and filterd have the same $2 (${mv//$R/ROOT})"
	else
		not_ok "$1: -n of both halves prints $2"
	fi
}

for pair in inbound-gateway outbound-relay; do
	F=${OUT[$pair.conf]:-}
	M=${OUT[$pair-mta.conf]:-}
	sock=$(setting "$F" - socket)
	# filterd's inet:PORT@HOST is the MTA's inet:HOST:PORT
	want=$(printf '%s\n' "$sock" |
	    sed -n 's/^inet:\([0-9]*\)@\(.*\)$/inet:\2:\1/p')
	like "$(setting "$M" - milters)" "(^|,)$(re_quote "${want:-?}")(,|$)" \
	    "$pair: the MTA's milters name filterd's socket ($sock)"
	same_setting "$pair" mynetworks -
	same_setting "$pair" relay_domains access
done

# --- Postfix's main.cf -----------------------------------------------------

if command -v postconf >/dev/null; then
	P=$D/postfix
	mkdir -p "$P"
	cp "$EX/postfix-milter-main.cf" "$P/main.cf"
	: >"$P/master.cf"
	out=$(postconf -c "$P" -n 2>"$D/postconf.err")
	is "$?" 0 "postconf -n reads postfix-milter-main.cf"
	is "$(cat "$D/postconf.err")" "" \
	    "postconf knows every parameter of postfix-milter-main.cf"
	like "$out" '^smtpd_milters = unix:/postern/filterd\.sock$' \
	    "main.cf: smtpd_milters = unix:/postern/filterd.sock"
	is "$(postconf -c "$P" -x -h non_smtpd_milters 2>&1)" \
	    "unix:/postern/filterd.sock" \
	    "main.cf: non_smtpd_milters is the same filter"
	like "$out" '^milter_default_action = tempfail$' \
	    "main.cf: milter_default_action = tempfail"
	like "$out" '^milter_protocol = 6$' "main.cf: milter_protocol = 6"
	like "$out" '^milter_mail_macros = i .*\{auth_authen\}' \
	    "main.cf: milter_mail_macros sends i and {auth_authen} at MAIL"
	# Postfix's chroot is its queue directory: the socket it names from
	# inside is the one filterd binds
	qdir=$(postconf -c "$P" -h queue_directory 2>/dev/null)
	psock=$(postconf -c "$P" -h smtpd_milters 2>/dev/null)
	fsock=$(sed -n 's/^socket *= *unix://p' "$EX/postfix-milter.conf")
	is "$qdir${psock#unix:}" "$fsock" \
	    "main.cf's socket inside the chroot is postfix-milter.conf's"
	# a misspelt parameter is noticed, so the check above can fail
	printf 'smtpd_miltrs = unix:/postern/filterd.sock\n' >>"$P/main.cf"
	out=$(postconf -c "$P" -n 2>&1 >/dev/null)
	like "$out" 'unused parameter: smtpd_miltrs=' \
	    "postconf warns about an unknown parameter in a broken copy"
else
	not_ok "postconf is not installed (Postfix)"
fi

done_testing
