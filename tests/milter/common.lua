-- common.lua - helpers for the miltertest scripts in this directory
--
-- Loaded by every script with dofile(srcdir .. "/common.lua"). run.sh
-- defines the globals: port (filterd's inet port on 127.0.0.1), dir (the
-- test's temp dir), log (filterd's log file), srcdir (this directory),
-- probe (replytext.py).

-- fail - report why the script fails, then raise the error; Debian's
-- miltertest (Lua 5.3 build) exits 1 without printing the error text
function fail(msg)
	io.stderr:write("FAIL: " .. msg .. "\n")
	error(msg, 2)
end

local reply_names = {
	[SMFIR_CONTINUE] = "CONTINUE",
	[SMFIR_ACCEPT] = "ACCEPT",
	[SMFIR_REJECT] = "REJECT",
	[SMFIR_TEMPFAIL] = "TEMPFAIL",
	[SMFIR_DISCARD] = "DISCARD",
	[SMFIR_REPLYCODE] = "REPLYCODE",
	[SMFIR_SKIP] = "SKIP",
}

-- reply_name - printable name of a reply code from mt.getreply
function reply_name(r)
	if r == nil then
		return "nil"
	end
	return reply_names[r] or string.format("%q (%s)",
	    string.char(r), tostring(r))
end

-- must - raise an error naming the step when a mt.* call failed
function must(err, what)
	if err ~= nil then
		fail(what .. " failed: " .. tostring(err))
	end
end

-- check - raise an error unless cond holds
function check(cond, what)
	if not cond then
		fail("check failed: " .. what)
	end
end

-- connect_filter - connect to filterd (retrying while it starts)
function connect_filter()
	local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 40, 0.25)
	if conn == nil then
		fail("cannot connect to inet:" .. port .. "@127.0.0.1")
	end
	return conn
end

-- envelope - a local client's transaction up to an accepted RCPT: connect
-- from 127.0.0.1, HELO, MAIL with macro i = qid, RCPT; each must continue
function envelope(conn, qid, from, rcpt)
	must(mt.conninfo(conn, "localhost", "127.0.0.1"), "conninfo")
	expect(conn, SMFIR_CONTINUE, "CONNECT")
	must(mt.helo(conn, "client.example"), "helo")
	expect(conn, SMFIR_CONTINUE, "HELO")
	must(mt.macro(conn, SMFIC_MAIL, "i", qid), "macro i")
	must(mt.mailfrom(conn, "<" .. from .. ">"), "mailfrom")
	expect(conn, SMFIR_CONTINUE, "MAIL from " .. from)
	must(mt.rcptto(conn, "<" .. rcpt .. ">"), "rcptto")
	expect(conn, SMFIR_CONTINUE, "RCPT " .. rcpt)
end

-- expect - the last reply on conn must be want
function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": got " .. reply_name(got) .. ", wanted " ..
		    reply_name(want))
	end
end

-- shell_quote - one shell word
local function shell_quote(s)
	return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

-- probe_replies - replytext.py's lines for a conversation up to RCPT
function probe_replies(host, ip, helo, from, ...)
	local cmd = shell_quote(probe) .. " " .. port
	for _, a in ipairs({ host, ip, helo, from, ... }) do
		cmd = cmd .. " " .. shell_quote(a)
	end
	local p = io.popen(cmd .. " 2>&1")
	local out = p:read("a")
	local okay = p:close()
	if not okay then
		fail("probe failed: " .. cmd .. ": " .. out)
	end
	return out
end

-- expect_line - text (several lines) must contain the exact line want
function expect_line(text, want, what)
	for line in string.gmatch(text, "[^\n]+") do
		if line == want then
			return
		end
	end
	fail(what .. ": no line \"" .. want .. "\" in:\n" .. text)
end

-- log_wait - wait (3 s at most) for a fixed string in filterd's log;
-- returns the first line holding it, or nil
function log_wait(text)
	for _ = 1, 30 do
		local f = io.open(log, "r")
		if f ~= nil then
			for line in f:lines() do
				if string.find(line, text, 1, true) then
					f:close()
					return line
				end
			end
			f:close()
		end
		mt.sleep(0.1)
	end
	return nil
end
