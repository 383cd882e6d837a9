-- macros.lua - the queue id from macro i keys filterd's log lines
--
-- The MTA hands the queue id in macro i at MAIL; filterd's log line for
-- the message must start its message part with "QID: " (Postfix and
-- opendkim style).
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
must(mt.conninfo(conn, "localhost", "127.0.0.1"), "conninfo")
expect(conn, SMFIR_CONTINUE, "CONNECT")
must(mt.helo(conn, "client.example"), "helo")
expect(conn, SMFIR_CONTINUE, "HELO")
must(mt.macro(conn, SMFIC_MAIL, "i", "QIDMACRO1"), "macro i")
must(mt.mailfrom(conn, "<sender@example.org>"), "mailfrom")
expect(conn, SMFIR_CONTINUE, "MAIL")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto")
expect(conn, SMFIR_CONTINUE, "RCPT")
must(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "EOM")
mt.disconnect(conn)

if log_wait("QIDMACRO1: ") == nil then
	fail("no line with \"QIDMACRO1: \" in " .. log)
end
