-- stages-nodelay.lua - with delay_reject = no the client is refused at once
--
-- Same table as stages.lua; the rejection must be the answer to CONNECT,
-- with the same Postfix text. Another client is not affected.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
must(mt.negotiate(conn, 6, 0x1FF, 0x1FFFFF), "negotiate")
must(mt.conninfo(conn, "client.example", "192.0.2.66"), "conninfo")
expect(conn, SMFIR_REPLYCODE, "CONNECT from 192.0.2.66")
mt.disconnect(conn)

local out = probe_replies("client.example", "192.0.2.66", "client.example",
    "sender@example.org", "user@ours.example")
expect_line(out, "CONNECT y 554 5.7.1 " ..
    "<client.example[192.0.2.66]>: Client host rejected: go away",
    "rejection text at CONNECT")
-- without delay_reject a verdict can come at once, so the replies to
-- HELO and MAIL are awaited too (the probe offers every NR_* step)
out = probe_replies("client.example", "192.0.2.67", "client.example",
    "sender@example.org", "user@ours.example")
expect_line(out, "CONNECT c", "CONNECT reply awaited")
expect_line(out, "HELO c", "HELO reply awaited")
expect_line(out, "MAIL c", "MAIL reply awaited")

conn = connect_filter()
must(mt.conninfo(conn, "client.example", "192.0.2.67"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT from 192.0.2.67")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")
must(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
expect(conn, SMFIR_CONTINUE, "RCPT from 192.0.2.67")
mt.disconnect(conn)
