#!/usr/bin/python3
"""converse.py - a byte-exact scripted SMTP conversation (tests only)

usage: converse.py [--tls] [--timeout SECS] [--bind ADDR] HOST PORT SCRIPT|-

The script is read line by line:

    > TEXT      send TEXT; escapes \\r \\n \\t \\0 \\\\ \\xHH are turned into
                bytes and nothing is added (write \\r\\n yourself)
    >> TEXT     send TEXT followed by CR LF
    < TEXT      the next reply line must be exactly TEXT (its CR LF is
                checked too: a line ending in a bare LF fails)
    <~ REGEX    the next reply line must match REGEX (re.fullmatch)
    <<          read reply lines up to and including the last line of a
                reply (a line with a space after the code); no check
    <.          the server must close the connection (EOF) now
    <$          nothing more arrives within 0.5 s
    !sleep S    wait S seconds
    !starttls   start TLS on the socket (client side, no verification)
    !tls        same as !starttls (for implicit TLS, at the start)
    !close      close our side
    # ...       comment; empty lines are ignored

Every line received is printed to stdout as "S: ..." and every send as
"C: ...", so a failing test shows the whole dialogue. Exit 0 when every
expectation held, 1 with the first failure on stderr.
"""
import re
import socket
import ssl
import sys
import time


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "r":
                out += b"\r"
            elif n == "n":
                out += b"\n"
            elif n == "t":
                out += b"\t"
            elif n == "0":
                out += b"\0"
            elif n == "\\":
                out += b"\\"
            elif n == "x":
                out.append(int(text[i + 2:i + 4], 16))
                i += 2
            else:
                raise ValueError("bad escape \\" + n)
            i += 2
            continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


class Conn:
    def __init__(self, host, port, timeout, bind=None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(bind, 0) if bind else None)
        self.buf = b""
        self.timeout = timeout

    def fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else
                             self.timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if data:
            self.buf += data
        return data

    def line(self):
        while b"\n" not in self.buf:
            data = self.fill()
            if data is None:
                raise AssertionError("timeout waiting for a reply line "
                                     "(have %r)" % self.buf)
            if data == b"":
                raise AssertionError("connection closed waiting for a "
                                     "reply line (have %r)" % self.buf)
        raw, self.buf = self.buf.split(b"\n", 1)
        raw += b"\n"
        text = raw.decode("utf-8", "replace")
        print("S: " + text.rstrip("\r\n"), flush=True)
        if not raw.endswith(b"\r\n"):
            raise AssertionError("reply line without CR LF: %r" % raw)
        return raw[:-2].decode("utf-8", "replace")

    def send(self, data):
        print("C: " + data.decode("utf-8", "replace").replace(
            "\r", "\\r").replace("\n", "\\n"), flush=True)
        self.sock.sendall(data)

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        if self.buf:
            raise AssertionError("bytes before TLS: %r" % self.buf)
        print("-- TLS %s %s" % (self.sock.version(),
                                self.sock.cipher()[0]), flush=True)


def run(conn, lines):
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if line.strip() == "" or line.lstrip().startswith("#"):
            continue
        try:
            if line.startswith(">> "):
                conn.send(unescape(line[3:]) + b"\r\n")
            elif line.startswith("> "):
                conn.send(unescape(line[2:]))
            elif line == ">>":
                conn.send(b"\r\n")
            elif line.startswith("<~ "):
                got = conn.line()
                if not re.fullmatch(line[3:], got):
                    raise AssertionError("reply %r does not match /%s/"
                                         % (got, line[3:]))
            elif line == "<<":
                while True:
                    got = conn.line()
                    if len(got) < 4 or got[3] != "-":
                        break
            elif line.startswith("< ") or line == "<":
                want = line[2:]
                got = conn.line()
                if got != want:
                    raise AssertionError("reply %r, want %r" % (got, want))
            elif line == "<.":
                end = time.time() + conn.timeout
                while True:
                    if conn.buf:
                        raise AssertionError("more data instead of EOF: "
                                             "%r" % conn.buf)
                    data = conn.fill(max(0.1, end - time.time()))
                    if data == b"":
                        print("-- closed", flush=True)
                        break
                    if data is None and time.time() > end:
                        raise AssertionError("still open")
            elif line == "<$":
                data = conn.fill(0.5) if not conn.buf else conn.buf
                if data:
                    raise AssertionError("unexpected data: %r" %
                                         (conn.buf or data))
            elif line.startswith("!sleep "):
                time.sleep(float(line[7:]))
            elif line in ("!starttls", "!tls"):
                conn.starttls()
            elif line == "!close":
                conn.sock.close()
                return
            else:
                raise ValueError("bad script line %d: %r" % (n, line))
        except AssertionError as e:
            sys.stderr.write("script line %d (%s): %s\n" % (n, line, e))
            return False
    return True


def main():
    args = sys.argv[1:]
    timeout = 10.0
    tls = False
    bind = None
    while args and args[0].startswith("--"):
        if args[0] == "--bind":
            bind = args[1]
            args = args[2:]
        elif args[0] == "--tls":
            tls = True
            args = args[1:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        else:
            break
    if len(args) != 3:
        sys.stderr.write(__doc__)
        return 2
    host, port, script = args
    lines = (sys.stdin if script == "-" else open(script)).readlines()
    conn = Conn(host, int(port), timeout, bind)
    if tls:
        conn.starttls()
    return 0 if run(conn, lines) else 1


if __name__ == "__main__":
    sys.exit(main())
