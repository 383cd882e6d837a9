-- quarantine.lua - a HOLD table action becomes a quarantine request
--
-- check_sender_access answers HOLD for hold@bad.example: no rejection at
-- any stage, and at end of message filterd asks to quarantine (Postfix
-- puts the message in its hold queue). Another sender is not held.
dofile(srcdir .. "/common.lua")

local conn = connect_filter()
envelope(conn, "HOLDQID1", "hold@bad.example", "user@ours.example")
must(mt.eom(conn), "eom")
expect(conn, SMFIR_CONTINUE, "EOM")
check(mt.eom_check(conn, MT_QUARANTINE), "quarantine requested")

must(mt.macro(conn, SMFIC_MAIL, "i", "HOLDQID2"), "macro i")
must(mt.mailfrom(conn, "<fine@good.example>"), "mailfrom 2")
expect(conn, SMFIR_CONTINUE, "MAIL from fine@good.example")
must(mt.rcptto(conn, "<user@ours.example>"), "rcptto 2")
expect(conn, SMFIR_CONTINUE, "RCPT 2")
must(mt.eom(conn), "eom 2")
expect(conn, SMFIR_CONTINUE, "EOM 2")
check(not mt.eom_check(conn, MT_QUARANTINE), "message 2 not quarantined")
mt.disconnect(conn)
