-- headers.lua - Authentication-Results and PREPEND at end of message
--
-- filterd inserts its own Authentication-Results at the top (nothing was
-- checked: "mx.example.com; none"), deletes a field the client sent that
-- claims filterd's authserv-id (the second of two; the one from
-- other.example stays), and a PREPEND table action inserts its header at
-- the top. A later message without PREPEND gets no X-Test header.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
envelope(conn, "HDRQID1", "prep@x.example", "user@ours.example")

-- header (conn, name, value) - send one header, answer if one is due
local function header(c, name, value)
	must(mt.header(c, name, value), "header " .. name)
	if not mt.test_option(c, SMFIP_NR_HDR) then
		expect(c, SMFIR_CONTINUE, "header " .. name)
	end
end

header(conn, "From", "<prep@x.example>")
header(conn, "Authentication-Results", "other.example; spf=pass")
header(conn, "Authentication-Results", "mx.example.com; dkim=pass")
header(conn, "Subject", "headers.lua")
must(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "EOM")

check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    "mx.example.com; none"),
    "Authentication-Results: mx.example.com; none inserted")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    "mx.example.com; none", 0),
    "Authentication-Results inserted at index 0 (top)")
-- miltertest reports smfi_chgheader(ctx, name, n, NULL) as MT_HDRDELETE
-- (a change with an empty value); the index counts fields of that name.
check(mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 2),
    "forged Authentication-Results (2nd field) deleted")
check(not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", 1),
    "Authentication-Results of other.example (1st field) kept")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Test", "yes"),
    "PREPEND X-Test: yes inserted")
check(not mt.eom_check(conn, MT_HDRADD, "X-Test"),
    "PREPEND inserts, it does not append")

-- A second message on the same connection, no table match.
must(mt.macro(conn, SMFIC_MAIL, "i", "HDRQID2"), "macro i")
must(mt.mailfrom(conn, "<plain@x.example>"), "mailfrom 2")
expect(conn, SMFIR_CONTINUE, "MAIL from plain@x.example")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto 2")
expect(conn, SMFIR_CONTINUE, "RCPT 2")
header(conn, "From", "<plain@x.example>")
must(mt.eom(conn), "eom 2")
expect(conn, SMFIR_CONTINUE, "EOM 2")
check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    "mx.example.com; none"), "message 2: Authentication-Results inserted")
check(not mt.eom_check(conn, MT_HDRINSERT, "X-Test"),
    "message 2: no X-Test header inserted")
check(not mt.eom_check(conn, MT_HDRADD, "X-Test"),
    "message 2: no X-Test header added")
check(not mt.eom_check(conn, MT_HDRDELETE),
    "message 2: nothing deleted")
mt.disconnect(conn)
