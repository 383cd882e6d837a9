#!/usr/bin/python3
# testmilter.py - a scriptable milter (the filter side of the milter
# protocol) for tests of the mta: it answers what a JSON script says and
# logs every packet the MTA sends, so a test can assert exactly what went
# over the wire. Standard library only; run it with /usr/bin/python3.
#
# Usage:
#   testmilter.py --script FILE --log FILE
#                 (--inet [HOST:]PORT | --unix PATH) [--ready FILE]
#
# Listens on HOST (default 127.0.0.1) and PORT (0: any free port), or on
# the unix socket PATH (a stale one is removed). When listening it writes
# its socket in the mta's syntax ("inet:127.0.0.1:PORT", "unix:PATH") and
# a newline to the --ready file (written under another name and renamed,
# so the file appearing means ready) and to stdout. Each connection is
# served by its own thread with its own position in the script; the
# process runs until it is killed (SIGTERM removes a unix socket).
#
# Script: a JSON object.
#
#   "negotiate": the answer to 'O': an object
#       {"version": 6, "actions": 511, "flags": 0,
#        "macros": {"connect": "j {client_addr}", "eom": "i"},
#        "extra": "HEX"}
#     every key optional: version defaults to the MTA's (at most 6),
#     actions to what the MTA offered, flags to 0, no macro lists. Macro
#     stages by name (connect helo mail rcpt data eom eoh) or number
#     ("7" sends an unknown stage); "extra" is hex appended to the data.
#     Anything else is a RESPONSE (below), e.g. ["c"] or {"raw": ...}
#     for a broken negotiation.
#
#   One key per stage, each a list of RESPONSEs: the n-th time the MTA
#   sends that command, the n-th RESPONSE answers it:
#       connect (C)  helo (H)  mail (M)  rcpt (R)  data (T)  header (L)
#       eoh (N)  body (B)  eom (E)  unknown (U)  abort (A)  macro (D)
#       quit (Q)  quit_nc (K)
#   When the list is used up (or the stage is absent) the default answer
#   is used: nothing for abort, macro, quit, quit_nc and for the events
#   whose reply the filter negotiated away (its NR_* flags), else "c".
#   With "repeat": true at the top, a used-up list repeats its last
#   RESPONSE instead.
#
#   "sessions": [SCRIPT, ...]: the n-th connection uses the n-th script
#   (keys it lacks come from the top level; the last one repeats).
#
# A RESPONSE is one ACTION or a list of ACTIONs done in order (each
# packet goes out in its own write, as libmilter does):
#   "c" "a" "r" "t" "d" "4" "f" "p" "s"   that reply, no data
#   "none"                        send nothing (also: [])
#   "close"                       close the connection
#   {"sleep": SECONDS}            wait
#   {"y": "550 5.7.1 text"}       reply code text ('y'; NUL added)
#   {"h": [NAME, VALUE]}          add header
#   {"i": [INDEX, NAME, VALUE]}   insert header
#   {"m": [INDEX, NAME, VALUE]}   change header ("" deletes)
#   {"e": [ADDR]} / {"e": [ADDR, ARGS]}   change sender
#   {"+": ADDR}  {"2": [ADDR, ARGS]}  {"-": ADDR}   recipients
#   {"b": TEXT}                   replacement body chunk (no NUL added)
#   {"q": REASON}                 quarantine
#   {"O": {...}}                  a negotiation answer as above
#   {"packet": [CODE, DATA]}      any packet: CODE one character, DATA
#                                 as is (no NUL added)
#   {"raw": "HEX"}                these bytes exactly (bad lengths...)
# Text in a script stands for bytes: each character U+0000..U+00FF is
# one byte (latin-1), so "\u0000" and "\r\n" are what they say.
#
# Log: one JSON object per line (compact, keys in this order), written
# and flushed before the packet is answered:
#   {"conn":N,"event":"open"}            a connection was accepted
#   {"conn":N,"event":"eof"}             the MTA closed it
#   {"conn":N,"event":"closed"}          the script closed it
#   {"conn":N,"cmd":"O","version":V,"actions":A,"flags":F}
#   {"conn":N,"cmd":"D","for":"C","macros":[["j","mx"],...]}
#   {"conn":N,"cmd":"C","hostname":H,"family":"4","port":P,"address":A}
#       (family "U": no port and address)
#   {"conn":N,"cmd":"H","helo":H}
#   {"conn":N,"cmd":"M","args":[...]}    also "R"
#   {"conn":N,"cmd":"T"}  "N"  "A"  "Q"  "K"
#   {"conn":N,"cmd":"L","name":NAME,"value":VALUE}
#   {"conn":N,"cmd":"B","len":L,"data":TEXT}
#   {"conn":N,"cmd":"E","len":L}         (and "data" when L > 0)
#   {"conn":N,"cmd":"U","command":TEXT}
#   {"conn":N,"cmd":"X","error":WHAT,"hex":HEX}   anything malformed
# Strings are the bytes as latin-1 (json escapes what is not ASCII).

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

