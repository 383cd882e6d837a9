-- relay.lua - relay control: mynetworks and relay_domains
--
-- 192.0.2.10 is outside mynetworks (127.0.0.1/32): a recipient outside
-- relay_domains gets Postfix's "Relay access denied" at RCPT, one inside
-- is accepted. From 127.0.0.1 the same foreign recipient is relayed.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
must(mt.conninfo(conn, "client.example", "192.0.2.10"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT from 192.0.2.10")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")
must(mt.macro(conn, SMFIC_MAIL, "i", "RELAYQID1"), "macro i")
must(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL")
must(mt.rcptto(conn, "<victim@other.example>"), "rcptto victim")
expect(conn, SMFIR_REPLYCODE, "RCPT victim@other.example from 192.0.2.10")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto user")
expect(conn, SMFIR_CONTINUE, "RCPT user@ours.example from 192.0.2.10")
mt.disconnect(conn)

-- The text of a rejection at RCPT is invisible to miltertest.
local out = probe_replies("client.example", "192.0.2.10", "client.example",
    "sender@example.org", "victim@other.example", "user@ours.example")
expect_line(out, "RCPT:victim@other.example y 554 5.7.1 " ..
    "<victim@other.example>: Relay access denied", "relay text")
expect_line(out, "RCPT:user@ours.example c", "relay_domains recipient")

conn = connect_filter()
must(mt.conninfo(conn, "localhost", "127.0.0.1"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT from 127.0.0.1")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")
must(mt.macro(conn, SMFIC_MAIL, "i", "RELAYQID2"), "macro i")
must(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL")
must(mt.rcptto(conn, "<victim@other.example>"), "rcptto victim")
expect(conn, SMFIR_CONTINUE, "RCPT victim@other.example from 127.0.0.1")
mt.disconnect(conn)
