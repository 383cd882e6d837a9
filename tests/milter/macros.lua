-- macros.lua - the queue id from macro i keys filterd's log lines
--
-- The MTA hands the queue id in macro i at MAIL; filterd's log line for
-- the message must start its message part with "QID: " (Postfix and
-- opendkim style).
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
envelope(conn, "QIDMACRO1", "sender@example.org", "user@ours.example")
must(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "EOM")
mt.disconnect(conn)

if log_wait("QIDMACRO1: ") == nil then
	fail("no line with \"QIDMACRO1: \" in " .. log)
end