MAX_PACKET = 1024 * 1024

STAGES = {
    "O": "negotiate", "C": "connect", "H": "helo", "M": "mail",
    "R": "rcpt", "T": "data", "L": "header", "N": "eoh", "B": "body",
    "E": "eom", "U": "unknown", "A": "abort", "D": "macro", "Q": "quit",
    "K": "quit_nc",
}

# commands never answered, and the NR_* flag of each answered one
NO_ANSWER = {"A", "D", "Q", "K"}
NR_FLAG = {
    "C": 0x1000, "H": 0x2000, "M": 0x4000, "R": 0x8000, "T": 0x10000,
    "U": 0x20000, "L": 0x80, "N": 0x40000, "B": 0x80000,
}

NEGOTIATE_KEYS = {"version", "actions", "flags", "macros", "extra"}

MACRO_STAGES = {
    "connect": 0, "helo": 1, "mail": 2, "rcpt": 3, "data": 4, "eom": 5,
    "eoh": 6,
}

LOG_LOCK = threading.Lock()
LOG = None


def log(entry):
    """log - one JSON line, flushed at once"""
    with LOG_LOCK:
        LOG.write(json.dumps(entry, separators=(",", ":")) + "\n")
        LOG.flush()


def text(s):
    """text - a script string as bytes (latin-1)"""
    return s.encode("latin-1")


def show(b):
    """show - bytes as a log string"""
    return b.decode("latin-1")


def packet(code, data=b""):
    """packet - length, code, data"""
    return struct.pack(">I", 1 + len(data)) + text(code) + data


def split_strings(data):
    """split_strings - NUL-terminated strings; None if the last lacks
    its NUL"""
    if data and not data.endswith(b"\0"):
        return None
    return [show(s) for s in data.split(b"\0")[:-1]]


