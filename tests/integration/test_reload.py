"""SIGHUP reloads the TLS certificate and the AUTH users file (issue 3); a broken reload keeps the
old credentials in use. New connections see the new ones; the server keeps running."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402

CAROL = "carol@example.org"
CAROL_PW = "c4rol-pw"


def served_cert(srv: s.SecTaube) -> str:
    c = s.tls_session(srv)
    try:
        der = c.sock.getpeercert(binary_form=True)
        c.expect("221", "QUIT")
    finally:
        c.close()
    return hashlib.sha256(der).hexdigest()


def hup_and_wait(srv: s.SecTaube, marker: str) -> None:
    before = len([l for l in srv.log if marker in l])
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while len([l for l in srv.log if marker in l]) <= before:
        if time.monotonic() > deadline:
            raise AssertionError(f"no '{marker}' log line after SIGHUP:\n{srv.log_text()}")
        time.sleep(0.05)


class Reload(unittest.TestCase):
    def test_users_file_reloaded(self):
        srv = s.SecTaube([s.listener("starttls")])
        try:
            c = s.tls_session(srv)
            c.expect("535 5.7.8", f"AUTH PLAIN {s.plain(CAROL, CAROL_PW)}")
            c.close()
            p = subprocess.run([h.taube_bin(), "passwd", CAROL, "--file", str(srv.users_file)],
                               input=(CAROL_PW + "\n").encode(), capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            hup_and_wait(srv, "reloaded the configuration")
            c = s.tls_session(srv)
            c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(CAROL, CAROL_PW)}")
            c.expect("221", "QUIT")
            c.close()
            # Existing users still work after the reload.
            c = s.tls_session(srv)
            c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(s.ALICE, s.ALICE_PW)}")
            c.close()
        finally:
            srv.stop()

    def test_certificate_reloaded_and_bad_reload_keeps_old(self):
        srv = s.SecTaube([s.listener("starttls")])
        try:
            first = served_cert(srv)
            # A new key and certificate at the configured paths.
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                                "/CN=mx.test", "-keyout", str(srv.key), "-out", str(srv.cert)],
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            hup_and_wait(srv, "reloaded the configuration")
            second = served_cert(srv)
            self.assertNotEqual(first, second, "SIGHUP did not load the new certificate")
            self.assertEqual(hashlib.sha256(
                subprocess.run(["openssl", "x509", "-in", str(srv.cert), "-outform", "DER"],
                               capture_output=True, check=True).stdout).hexdigest(), second)
            # A broken certificate: the reload fails, the old one stays in use.
            srv.cert.write_text("not a certificate\n")
            hup_and_wait(srv, "reload failed, the configuration in force is unchanged")
            self.assertEqual(served_cert(srv), second)
        finally:
            srv.stop()


if __name__ == "__main__":
    h.main("openssl")
