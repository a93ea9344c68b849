"""A small authoritative-and-"recursive" DNS server for tests (Python standard library only).

Answers on 127.0.0.1 over UDP and TCP from a zone given as a dict (or a JSON file):

    {
      "example.test":  {"MX": [[10, "mx1.example.test"], [20, "mx2.example.test"]]},
      "mx1.example.test": {"A": ["127.0.0.2"], "AAAA": ["::1"]},
      "nomail.test":   {"MX": [[0, "."]]},            # null MX (RFC 7505)
      "alias.test":    {"CNAME": "mx1.example.test"},
      "gone.test":     "NXDOMAIN",
      "broken.test":   "SERVFAIL",
      "slow.test":     "TIMEOUT"                        # never answered
    }

Names are case-insensitive, with or without the trailing dot. A name in the zone without the
asked type gets NODATA (NOERROR, no answer, an SOA in the authority section); a name not in the
zone gets NXDOMAIN. Every answer has QR, AA, RD (copied) and RA set: unbound in forward mode
expects a recursive upstream. CNAMEs are followed inside the zone. A UDP answer larger than the
client's limit (512, or its EDNS size) is truncated (TC) so the client retries over TCP.

    with DnsServer(zone) as dns:
        ... dns.port, dns.queries ...        # queries: [(name, type name, "udp"|"tcp"), ...]

    python3 dns_server.py --zone zone.json --port 5353
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import threading
from pathlib import Path

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "OPT": 41}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
NOERROR, SERVFAIL, NXDOMAIN = 0, 2, 3
SPECIAL = ("NXDOMAIN", "SERVFAIL", "TIMEOUT")


def _norm(name: str) -> str:
    return name.rstrip(".").lower() if name != "." else ""


def encode_name(name: str) -> bytes:
    out = b""
    for label in _norm(name).split(".") if _norm(name) else []:
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(msg: bytes, off: int) -> tuple[str, int]:
    """Reads a (possibly compressed) name; returns it and the offset after it."""
    labels, end, jumps = [], None, 0
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or jumps > 20:
                raise ValueError("bad pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            continue
        if n == 0:
            off += 1
            break
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels), (end if end is not None else off)


def _rr(name: str, rtype: int, rdata: bytes, ttl: int = 0) -> bytes:
    return encode_name(name) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def _rdata(rtype: str, value) -> bytes:
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype == "MX":
        pref, host = value
        return struct.pack("!H", int(pref)) + encode_name(host)
    if rtype in ("CNAME", "NS"):
        return encode_name(value)
    if rtype == "TXT":
        raw = value.encode()
        return bytes([len(raw)]) + raw
    raise ValueError(f"unsupported type {rtype}")


def _soa() -> bytes:
    # Owned by the root, which is an ancestor of every name: in bailiwick for a forwarder.
    rdata = encode_name("ns.test") + encode_name("hostmaster.test") + struct.pack(
        "!IIIII", 1, 3600, 600, 86400, 0)
    return _rr(".", TYPES["SOA"], rdata)


class DnsServer:
    def __init__(self, zone: dict | str | Path, port: int = 0, host: str = "127.0.0.1"):
        if not isinstance(zone, dict):
            zone = json.loads(Path(zone).read_text())
        self.zone = {_norm(k): v for k, v in zone.items()}
        self.host = host
        self.queries: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # UDP and TCP on the same port; with port 0 the free UDP port may be taken for TCP.
        for attempt in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((host, port))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind((host, self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
                if port != 0 or attempt == 49:
                    raise
        self.tcp.listen(16)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "DnsServer":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def asked(self, name: str, rtype: str | None = None) -> int:
        """How many queries for `name` (and `rtype`) arrived."""
        with self._lock:
            return sum(1 for n, t, _ in self.queries
                       if _norm(n) == _norm(name) and (rtype is None or t == rtype))

    # The answer to one query message, or None to stay silent (TIMEOUT names, garbage).
    def answer(self, msg: bytes, transport: str, limit: int | None = None) -> bytes | None:
        if len(msg) < 12:
            return None
        qid, flags, qd, _an, _ns, ar = struct.unpack("!HHHHHH", msg[:12])
        if flags & 0x8000 or qd != 1:
            return None
        try:
            qname, off = decode_name(msg, 12)
            qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        except (ValueError, struct.error):
            return None
        question = msg[12:off + 4]
        edns_size = None
        if ar:
            try:
                _, p = decode_name(msg, off + 4)
                rtype, size = struct.unpack("!HH", msg[p:p + 4])
                if rtype == TYPES["OPT"]:
                    edns_size = max(512, size)
            except (ValueError, struct.error):
                pass
        type_name = TYPE_NAMES.get(qtype, str(qtype))
        with self._lock:
            self.queries.append((qname, type_name, transport))
        rcode, answers, authority = self._lookup(_norm(qname), type_name)
        if rcode is None:
            return None
        rd = flags & 0x0100
        opcode = flags & 0x7800
        out_flags = 0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode  # QR AA RD RA
        # An OPT RR (RFC 6891 §6.1.2) when the client sent one: root name, type OPT, class =
        # our UDP payload size, ttl 0 (extended rcode, version, flags), rdlength 0.
        opt = (b"\0" + struct.pack("!HHIH", TYPES["OPT"], 1232, 0, 0)) if edns_size else b""
        body = question + b"".join(answers) + b"".join(authority) + opt
        header = struct.pack("!HHHHHH", qid, out_flags, 1, len(answers), len(authority),
                             1 if opt else 0)
        reply = header + body
        if transport == "udp":
            cap = limit or edns_size or 512
            if len(reply) > cap:
                reply = struct.pack("!HHHHHH", qid, out_flags | 0x0200, 1, 0, 0, 0) + question
        return reply

    def _lookup(self, name: str, rtype: str):
        answers: list[bytes] = []
        seen = set()
        while True:
            entry = self.zone.get(name)
            if entry is None:
                return (NXDOMAIN, answers, [_soa()]) if not answers else (NOERROR, answers, [])
            if isinstance(entry, str):
                if entry == "NXDOMAIN":
                    return NXDOMAIN, answers, [_soa()]
                if entry == "SERVFAIL":
                    return SERVFAIL, [], []
                return None, [], []  # TIMEOUT: no answer at all
            if rtype in entry:
                values = entry[rtype]
                if rtype == "CNAME" or not isinstance(values, list) or (
                        rtype == "MX" and values and not isinstance(values[0], list)):
                    values = [values]
                for v in values:
                    answers.append(_rr(name, TYPES[rtype], _rdata(rtype, v)))
                return NOERROR, answers, []
            if "CNAME" in entry and name not in seen:
                seen.add(name)
                target = _norm(entry["CNAME"])
                answers.append(_rr(name, TYPES["CNAME"], _rdata("CNAME", target)))
                name = target
                continue
            return NOERROR, answers, [] if answers else [_soa()]

    def _serve_udp(self) -> None:
        while not self._stop.is_set():
            try:
                msg, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.answer(msg, "udp")
            if reply is not None:
                try:
                    self.udp.sendto(reply, peer)
                except OSError:
                    pass

    def _serve_tcp(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while not self._stop.is_set():
                head = self._recv_exact(conn, 2)
                if head is None:
                    return
                msg = self._recv_exact(conn, struct.unpack("!H", head)[0])
                if msg is None:
                    return
                reply = self.answer(msg, "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            part = conn.recv(n - len(buf))
            if not part:
                return None
            buf += part
        return buf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zone", required=True, help="JSON file: name -> records or a failure")
    ap.add_argument("--port", type=int, default=5353)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    server = DnsServer(args.zone, args.port, args.host).start()
    # One line for whoever started us (a port of 0 picks a free one).
    print(f"listening {server.host} {server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
