"""What the console tests share (test_console_api.py, test_console_browser.py): a Taube with
[console] on an ephemeral loopback port delivering to an SmtpPeer that answers 451 until told
otherwise, its administrators' and mail users' files (made with `taube passwd`), and a small
HTTP client of the console's JSON API with its cookie and CSRF token."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port, make_cert  # noqa: E402

ADMIN, ADMIN_PW = "admin", "console-secret"
MAILUSER, MAILUSER_PW = "alice@example.org", "alice-secret"
CONSOLE_RX = re.compile(r"console: serving https?://127\.0\.0\.1:(\d+)/console/")


def passwd(path: Path, user: str, password: str) -> None:
    p = subprocess.run([h.taube_bin(), "passwd", user, "--file", str(path)],
                       input=(password + "\n").encode(), capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"taube passwd failed: {p.stderr!r}")


class ConsoleSetup:
    """A Taube with the console, a peer for remote.test that fails with 451 while `failing`."""

    def __init__(self, test, console: dict | None = None, metrics: bool = False,
                 peer_tls: bool = False):
        self.failing = True
        self.files = Path(tempfile.mkdtemp(prefix="taube-console-"))
        passwd(self.files / "admins", ADMIN, ADMIN_PW)
        passwd(self.files / "mail-users", MAILUSER, MAILUSER_PW)
        port = free_port("127.0.0.2")
        self.peer = SmtpPeer(port=port, rcpt=lambda addr, n: "451 4.7.1 try later"
                             if self.failing else None,
                             tls=make_cert(self.files) if peer_tls else None)
        test.addCleanup(self.peer.stop)
        cfg = {"users_file": str(self.files / "admins"), "listen": "127.0.0.1:0"}
        cfg.update(console or {})
        extra = {"console": cfg, "auth": {"users_file": str(self.files / "mail-users")}}
        if metrics:
            extra["metrics"] = {"listen": "127.0.0.1:0"}
        # No automatic retry within a test: only the console makes mail move.
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                           queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600},
                           extra=extra)
        o.guard(test, self.srv)
        m = self.srv.wait_log(CONSOLE_RX, 10)
        if m is None:
            raise AssertionError("no 'console: serving' line:\n" + self.srv.log_text()[-3000:])
        self.port = int(m.group(1))
        self._probe: Api | None = None  # submit_deferred's own session

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def submit_deferred(self, marker: str, rcpts=(o.BOB,), sender: str = o.ALICE) -> str:
        """A message that the peer defers; returns its queue id once it is a deferred queue
        file and no attempt is running (an action would be refused as busy)."""
        qid = o.submit(self.srv, sender, list(rcpts), o.message(marker))
        if self.srv.wait_log(o.status_rx(rcpts[-1], "deferred", qid), 10) is None:
            raise AssertionError(self.diag())
        if not o.wait_queue_holding(self.srv, qid.encode()):
            raise AssertionError(self.diag())
        # The files are written by the attempt's last step, before the runner takes the item
        # back (its state then shows the attempt, and actions are no longer refused as busy).
        if self._probe is None:
            self._probe = Api(self.port)
            status, body, _ = self._probe.login()
            if status != 200:
                raise AssertionError(f"probe login: {status} {body}")
        self.wait_idle(self._probe, qid)
        return qid

    def wait_idle(self, api: "Api", qid: str, timeout: float = 10) -> dict:
        """The item once no attempt of it is running."""
        deadline = time.monotonic() + timeout
        while True:
            status, body, _ = api.get(f"/queue/{qid}")
            if status == 200 and body["item"]["queue_name"] != "active":
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{qid} still active or gone: {status} {body}")
            time.sleep(0.05)


class Api:
    """The console's JSON API over one keep-alive connection, as a script would use it."""

    def __init__(self, port: int, source: str = "127.0.0.1", tls: bool = False):
        self.port = port
        self.source = source
        self.tls = tls
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.conn: http.client.HTTPConnection | None = None

    def _conn(self) -> http.client.HTTPConnection:
        if self.conn is None and self.tls:
            # The server's self-signed certificate: encryption is what is tested here.
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=15,
                                                    source_address=(self.source, 0), context=ctx)
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15,
                                                   source_address=(self.source, 0))
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None, *, headers: dict | None = None,
                csrf: bool = True, cookie: bool = True, raw: bytes | None = None,
                prefix: str = "/api/v1"):
        hdrs = dict(headers or {})
        if cookie and self.cookie:
            hdrs["Cookie"] = "taube_session=" + self.cookie
        if csrf and self.csrf and method != "GET":
            hdrs["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, prefix + path, body=data, headers=hdrs)
                r = c.getresponse()
                payload = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a keep-alive connection (after an error answer): again.
                self.close()
                if attempt:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return r.status, parsed, r

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def login(self, user: str = ADMIN, password: str = ADMIN_PW):
        status, body, r = self.post("/login", {"user": user, "password": password}, csrf=False)
        if status == 200:
            m = re.match(r"taube_session=([0-9a-f]+);", r.getheader("Set-Cookie", ""))
            assert m, r.getheader("Set-Cookie")
            self.cookie = m.group(1)
            self.csrf = body["csrf_token"]
        return status, body, r
