#!/bin/bash
# dkim_tool.sh - posternctl dkim keygen and testkey.
# keygen: files and modes, the record cross-checked with openssl, never
# overwriting, usage and size errors, and python3-dkim signing with the
# written key and verifying with the printed record (interoperability).
# testkey: against a private nsd serving tests/data/zones (selectors of
# dkim.example.net), every answer and its exit code, and a DNS server that
# never answers (exit 2, never "no record").
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

[ -x "$POSTERNCTL" ] || setup_fail "$POSTERNCTL not built"
command -v nsd >/dev/null || setup_fail "nsd is not installed"
command -v openssl >/dev/null || setup_fail "openssl is not installed"
# python3-dkim is installed for Debian's python3, not a pyenv one on PATH
PY=/usr/bin/python3
"$PY" -c 'import dkim, nacl' 2>/dev/null ||
    setup_fail "python3-dkim (with python3-nacl) is not installed"

mktmp_var D e2e-dkim
KEYS=$TOP/tests/data/dkim
ZONE=dkim.example.net

# run CMD... - stdout in OUT, stderr in ERR, exit code in RC
run() {
	"$@" >"$D/out" 2>"$D/err"
	RC=$?
	OUT=$(cat "$D/out")
	ERR=$(cat "$D/err")
}

# record_of ZONETEXT - the TXT record's text: the quoted strings joined
record_of() {
	printf '%s\n' "$1" | grep -o '"[^"]*"' | tr -d '"\n'
}

# tag_of RECORD TAG - the value of one tag
tag_of() {
	printf '%s\n' "$1" | tr ';' '\n' | sed -n "s/^ *$2=//p"
}

# openssl_p KEYFILE TYPE - p= computed by openssl: the DER public key
# for rsa, its last 32 bytes (the raw key) for ed25519
openssl_p() {
	if [ "$2" = ed25519 ]; then
		openssl pkey -in "$1" -pubout -outform DER | tail -c 32 |
		    base64 -w0
	else
		openssl pkey -in "$1" -pubout -outform DER | base64 -w0
	fi
}

# strings_fit ZONETEXT - every quoted string at most 255 bytes
strings_fit() {
	! printf '%s\n' "$1" | grep -o '"[^"]*"' | awk 'length($0) - 2 > 255' |
	    grep -q .
}

# ---------------------------------------------------------------- keygen
K=$D/keys
mkdir -p "$K"

# keygen_ok SEL TYPE BITS [OPTIONS...] - a key pair written and described
keygen_ok() {
	local sel=$1 type=$2 bits=$3 rec
	shift 3
	run "$POSTERNCTL" dkim keygen -d example.com -s "$sel" -o "$K" "$@"
	if [ "$RC" != 0 ]; then
		not_ok "keygen $type $sel: exit 0 (got $RC)"
		diag "$ERR"
		return 1
	fi
	ok "keygen $type $sel: exit 0"
	is "$(stat -c %a "$K/$sel.private")" 600 \
	    "keygen $type $sel: key file mode 0600"
	is "$(stat -c %a "$K/$sel.txt")" 644 \
	    "keygen $type $sel: record file mode 0644"
	is "$(head -n 1 "$K/$sel.private")" "-----BEGIN PRIVATE KEY-----" \
	    "keygen $type $sel: key file is PKCS#8 PEM"
	is "$OUT" "$(cat "$K/$sel.txt")" \
	    "keygen $type $sel: stdout is the record file"
	like "$OUT" \
	    "^$sel\._domainkey	IN	TXT	\( \"v=DKIM1; k=$type; \"\$" \
	    "keygen $type $sel: zone-file line as opendkim-genkey writes it"
	like "$OUT" "\" \)  ; ----- DKIM key $sel for example\.com\$" \
	    "keygen $type $sel: closing parenthesis and comment"
	if strings_fit "$OUT"; then
		ok "keygen $type $sel: strings of at most 255 bytes"
	else
		not_ok "keygen $type $sel: strings of at most 255 bytes"
	fi
	rec=$(record_of "$OUT")
	REC=$rec
	is "$(tag_of "$rec" k)" "$type" "keygen $type $sel: k=$type"
	is "$(tag_of "$rec" p)" "$(openssl_p "$K/$sel.private" "$type")" \
	    "keygen $type $sel: p= is the key's public key (openssl)"
	if [ "$type" = rsa ]; then
		like "$(openssl pkey -in "$K/$sel.private" -noout -text |
		    head -n 1)" "\($bits bit" "keygen $type $sel: $bits bits"
	fi
}

