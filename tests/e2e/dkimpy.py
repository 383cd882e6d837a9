#!/usr/bin/python3
# dkimpy.py - DKIM with Debian's python3-dkim, the independent side of the
# interop tests in dkim.sh (Debian's /usr/bin/python3 has the module).
#
#   dkimpy.py sign IN OUT KEYFILE SELECTOR DOMAIN [ALG] [--length]
#	sign message file IN (relaxed/relaxed, ALG rsa-sha256 by default)
#	and write the signed message (signature on top) to OUT
#   dkimpy.py verify IN ZONEFILE
#	verify every DKIM-Signature of IN with the keys of ZONEFILE (TXT
#	records of an nsd zone file, strings joined); print one line per
#	signature, top first: "d=DOMAIN s=SELECTOR a=ALG pass|fail"
import base64
import re
import sys

import dkim


# zone_records - "name." -> TXT text, from the simple zone files of
# tests/data/zones ($ORIGIN, relative owners, quoted strings on one line)
def zone_records(path):
    origin = ""
    recs = {}
    for line in open(path, encoding="ascii"):
        line = line.rstrip("\n")
        if line.startswith("$ORIGIN"):
            origin = line.split()[1]
            continue
        m = re.match(r'^(\S+)\s+IN\s+TXT\s+(.*)$', line)
        if not m:
            continue
        name = m.group(1)
        if not name.endswith("."):
            name = name + "." + origin
        text = "".join(re.findall(r'"([^"]*)"', m.group(2)))
        recs[name.lower()] = text.encode()
    return recs


def main():
    if sys.argv[1] == "sign":
        src, out, keyfile, sel, dom = sys.argv[2:7]
        rest = sys.argv[7:]
        alg = b"rsa-sha256"
        length = "--length" in rest
        for r in rest:
            if not r.startswith("--"):
                alg = r.encode()
        msg = open(src, "rb").read()
        key = open(keyfile, "rb").read()
        if alg == b"ed25519-sha256":
            # python3-dkim wants the base64 of the 32-byte seed: the last
            # 32 bytes of the PKCS#8 DER in the PEM file
            der = base64.b64decode(b"".join(
                line for line in key.splitlines()
                if not line.startswith(b"-----")))
            key = base64.b64encode(der[-32:])
        sig = dkim.sign(msg, sel.encode(), dom.encode(), key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        signature_algorithm=alg, length=length)
        open(out, "wb").write(sig + msg)
        return 0
    if sys.argv[1] == "verify":
        msg = open(sys.argv[2], "rb").read()
        recs = zone_records(sys.argv[3])

        def dnsfunc(name, timeout=5):
            return recs.get(name.decode().lower())

        d = dkim.DKIM(msg)
        n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
        for i in range(n):
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
            tags = dkim.util.parse_tag_value(
                [h for h in d.headers
                 if h[0].lower() == b"dkim-signature"][i][1])
            print("d=%s s=%s a=%s %s" % (tags[b"d"].decode(),
                  tags[b"s"].decode(), tags[b"a"].decode(),
                  "pass" if ok else "fail"))
        return 0
    return 2


sys.exit(main())
