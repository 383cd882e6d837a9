-- negotiate.lua - what filterd asks for with only the access module
--
-- No module reads the body, so filterd must negotiate the body away
-- (SMFIP_NOBODY) and not ask to replace it; it must ask for the header
-- actions (Authentication-Results, PREPEND) and for quarantine (HOLD).
-- A whole transaction must then run on what was negotiated.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
-- Offer what Postfix offers: protocol 6, every action, every step.
must(mt.negotiate(conn, 6, 0x1FF, 0x1FFFFF), "negotiate")

check(mt.test_option(conn, SMFIP_NOBODY), "SMFIP_NOBODY requested")
check(mt.test_action(conn, SMFIF_ADDHDRS), "SMFIF_ADDHDRS requested")
check(mt.test_action(conn, SMFIF_CHGHDRS), "SMFIF_CHGHDRS requested")
check(mt.test_action(conn, SMFIF_QUARANTINE), "SMFIF_QUARANTINE requested")
check(not mt.test_action(conn, SMFIF_CHGBODY),
    "SMFIF_CHGBODY not requested")
-- DATA keeps its reply (it ACKs Postfix's packets, see
-- docs/performance.md). The NR_CONN/HELO/MAIL steps filterd asks for under
-- delay_reject are checked by stages.lua through the raw probe: Debian's
-- miltertest never offers them.
check(not mt.test_option(conn, SMFIP_NR_RCPT), "RCPT replies kept")
check(not mt.test_option(conn, SMFIP_NODATA), "DATA step kept")

envelope(conn, "NEGQID1", "sender@example.org", "user@ours.example")
if not mt.test_option(conn, SMFIP_NOHDRS) then
	must(mt.header(conn, "From", "sender@example.org"), "header")
	if not mt.test_option(conn, SMFIP_NR_HDR) then
		expect(conn, SMFIR_CONTINUE, "header")
	end
end
-- miltertest fills in the steps left out (EOH, BODY) unless the filter
-- negotiated them away.
must(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "EOM")
mt.disconnect(conn)