keygen_ok sel2048 rsa 2048
keygen_ok sel1024 rsa 1024 -b 1024
keygen_ok seled ed25519 256 -a ed25519
REC_ED=$REC

# refuses to overwrite: the key and the record stay as they were
sum_before=$(cat "$K/sel2048.private" "$K/sel2048.txt" | sha256sum)
run "$POSTERNCTL" dkim keygen -d example.com -s sel2048 -o "$K"
is "$RC" 1 "keygen over an existing key: exit 1"
like "$ERR" "sel2048\.private: File exists \(not overwritten\)" \
    "keygen over an existing key: says so"
is "$(cat "$K/sel2048.private" "$K/sel2048.txt" | sha256sum)" \
    "$sum_before" "keygen over an existing key: both files unchanged"
is "$(stat -c %a "$K/sel2048.private")" 600 \
    "keygen over an existing key: mode unchanged"

# a stray record file alone also stops it, and no key is left behind
echo "stray" >"$K/onlytxt.txt"
run "$POSTERNCTL" dkim keygen -d example.com -s onlytxt -o "$K"
is "$RC" 1 "keygen over an existing .txt: exit 1"
is "$(cat "$K/onlytxt.txt")" stray "keygen over an existing .txt: unchanged"
if [ -e "$K/onlytxt.private" ]; then
	not_ok "keygen over an existing .txt: no key file left behind"
else
	ok "keygen over an existing .txt: no key file left behind"
fi

# sizes outside 1024..8192 are refused, nothing is written
run "$POSTERNCTL" dkim keygen -d example.com -s weak -b 512 -o "$K"
is "$RC" 1 "keygen -b 512: exit 1"
like "$ERR" "RSA key of 512 bits: not in 1024\.\.8192" \
    "keygen -b 512: refused as under 1024"
if [ -e "$K/weak.private" ] || [ -e "$K/weak.txt" ]; then
	not_ok "keygen -b 512: no file written"
else
	ok "keygen -b 512: no file written"
fi

run "$POSTERNCTL" dkim keygen -d example.com -s nodir -o "$D/missing"
is "$RC" 1 "keygen into a missing directory: exit 1"
like "$ERR" "missing/nodir\.private: No such file or directory" \
    "keygen into a missing directory: names the file"

# the default directory is the current one
(cd "$K" && "$POSTERNCTL" dkim keygen -d example.com -s here \
    >/dev/null 2>&1)
if [ -f "$K/here.private" ] && [ -f "$K/here.txt" ]; then
	ok "keygen without -o writes into the current directory"
else
	not_ok "keygen without -o writes into the current directory"
fi

# bad usage: exit 2 with the usage text
usage_case() {
	local desc=$1
	shift
	run "$POSTERNCTL" dkim "$@"
	if [ "$RC" = 2 ] && printf '%s\n' "$ERR" | grep -q '^usage:'; then
		ok "bad usage, $desc: exit 2 with usage"
	else
		not_ok "bad usage, $desc: exit 2 with usage"
		diag "exit $RC" "$ERR"
	fi
}
usage_case "no subcommand"
usage_case "unknown subcommand" frobnicate
usage_case "keygen without -s" keygen -d example.com -o "$K"
usage_case "keygen without -d" keygen -s x -o "$K"
usage_case "keygen unknown option" keygen -d example.com -s x -x -o "$K"
usage_case "keygen -o without a value" keygen -d example.com -s x -o
usage_case "keygen unknown algorithm" keygen -d example.com -s x -a dsa \
    -o "$K"