class Conn:
    """Conn - one connection: its script position and what was agreed"""

    def __init__(self, sock, number, script):
        self.sock = sock
        self.n = number
        self.script = script
        self.counts = {}
        self.flags = 0
        self.mta_version = 6
        self.mta_actions = 0x1FF
        self.open = True

    def entry(self, **kw):
        """entry - a log line of this connection"""
        e = {"conn": self.n}
        e.update(kw)
        log(e)

    def recv_exact(self, n):
        """recv_exact - n bytes, or None at EOF"""
        got = b""
        while len(got) < n:
            b = self.sock.recv(n - len(got))
            if not b:
                return None
            got += b
        return got

    def negotiation(self, spec):
        """negotiation - the 'O' answer spec asks for"""
        version = spec.get("version", min(self.mta_version, 6))
        actions = spec.get("actions", self.mta_actions)
        flags = spec.get("flags", 0)
        self.flags = flags
        data = struct.pack(">III", version, actions, flags)
        for stage, names in spec.get("macros", {}).items():
            number = MACRO_STAGES.get(stage)
            if number is None:
                number = int(stage)
            data += struct.pack(">I", number) + text(names) + b"\0"
        data += bytes.fromhex(spec.get("extra", ""))
        return packet("O", data)

    def act(self, action):
        """act - do one ACTION"""
        if isinstance(action, str):
            if action == "none":
                return
            if action == "close":
                self.close()
                return
            if len(action) != 1:
                raise ValueError("bad action %r" % action)
            self.send(packet(action))
            return
        if not isinstance(action, dict) or len(action) != 1:
            raise ValueError("bad action %r" % (action,))
        (key, v), = action.items()
        if key == "sleep":
            time.sleep(v)
        elif key == "y":
            self.send(packet("y", text(v) + b"\0"))
        elif key == "h":
            self.send(packet("h", text(v[0]) + b"\0" + text(v[1]) + b"\0"))
        elif key in ("i", "m"):
            self.send(packet(key, struct.pack(">I", v[0]) + text(v[1]) +
                             b"\0" + text(v[2]) + b"\0"))
        elif key in ("e", "2"):
            self.send(packet(key, b"".join(text(s) + b"\0" for s in v)))
        elif key in ("+", "-", "q"):
            self.send(packet(key, text(v) + b"\0"))
        elif key == "b":
            self.send(packet("b", text(v)))
        elif key == "O":
            self.send(self.negotiation(v))
        elif key == "packet":
            self.send(packet(v[0], text(v[1])))
        elif key == "raw":
            self.send(bytes.fromhex(v))
        else:
            raise ValueError("bad action %r" % (action,))

    def send(self, b):
        """send - one write; a closed peer is the MTA's business"""
        if self.open:
            try:
                self.sock.sendall(b)
            except OSError:
                pass

    def close(self):
        """close - end the connection from our side"""
        if self.open:
            self.entry(event="closed")
            self.open = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def respond(self, cmd):
        """respond - the script's next RESPONSE for cmd, or the default"""
        if cmd == "O":
            response = self.script.get("negotiate", {})
            if isinstance(response, dict) and \
                    set(response) <= NEGOTIATE_KEYS:
                response = {"O": response}
        else:
            stage = STAGES[cmd]
            i = self.counts.get(stage, 0)
            self.counts[stage] = i + 1
            responses = self.script.get(stage) or []
            if i < len(responses):
                response = responses[i]
            elif responses and self.script.get("repeat"):
                response = responses[-1]
            elif cmd in NO_ANSWER or self.flags & NR_FLAG.get(cmd, 0):
                response = []
            else:
                response = "c"
        for action in response if isinstance(response, list) \
                else [response]:
            if not self.open:
                break
            self.act(action)

    def decode(self, cmd, data):
        """decode - the log entry of one packet"""
        e = {"cmd": cmd}
        if cmd == "O":
            if len(data) < 12:
                return None
            e["version"], e["actions"], e["flags"] = \
                struct.unpack(">III", data[:12])
            self.mta_version = e["version"]
            self.mta_actions = e["actions"]
        elif cmd == "D":
            if not data:
                return None
            strings = split_strings(data[1:])
            if strings is None or len(strings) % 2:
                return None
            e["for"] = show(data[:1])
            e["macros"] = [list(p) for p in zip(strings[::2], strings[1::2])]
        elif cmd == "C":
            nul = data.find(b"\0")
            if nul < 0 or nul + 1 >= len(data):
                return None
            e["hostname"] = show(data[:nul])
            e["family"] = show(data[nul + 1:nul + 2])
            rest = data[nul + 2:]
            if e["family"] != "U":
                strings = split_strings(rest[2:])
                if len(rest) < 3 or strings is None or len(strings) != 1:
                    return None
                e["port"] = struct.unpack(">H", rest[:2])[0]
                e["address"] = strings[0]
            elif rest:
                return None
        elif cmd in ("H", "U"):
            strings = split_strings(data)
            if strings is None or len(strings) != 1:
                return None
            e["helo" if cmd == "H" else "command"] = strings[0]
        elif cmd in ("M", "R"):
            strings = split_strings(data)
            if not strings:
                return None
            e["args"] = strings
        elif cmd == "L":
            strings = split_strings(data)
            if strings is None or len(strings) != 2:
                return None
            e["name"], e["value"] = strings
        elif cmd in ("B", "E"):
            e["len"] = len(data)
            if cmd == "B" or data:
                e["data"] = show(data)
        elif cmd in ("T", "N", "A", "Q", "K"):
            if data:
                return None
        else:
            return None
        return e

    def serve(self):
        """serve - read, log and answer until either side closes"""
        self.entry(event="open")
        try:
            while self.open:
                head = self.recv_exact(4)
                if head is None:
                    self.entry(event="eof")
                    break
                (length,) = struct.unpack(">I", head)
                if length < 1 or length > MAX_PACKET:
                    self.entry(cmd="X", error="bad length %d" % length,
                               hex=head.hex())
                    break
                body = self.recv_exact(length)
                if body is None:
                    self.entry(event="eof")
                    break
                cmd, data = show(body[:1]), body[1:]
                e = self.decode(cmd, data)
                if e is None:
                    self.entry(cmd="X", error="malformed %r packet" % cmd,
                               hex=body.hex())
                    continue
                self.entry(**e)
                if cmd == "K":
                    self.counts = {}
                    self.flags = 0
                    continue
                self.respond(cmd)
                if cmd == "Q":
                    break
        except OSError as err:
            self.entry(event="error", error=str(err))
        finally:
            if self.open:
                self.open = False
                self.sock.close()


def session_script(script, number):
    """session_script - the script of the number-th connection"""
    sessions = script.get("sessions")
    if not sessions:
        return script
    merged = {k: v for k, v in script.items() if k != "sessions"}
    merged.update(sessions[min(number, len(sessions)) - 1])
    return merged


def main():
    global LOG
    ap = argparse.ArgumentParser(description="scriptable test milter")
    ap.add_argument("--script", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--inet")
    ap.add_argument("--unix")
    ap.add_argument("--ready")
    args = ap.parse_args()
    with open(args.script) as f:
        script = json.load(f)
    LOG = open(args.log, "a")

    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(args.unix)
        name = "unix:" + args.unix
    elif args.inet:
        host, _, port = args.inet.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        lsock = socket.socket(family, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, int(port)))
        bound = lsock.getsockname()
        name = "inet:%s:%d" % (host if family == socket.AF_INET
                               else "[%s]" % host, bound[1])
    else:
        ap.error("--inet or --unix is required")
    lsock.listen(64)

    def stop(signum, frame):
        if args.unix and os.path.exists(args.unix):
            os.unlink(args.unix)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)

    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write(name + "\n")
        os.rename(args.ready + ".tmp", args.ready)
    sys.stdout.write(name + "\n")
    sys.stdout.flush()

    number = 0
    while True:
        sock, _ = lsock.accept()
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        number += 1
        conn = Conn(sock, number, session_script(script, number))
        threading.Thread(target=conn.serve, daemon=True).start()


if __name__ == "__main__":
    main()
