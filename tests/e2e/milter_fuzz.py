#!/usr/bin/python3
"""milter_fuzz.py - throw malformed milter traffic at a filter.

Usage: milter_fuzz.py PORT [CONNECTIONS] [SEED]

Opens CONNECTIONS (default 200) connections to 127.0.0.1:PORT, a few at a
time, and sends each one a malformed conversation: random bytes, packets
with impossible lengths (0, 1, 0xFFFFFFFF, larger than the filter's
maximum), truncated packets, commands out of order, unterminated strings,
unknown command bytes, after a valid or without a negotiation. It never
checks answers (the filter may close at once); it prints a summary and
exits 0 unless it could not connect at all. Loopback only.
"""
import random
import socket
import struct
import sys
import threading

HOST = "127.0.0.1"


def pkt(cmd, data=b""):
    """A well-formed milter packet."""
    return struct.pack(">I", len(data) + 1) + cmd + data


def negotiate():
    """The MTA's 'O' as Postfix sends it: version 6, all actions/steps."""
    return pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))


def connect_ok():
    return (pkt(b"D", b"C" + b"j\0mx.example.com\0") +
            pkt(b"C", b"client.example\x004" + struct.pack(">H", 25) +
                b"192.0.2.1\0"))


def cases(rng):
    """Yield (name, list of byte chunks to send) forever."""
    gens = [
        ("random", lambda: [rng.randbytes(rng.randint(1, 600))]),
        ("random-after-O", lambda: [negotiate(),
                                    rng.randbytes(rng.randint(1, 600))]),
        ("O-short", lambda: [struct.pack(">I", 5) + b"O\0\0\0\x06"]),
        ("O-len-13-truncated", lambda: [struct.pack(">I", 13) + b"O\0\0"]),
        ("O-len-1", lambda: [pkt(b"O")]),
        ("len-0", lambda: [struct.pack(">I", 0)]),
        ("len-0-then-more", lambda: [struct.pack(">I", 0) + negotiate()]),
        ("len-ffffffff", lambda: [struct.pack(">I", 0xFFFFFFFF) + b"O"]),
        ("len-ffffffff-after-O", lambda: [negotiate(),
                                          struct.pack(">I", 0xFFFFFFFF)]),
        ("huge-then-close", lambda: [struct.pack(">I", 0x7FFFFFFF) + b"B" +
                                     b"x" * 4096]),
        ("over-max-body", lambda: [negotiate(), connect_ok(),
                                   struct.pack(">I", 70000) + b"B" +
                                   b"y" * 1000]),
        ("length-field-cut", lambda: [b"\0\0"]),
        ("unknown-cmd", lambda: [negotiate(), pkt(bytes([rng.choice(
            b"FGIJPSVWXYZgjkz\x00\xff")]), rng.randbytes(8))]),
        ("C-no-nul", lambda: [negotiate(), pkt(b"C", b"host-without-nul")]),
        ("C-bad-family", lambda: [negotiate(), pkt(b"C", b"h\0Z\0\x19x\0")]),
        ("C-short-port", lambda: [negotiate(), pkt(b"C", b"h\x004\x00")]),
        ("C-ipv4-garbage", lambda: [negotiate(), pkt(
            b"C", b"h\x004\x00\x19999.1.2.3.4.5\0")]),
        ("M-before-C", lambda: [negotiate(),
                                pkt(b"M", b"<a@b.example>\0")]),
        ("R-before-M", lambda: [negotiate(), connect_ok(),
                                pkt(b"R", b"<x@ours.example>\0")]),
        ("M-no-nul", lambda: [negotiate(), connect_ok(),
                              pkt(b"H", b"helo\0"),
                              pkt(b"M", b"<a@b.example>")]),
        ("M-empty", lambda: [negotiate(), connect_ok(), pkt(b"M")]),
        ("R-empty", lambda: [negotiate(), connect_ok(),
                             pkt(b"M", b"<a@b.example>\0"), pkt(b"R")]),
        ("R-huge-addr", lambda: [negotiate(), connect_ok(),
                                 pkt(b"M", b"<a@b.example>\0"),
                                 pkt(b"R", b"<" + b"x" * 60000 +
                                     b"@ours.example>\0")]),
        ("L-no-value", lambda: [negotiate(), connect_ok(),
                                pkt(b"M", b"<a@b.example>\0"),
                                pkt(b"R", b"<u@ours.example>\0"),
                                pkt(b"L", b"Subject")]),
        ("E-without-msg", lambda: [negotiate(), connect_ok(), pkt(b"E")]),
        ("B-before-headers", lambda: [negotiate(), connect_ok(),
                                      pkt(b"B", b"body\r\n"), pkt(b"E")]),
        ("D-garbage-macros", lambda: [negotiate(), pkt(b"D", b"C" +
                                                       rng.randbytes(40))]),
        ("D-no-cmd", lambda: [negotiate(), pkt(b"D")]),
        ("A-Q-spam", lambda: [negotiate()] + [pkt(b"A")] * 50 + [pkt(b"Q")]),
        ("K-then-garbage", lambda: [negotiate(), connect_ok(), pkt(b"K"),
                                    rng.randbytes(30)]),
        ("full-then-truncated", lambda: [negotiate(), connect_ok(),
                                         pkt(b"H", b"client.example\0"),
                                         pkt(b"M", b"<a@b.example>\0"),
                                         pkt(b"R", b"<u@ours.example>\0"),
                                         pkt(b"T"),
                                         pkt(b"L", b"From\0x\0"), pkt(b"N"),
                                         struct.pack(">I", 100) + b"Bpart"]),
        ("byte-by-byte-O", lambda: [bytes([b]) for b in negotiate()[:9]]),
    ]
    i = 0
    while True:
        yield gens[i % len(gens)][0], gens[i % len(gens)][1]()
        i += 1


def one(port, name, chunks, stats, lock):
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError as e:
        with lock:
            stats["connect_failed"] += 1
            stats["errors"].append("%s: connect: %s" % (name, e))
        return
    try:
        s.settimeout(0.5)
        for c in chunks:
            s.sendall(c)
        # Read a little so the filter gets to act on what it got.
        try:
            s.recv(4096)
        except OSError:
            pass
    except OSError:
        pass  # the filter may close on us: that is fine
    finally:
        s.close()
    with lock:
        stats["done"] += 1


def main():
    port = int(sys.argv[1])
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 4242
    rng = random.Random(seed)
    stats = {"done": 0, "connect_failed": 0, "errors": []}
    lock = threading.Lock()
    gen = cases(rng)
    batch = 10
    for start in range(0, total, batch):
        threads = []
        for _ in range(min(batch, total - start)):
            name, chunks = next(gen)
            t = threading.Thread(target=one,
                                 args=(port, name, chunks, stats, lock))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    print("# fuzz: %d connections, %d connect failures (seed %d)" %
          (stats["done"], stats["connect_failed"], seed))
    for e in stats["errors"][:5]:
        print("# fuzz: " + e)
    sys.exit(0 if stats["done"] > 0 else 1)


if __name__ == "__main__":
    main()
