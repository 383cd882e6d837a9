-- rcpt.lua - one transaction up to RCPT; the reply must be as expected.
-- Globals (miltertest -D): sock (milter socket spec), ip (client address),
-- rcpt (recipient), want ("continue" or "reply": a reject/tempfail with
-- a reply code), from (optional sender).
local conn = mt.connect(sock, 20, 0.25)
if conn == nil then error("cannot connect to " .. sock) end
mt.conninfo(conn, "client.example", ip)
mt.helo(conn, "client.example")
mt.macro(conn, SMFIC_MAIL, "i", "DAEMONTEST")
mt.mailfrom(conn, "<" .. (from or "sender@client.example") .. ">")
mt.rcptto(conn, "<" .. rcpt .. ">")
local r = mt.getreply(conn)
local want_code = (want == "continue") and SMFIR_CONTINUE or SMFIR_REPLYCODE
if r ~= want_code then
	error("RCPT " .. rcpt .. " from " .. ip .. ": got reply " ..
	    tostring(r) .. ", wanted " .. want)
end
mt.disconnect(conn)
