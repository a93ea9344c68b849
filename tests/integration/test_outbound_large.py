"""A large message goes out streamed from its queue file (net/outbound_connection.hpp,
ContentSource), not read whole into memory: a 24 MiB message is relayed intact, by DATA and by
BDAT (RFC 3030), while Taube's peak resident memory grows by a few MiB, not by the message's
size (the receiving side streams it to disk in 128 KiB pieces too)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

MIB = 1024 * 1024
SIZE = 24 * MIB


def sanitized() -> bool:
    """A sanitizer build keeps freed memory in quarantine: its RSS says nothing about copies."""
    libs = subprocess.run(["ldd", h.taube_bin()], capture_output=True, text=True).stdout
    return re.search(r"lib[at]san", libs) is not None


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class LargeMessage(unittest.TestCase):
    def relay(self, extensions: tuple[str, ...], marker: str) -> None:
        port = free_port("127.0.0.2")
        peer = SmtpPeer(port=port, extensions=extensions)
        self.addCleanup(peer.stop)
        srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                      extra={"limits": {"max_message_size": 64 * MIB}})
        o.guard(self, srv)
        line = b"y" * 998 + b"\r\n"
        body = o.message(marker) + line * (SIZE // len(line))
        base = kib(srv.proc.pid, "VmRSS")
        qid = o.submit(srv, ALICE, [BOB], body)
        self.assertIsNotNone(srv.wait_log(o.status_rx(BOB, "sent", qid), 60), o.diag(srv, peer))
        [got] = peer.wait_for(1, 5)
        # Intact: the peer has what was submitted under Taube's Received: header.
        self.assertTrue(got.data.endswith(body), f"{len(got.data)} octets arrived for "
                        f"{len(body)} submitted")
        self.assertEqual(hashlib.sha256(got.data[-len(body):]).hexdigest(),
                         hashlib.sha256(body).hexdigest())
        grown = kib(srv.proc.pid, "VmHWM") - base
        print(f"MEASURE large_message: size_mib={SIZE // MIB} peak_rss_growth_kib={grown}",
              file=sys.stderr)
        if not sanitized():
            self.assertLess(grown, 12 * 1024, f"peak RSS grew by {grown} KiB for a "
                            f"{SIZE // MIB} MiB message: read whole?")
        self.assertEqual(o.wait_queue_clear(srv, marker.encode()), [], o.diag(srv, peer))
        self.assertEqual(srv.stop(), 0)

    def test_streamed_with_data(self):
        self.relay(("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"), "large-data")

    def test_streamed_with_bdat(self):
        self.relay(("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"), "large-bdat")

    def test_a_large_bounce_returns_the_headers_only(self):
        """RET=FULL for a 24 MiB message the peer refuses at the end of data (550): the DSN
        returns its headers (text/rfc822-headers: over the 1 MiB a DSN returns), and building
        it does not read the message into memory either."""
        port = free_port("127.0.0.2")
        peer = SmtpPeer(port=port, extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
                        data=lambda t: "550 5.7.1 not this one")
        self.addCleanup(peer.stop)
        srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                      extra={"limits": {"max_message_size": 64 * MIB}})
        o.guard(self, srv)
        line = b"z" * 998 + b"\r\n"
        body = o.message("large-bounce") + line * (SIZE // len(line))
        base = kib(srv.proc.pid, "VmRSS")
        qid = o.submit(srv, ALICE, [BOB], body, mail_params="RET=FULL")
        self.assertIsNotNone(srv.wait_log(o.status_rx(BOB, "bounced", qid), 60),
                             o.diag(srv, peer))
        [dsn] = o.wait_dsns(srv, ALICE, 1, 20, "failed")
        self.assertIsNotNone(dsn.original, dsn.raw[:2000])
        self.assertEqual(dsn.original.get_content_type(), "text/rfc822-headers")
        self.assertIn("large-bounce", dsn.original_text())
        self.assertLess(len(dsn.raw), 64 * 1024)
        grown = kib(srv.proc.pid, "VmHWM") - base
        if not sanitized():
            self.assertLess(grown, 12 * 1024, f"peak RSS grew by {grown} KiB")
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    unittest.main()
