-- dkim.lua - who gets signed: a client outside mynetworks is verified,
-- not signed, unless it authenticated ({auth_authen}); a signature is
-- inserted at the top, folded with LF and TAB (no CR); a From domain
-- without a key is not signed
dofile(srcdir .. "/common.lua")

-- message (conn, qid, from, auth) - one message; auth sets {auth_authen}
local function message(conn, qid, from, auth)
	must(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth or ""),
	    "macros")
	must(mt.mailfrom(conn, "<" .. from .. ">"), "mailfrom")
	expect(conn, SMFIR_CONTINUE, "MAIL")
	must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
	expect(conn, SMFIR_CONTINUE, "RCPT")
	for _, h in ipairs({ { "From", "<" .. from .. ">" },
	    { "To", "<user@ours.example>" }, { "Subject", qid } }) do
		must(mt.header(conn, h[1], h[2]), "header")
		if not mt.test_option(conn, SMFIP_NR_HDR) then
			expect(conn, SMFIR_CONTINUE, "header")
		end
	end
	must(mt.bodystring(conn, "Hello.\r\n"), "body")
	if not mt.test_option(conn, SMFIP_NR_BODY) then
		expect(conn, SMFIR_CONTINUE, "body")
	end
	must(mt.eom(conn), "eom")
	expect(conn, SMFIR_CONTINUE, "EOM")
end

local conn = connect_filter()
must(mt.conninfo(conn, "client.example", "192.0.2.10"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")

message(conn, "DKQ1", "user@dkim.example.net", nil)
check(not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
    "unauthenticated outside client: not signed")

message(conn, "DKQ2", "user@dkim.example.net", "alice")
check(mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
    "authenticated client: signed")
local line = log_wait("DKQ2: dkim: signed dkim.example.net/rsa(rsa)")
check(line ~= nil, "filterd logs the signature of DKQ2")

message(conn, "DKQ3", "user@other.example", "alice")
check(not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature"),
    "authenticated, From domain without a key: not signed")
check(log_wait("DKQ3: dkim: not signed: no key for other.example") ~= nil,
    "filterd says why DKQ3 is not signed")
mt.disconnect(conn)