usage_case "keygen -b not a number" keygen -d example.com -s x -b 2k \
    -o "$K"
usage_case "keygen -b with ed25519" keygen -d example.com -s x \
    -a ed25519 -b 2048 -o "$K"
usage_case "keygen extra argument" keygen -d example.com -s x -o "$K" more
usage_case "keygen selector with a slash" keygen -d example.com \
    -s ../x -o "$K"
usage_case "keygen empty label" keygen -d example..com -s x -o "$K"
usage_case "testkey without -k" testkey -d "$ZONE" -s rsa
usage_case "testkey -d twice" testkey -d "$ZONE" -d "$ZONE" -s rsa \
    -k "$KEYS/rsa.private"
if [ -e "$K/x.private" ] || [ -e "$D/x.private" ]; then
	not_ok "bad usage writes no key"
else
	ok "bad usage writes no key"
fi

# ------------------------------------------ interoperability: python3-dkim

# py_roundtrip KEYFILE RECORD ALG - python3-dkim signs a message with the
# key file and verifies it against RECORD as the selector's DNS answer
py_roundtrip() {
	"$PY" - "$@" <<'PY'
import base64, re, sys
import dkim

keyfile, record, alg = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
pem = open(keyfile, "rb").read()
if alg == "ed25519-sha256":
    # dkimpy takes the raw 32-byte seed: the end of the PKCS#8 DER
    body = re.search(rb"-----\n(.*?)\n-----", pem, re.S).group(1)
    key = base64.b64encode(base64.b64decode(body)[-32:])
else:
    key = pem
msg = (b"From: a@example.com\r\nTo: b@example.org\r\n"
       b"Subject: interop\r\n\r\nHello.\r\n")
sig = dkim.sign(msg, b"sel", b"example.com", key,
                signature_algorithm=alg.encode(),
                include_headers=[b"from", b"to", b"subject"])

def dnsfunc(name, timeout=5):
    if name == b"sel._domainkey.example.com.":
        return record
    return None

sys.exit(0 if dkim.verify(sig + msg, dnsfunc=dnsfunc) else 1)
PY
}

run "$POSTERNCTL" dkim keygen -d example.com -s pyrsa -o "$K"
is "$RC" 0 "keygen pyrsa: exit 0"
check "python3-dkim: rsa-sha256 signature by the written key verifies" \
    py_roundtrip "$K/pyrsa.private" "$(record_of "$OUT")" rsa-sha256
check "python3-dkim: ed25519-sha256 signature by the written key verifies" \
    py_roundtrip "$K/seled.private" "$REC_ED" ed25519-sha256
# the check can fail: another key's record does not verify
if py_roundtrip "$K/pyrsa.private" "$(record_of "$(cat "$K/sel2048.txt")")" \
    rsa-sha256 2>/dev/null; then
	not_ok "python3-dkim: another key's record does not verify"
else
	ok "python3-dkim: another key's record does not verify"
fi

# ---------------------------------------------------------------- testkey
start_nsd "$D/nsd" || setup_fail "nsd does not start"
start_silent_dns "$D" || setup_fail "the silent DNS socket does not start"
NS=127.0.0.1@$NSD_PORT

# testkey_case DESC SEL KEYFILE WANT_RC REGEX [SERVER] - exit code, and
# REGEX in stdout (exit 0) or stderr (otherwise)
testkey_case() {
	local desc=$1 sel=$2 key=$3 want=$4 re=$5 ns=${6:-$NS} text
	run "$POSTERNCTL" dkim testkey -d "$ZONE" -s "$sel" -k "$key" -n "$ns"
	is "$RC" "$want" "testkey $desc: exit $want"
	if [ "$want" = 0 ]; then text=$OUT; else text=$ERR; fi
	like "$text" "$re" "testkey $desc: says /$re/"
}

