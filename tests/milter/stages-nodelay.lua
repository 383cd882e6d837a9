-- stages-nodelay.lua - with delay_reject = no the client is refused at once
--
-- Same table as stages.lua; the rejection must be the answer to CONNECT,
-- with the same Postfix text. Another client is not affected.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
must(mt.conninfo(conn, "client.example", "192.0.2.66"), "conninfo")
expect(conn, SMFIR_REPLYCODE, "CONNECT from 192.0.2.66")
mt.disconnect(conn)

local out = probe_replies("client.example", "192.0.2.66", "client.example",
    "sender@example.org", "user@ours.example")
expect_line(out, "CONNECT y 554 5.7.1 " ..
    "<client.example[192.0.2.66]>: Client host rejected: go away",
    "rejection text at CONNECT")

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
