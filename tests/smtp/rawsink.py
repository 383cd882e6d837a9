#!/usr/bin/python3
# rawsink.py - an SMTP server for tests of the mta's SMTP client that keeps
# the DATA phase byte for byte (smtp-sink undoes dot-stuffing and mends
# line ends, so it cannot show what went over the wire). Standard library
# only; run it with /usr/bin/python3.
#
# Usage:
#   rawsink.py --port PORT --dir DIR [--host 127.0.0.1] [--ready FILE]
#
# Every connection is logged to DIR/log ("connect N", each command line,
# "disconnect N"); the DATA of each transaction, exactly as received up
# to and including the terminating CR LF . CR LF, goes to DIR/data.K
# (K counts transactions from 1). EHLO offers PIPELINING, 8BITMIME and
# SMTPUTF8; every command gets 250 (DATA 354, QUIT 221). The data ends
# only at CR LF . CR LF (or a first line of ". CR LF"), so a client that
# sends a bare-LF dot would be seen running two messages into one file.
import argparse
import os
import socket
import threading

EHLO = (b"250-rawsink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
        b"250 SMTPUTF8\r\n")


class Sink:
    """shared state: the log and the transaction counter"""

    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.conns = 0
        self.msgs = 0

    def log(self, text):
        with self.lock:
            with open(os.path.join(self.dir, "log"), "a") as f:
                f.write(text + "\n")

    def next_conn(self):
        with self.lock:
            self.conns += 1
            return self.conns

    def store(self, data):
        with self.lock:
            self.msgs += 1
            k = self.msgs
        path = os.path.join(self.dir, "data.%d" % k)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)


def serve(sink, conn):
    """one SMTP session on conn"""
    n = sink.next_conn()
    sink.log("connect %d" % n)
    buf = b""
    try:
        conn.sendall(b"220 rawsink ESMTP\r\n")
        while True:
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            sink.log(line.decode("latin-1"))
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"LHLO"):
                conn.sendall(EHLO)
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while not (buf.startswith(b".\r\n") or
                           b"\r\n.\r\n" in buf):
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                end = 3 if buf.startswith(b".\r\n") else \
                    buf.index(b"\r\n.\r\n") + 5
                sink.store(buf[:end])
                buf = buf[end:]
                conn.sendall(b"250 2.0.0 Ok: stored\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")
    except OSError:
        pass
    finally:
        sink.log("disconnect %d" % n)
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ready")
    a = ap.parse_args()
    sink = Sink(a.dir)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(64)
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write("%s:%d\n" % (a.host, a.port))
        os.rename(a.ready + ".tmp", a.ready)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(sink, conn),
                         daemon=True).start()


if __name__ == "__main__":
    main()