testkey_case "rsa (PKCS#8)" rsa "$KEYS/rsa.private" 0 '^key OK$'
testkey_case "ed25519" ed "$KEYS/ed.private" 0 '^key OK$'
testkey_case "rsa (PKCS#1)" pkcs1 "$KEYS/rsa-pkcs1.private" 0 '^key OK$'
testkey_case "rsa 1024" rsa1024 "$KEYS/rsa1024.private" 0 '^key OK$'
testkey_case "mismatch" mismatch "$KEYS/rsa.private" 1 \
    "mismatch\._domainkey\.$ZONE: p= does not match the key\$"
testkey_case "revoked" revoked "$KEYS/rsa.private" 1 \
    "revoked\._domainkey\.$ZONE: key revoked \(empty p=\)\$"
testkey_case "rsa key, ed25519 record" ed "$KEYS/rsa.private" 1 \
    'k= does not match the key$'
testkey_case "no such selector" nosuch "$KEYS/rsa.private" 1 \
    "nosuch\._domainkey\.$ZONE: no such record"
testkey_case "key under 1024 bits" weak512 "$KEYS/weak512.private" 2 \
    'weak512\.private: RSA key of 512 bits: under 1024$'
testkey_case "missing key file" rsa "$D/nokey.private" 2 \
    'nokey\.private: No such file or directory$'
testkey_case "bad server" rsa "$KEYS/rsa.private" 2 \
    'dns server "127\.0\.0\.1@x": bad port' "127.0.0.1@x"
unlike "$OUT" 'key OK' "testkey with a bad server prints no OK"

# bare base64 (KeyTable form) in a key file
grep -v -- ----- "$KEYS/rsa.private" >"$D/bare.private"
testkey_case "bare base64 key file" rsa "$D/bare.private" 0 '^key OK$'

# a DNS server that never answers: an error, never "no such record"
t0=$SECONDS
testkey_case "DNS timeout" rsa "$KEYS/rsa.private" 2 \
    "rsa\._domainkey\.$ZONE: DNS error: timeout" \
    "127.0.0.1@$SILENT_DNS_PORT"
unlike "$ERR" 'no such record' "testkey DNS timeout: not read as no record"
diag "the timeout took $((SECONDS - t0)) s (5 s x 2 attempts)"

# several -n: the silent one and nsd (libunbound falls back)
run "$POSTERNCTL" dkim testkey -d "$ZONE" -s rsa -k "$KEYS/rsa.private" \
    -n "127.0.0.1@$SILENT_DNS_PORT" -n "$NS"
is "$RC" 0 "testkey with a dead and a live server: exit 0"

# ------------------------------------- keygen's records, published by nsd
# The .txt files go into a zone as they are (the way opendkim-genkey's are
# used); a second nsd serves it from a tree of its own.
ZD=$D/top/tests/data/zones
mkdir -p "$ZD"
{
	printf '$ORIGIN example.com.\n$TTL 300\n'
	printf '@\tIN SOA ns.example.com. hostmaster.example.com. '
	printf '( 1 3600 600 86400 300 )\n\tIN NS ns.example.com.\n'
	cat "$K/sel2048.txt" "$K/sel1024.txt" "$K/seled.txt"
} >"$ZD/example.com"
if nsd-checkzone example.com "$ZD/example.com" >"$D/checkzone.out" 2>&1
then
	ok "nsd-checkzone accepts the .txt files in a zone"
else
	not_ok "nsd-checkzone accepts the .txt files in a zone"
	diag_file "$D/checkzone.out"
fi
TOP=$D/top start_nsd "$D/nsd2" example.com ||
    setup_fail "nsd with the generated records does not start"
for sel in sel2048 sel1024 seled; do
	run "$POSTERNCTL" dkim testkey -d example.com -s "$sel" \
	    -k "$K/$sel.private" -n "127.0.0.1@$NSD_PORT"
	is "$RC:$OUT" "0:key OK" "testkey of keygen's $sel as published: key OK"
done
run "$POSTERNCTL" dkim testkey -d example.com -s sel2048 \
    -k "$K/sel1024.private" -n "127.0.0.1@$NSD_PORT"
is "$RC" 1 "testkey of keygen's sel2048 with another key: exit 1"

done_testing
