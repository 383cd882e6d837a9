#!/usr/bin/python3
"""replytext.py - reply texts before end of message, which miltertest hides.

Usage: replytext.py PORT CLIENT_HOST CLIENT_IP HELO FROM RCPT...

miltertest keeps only the command byte of a reply at CONNECT, HELO, MAIL
and RCPT, so a script cannot check the SMTP text of a rejection there. This
probe holds the same conversation on 127.0.0.1:PORT (negotiate offering
everything, connect, helo, mail with macro i = PROBEQID, one rcpt per
argument, abort, quit), honours the NO*/NR_* steps the filter asks for, and
prints one line per reply it read:

    EVENT CMD [TEXT]

or "EVENT noreply" for an event whose reply the filter negotiated away.

EVENT is CONNECT, HELO, MAIL or RCPT:<addr>; CMD the reply byte (c, a, r,
t, d, y, ...); TEXT the text of a 'y' reply. It stops after a refusal at
CONNECT or HELO, as an MTA would. Exit 0, or 2 with a message on stderr
when the filter breaks the protocol, closes or stalls (5 s).
"""
import socket
import struct
import sys

NOCONNECT, NOHELO, NOMAIL, NORCPT = 0x1, 0x2, 0x4, 0x8
NR_CONN, NR_HELO, NR_MAIL, NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
FINAL = b"catdy4f"


def fail(msg):
    sys.stderr.write("replytext.py: %s\n" % msg)
    sys.exit(2)


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            fail("filter closed the connection")
        buf += chunk
    return buf


def read_pkt(sock):
    (n,) = struct.unpack(">I", read_exact(sock, 4))
    if n < 1 or n > 1 << 20:
        fail("bad packet length %d" % n)
    data = read_exact(sock, n)
    return data[:1], data[1:]


def event(sock, steps, name, cmd, data, no_bit, nr_bit, macros=None):
    """Send one event; print and return the reply byte (b"c" if none)."""
    if macros:
        sock.sendall(pkt(b"D", cmd + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in macros)))
    if steps & no_bit:
        return b"c"
    sock.sendall(pkt(cmd, data))
    if steps & nr_bit:
        print("%s noreply" % name)
        return b"c"
    while True:
        rcmd, rdata = read_pkt(sock)
        if rcmd == b"p":
            continue
        if rcmd not in [bytes([b]) for b in FINAL]:
            fail("%s: unexpected reply %r %r" % (name, rcmd, rdata))
        text = ""
        if rcmd == b"y":
            if not rdata.endswith(b"\0"):
                fail("%s: reply text not NUL-terminated" % name)
            text = " " + rdata[:-1].decode("utf-8", "replace")
        print("%s %s%s" % (name, rcmd.decode(), text))
        return rcmd


def main():
    if len(sys.argv) < 7:
        fail("usage: replytext.py PORT HOST IP HELO FROM RCPT...")
    port, host, ip, helo, sender = sys.argv[1:6]
    rcpts = sys.argv[6:]
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
        rcmd, rdata = read_pkt(sock)
        if rcmd != b"O" or len(rdata) < 12:
            fail("bad negotiation reply %r" % rcmd)
        _, _, steps = struct.unpack(">III", rdata[:12])
        family = b"6" if ":" in ip else b"4"
        conn = (host.encode() + b"\0" + family + struct.pack(">H", 4321) +
                ip.encode() + b"\0")
        r = event(sock, steps, "CONNECT", b"C", conn, NOCONNECT, NR_CONN,
                  [("j", "mx.example.com"), ("{client_addr}", ip)])
        if r != b"c":
            return
        r = event(sock, steps, "HELO", b"H", helo.encode() + b"\0",
                  NOHELO, NR_HELO)
        if r != b"c":
            return
        event(sock, steps, "MAIL", b"M", b"<" + sender.encode() + b">\0",
              NOMAIL, NR_MAIL, [("i", "PROBEQID")])
        for rcpt in rcpts:
            event(sock, steps, "RCPT:" + rcpt, b"R",
                  b"<" + rcpt.encode() + b">\0", NORCPT, NR_RCPT,
                  [("i", "PROBEQID")])
        sock.sendall(pkt(b"A") + pkt(b"Q"))
    except socket.timeout:
        fail("no reply within 5 s")
    except OSError as e:
        fail(str(e))
    finally:
        sock.close()


main()
