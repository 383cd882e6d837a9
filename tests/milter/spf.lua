-- spf.lua - the spf module through the milter protocol (zones in
-- tests/data/zones/spf.example.org, client 192.0.2.10)
--
-- A pass inserts Authentication-Results and two Received-SPF fields at
-- the top; fail and (here) permerror are refused at RCPT with their SMTP
-- text; every record built for libspf2's known bugs is refused as
-- permerror and filterd keeps answering; a client in mynetworks is not
-- checked.
dofile(srcdir .. "/common.lua")

local Z = "spf.example.org"
local HELO = "mail." .. Z
-- filterd folds its Authentication-Results after the authserv-id
local AR = "mx.example.com;\n\t"

-- header (conn, name, value) - send one header, answer if one is due
local function header(c, name, value)
	must(mt.header(c, name, value), "header " .. name)
	if not mt.test_option(c, SMFIP_NR_HDR) then
		expect(c, SMFIR_CONTINUE, "header " .. name)
	end
end

-- session (ip) - a connection from ip with HELO mail.spf.example.org
local function session(ip)
	local conn = connect_filter()
	must(mt.conninfo(conn, "client.example", ip), "conninfo")
	expect(conn, SMFIR_CONTINUE, "CONNECT from " .. ip)
	must(mt.helo(conn, HELO), "helo")
	expect(conn, SMFIR_CONTINUE, "HELO")
	return conn
end

-- message (conn, qid, from) - MAIL, RCPT, one header and EOM; every step
-- must continue
local function message(conn, qid, from)
	must(mt.macro(conn, SMFIC_MAIL, "i", qid), "macro i")
	must(mt.mailfrom(conn, "<" .. from .. ">"), "mailfrom")
	expect(conn, SMFIR_CONTINUE, "MAIL from " .. from)
	must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
	expect(conn, SMFIR_CONTINUE, "RCPT from " .. from)
	header(conn, "From", "<" .. from .. ">")
	must(mt.eom(conn), "eom")
	expect(conn, SMFIR_CONTINUE, "EOM")
end

-- pass: Authentication-Results and the Received-SPF fields
local conn = session("192.0.2.10")
message(conn, "SPFQID1", "user@pass." .. Z)
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    AR .. "spf=pass smtp.mailfrom=user@pass." .. Z, 0),
    "Authentication-Results spf=pass at the top")
check(mt.eom_check(conn, MT_HDRINSERT, "Received-SPF",
    "pass (mx.example.com: domain of pass." .. Z .. " designates " ..
    "192.0.2.10 as permitted sender) client-ip=192.0.2.10; " ..
    "envelope-from=\"user@pass." .. Z .. "\"; helo=" .. HELO ..
    "; receiver=mx.example.com; identity=mailfrom;"),
    "Received-SPF for MAIL FROM")
check(mt.eom_check(conn, MT_HDRINSERT, "Received-SPF",
    "pass (mx.example.com: domain of " .. HELO .. " designates " ..
    "192.0.2.10 as permitted sender) client-ip=192.0.2.10; " ..
    "envelope-from=\"user@pass." .. Z .. "\"; helo=" .. HELO ..
    "; receiver=mx.example.com; identity=helo;"),
    "Received-SPF for HELO")

-- softfail on the same connection: the HELO result is kept, the MAIL
-- FROM result is the new message's
message(conn, "SPFQID2", "user@softfail." .. Z)
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    AR .. "spf=softfail smtp.mailfrom=user@softfail." .. Z, 0),
    "second message: spf=softfail")
check(not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    AR .. "spf=pass smtp.mailfrom=user@pass." .. Z),
    "second message: nothing of the first")
mt.disconnect(conn)

-- fail and the refused records: REPLYCODE at RCPT; the text is checked
-- with the raw probe
local refused = { "fail", "redir", "syntax", "two", "loop", "incloop",
    "lim11", "void3", "long", "upper", "delim", "digits", "zero",
    "digitsr", "exp" }
conn = session("192.0.2.10")
for i, n in ipairs(refused) do
	must(mt.macro(conn, SMFIC_MAIL, "i", "SPFREF" .. i), "macro i")
	must(mt.mailfrom(conn, "<user@" .. n .. "." .. Z .. ">"), "mailfrom")
	expect(conn, SMFIR_CONTINUE, "MAIL from " .. n .. " (delay_reject)")
	must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
	expect(conn, SMFIR_REPLYCODE, "RCPT for " .. n)
	must(mt.abort(conn), "abort")
end
mt.disconnect(conn)

local out = probe_replies("client.example", "192.0.2.10", HELO,
    "user@fail." .. Z, "user@ours.example")
expect_line(out, "RCPT:user@ours.example y 550 5.7.23 SPF fail for " ..
    "sender domain fail." .. Z .. " from client 192.0.2.10", "fail text")
for _, n in ipairs({ "upper", "digits", "long", "exp" }) do
	out = probe_replies("client.example", "192.0.2.10", HELO,
	    "user@" .. n .. "." .. Z, "user@ours.example")
	expect_line(out, "RCPT:user@ours.example y 550 5.7.24 SPF " ..
	    "permerror for sender domain " .. n .. "." .. Z ..
	    " from client 192.0.2.10", n .. " permerror text")
end

-- still answering after the hostile records
conn = session("192.0.2.10")
message(conn, "SPFQID3", "user@macro." .. Z)
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    AR .. "spf=pass smtp.mailfrom=user@macro." .. Z, 0),
    "allowed macros after the hostile records: spf=pass")
mt.disconnect(conn)

-- mynetworks: not checked
conn = session("192.0.2.200")
message(conn, "SPFQID4", "user@fail." .. Z)
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    "mx.example.com; none", 0), "mynetworks: no SPF result")
check(not mt.eom_check(conn, MT_HDRINSERT, "Received-SPF"),
    "mynetworks: no Received-SPF")
mt.disconnect(conn)

check(log_wait("reason=spf mailfrom=permerror (refused macro)") ~= nil,
    "filterd logs the refused macro")
check(log_wait("reason=spf mailfrom=permerror (record too long)") ~= nil,
    "filterd logs the over-long record")
