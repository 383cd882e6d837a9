-- stages.lua - with delay_reject = yes a client rejection waits for RCPT
--
-- check_client_access rejects 192.0.2.66 ("REJECT go away"). CONNECT,
-- HELO and MAIL must continue; the rejection comes at RCPT in Postfix's
-- words. Another client is not affected.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
must(mt.conninfo(conn, "client.example", "192.0.2.66"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT from 192.0.2.66")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")
must(mt.macro(conn, SMFIC_MAIL, "i", "STAGEQID1"), "macro i")
must(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
expect(conn, SMFIR_REPLYCODE, "RCPT from 192.0.2.66")
mt.disconnect(conn)

local out = probe_replies("client.example", "192.0.2.66", "client.example",
    "sender@example.org", "user@ours.example")
-- with delay_reject nothing but "continue" is possible before RCPT, so
-- filterd tells the MTA not to wait for those replies at all
expect_line(out, "CONNECT noreply", "CONNECT")
expect_line(out, "HELO noreply", "HELO")
expect_line(out, "MAIL noreply", "MAIL")
expect_line(out, "RCPT:user@ours.example y 554 5.7.1 " ..
    "<client.example[192.0.2.66]>: Client host rejected: go away",
    "rejection text at RCPT")

out = probe_replies("client.example", "192.0.2.67", "client.example",
    "sender@example.org", "user@ours.example")
expect_line(out, "RCPT:user@ours.example c", "RCPT from 192.0.2.67")
