"""Runs every tests/dialogs/*.dialog against the real binary on loopback.

The same files are played in-process against ServerSession by
tests/unit/smtp/server/dialog_test.cpp (practice 8); tests/dialogs/README.md defines the format:

    # comment                  (blank lines are ignored too)
    @config NAME               first directive only: run with tests/dialogs/configs/NAME.toml
                               (default: default.toml)
    C: <text>                  client sends text + CRLF; if the text contains the escape \\r
                               or \\n, the escapes \\r \\n \\t \\\\ are decoded and the result
                               is sent verbatim, without CRLF. `C:` alone sends CRLF.
    R: <octets>                client sends exactly these octets: \\r \\n \\t \\\\ and \\xHH
                               always decoded, nothing appended
    S: <prefix>                the next complete reply (all lines of a multi-line reply) must
                               have a last line starting with <prefix>
    @tls                       after the 220 to STARTTLS: TLS handshake (no certificate
                               verification); everything after it goes over TLS
    @closed                    the server has closed the connection (EOF within a short time)

Consecutive C:/R: lines are written without waiting (that is how pipelining is written), so a
dialog reads replies only at its S: lines; at the end no reply may be left unread. Each dialog
runs on a fresh connection; dialogs with the same config share one server, started as
`taube serve --config <NAME.toml with ${DIALOG_CONFIGS} replaced> --mail-root <temp>`.
Set TAUBE_DIALOG_DIR to run another directory (its configs/ beside the dialogs).
"""

import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest.config import parse as parse_toml, substitute  # noqa: E402

DIALOG_DIR = Path(os.environ.get("TAUBE_DIALOG_DIR", h.SOURCE_DIR / "tests" / "dialogs"))
CONFIG_DIR = DIALOG_DIR / "configs"
CLOSE_TIMEOUT = 3.0   # @closed: the server must have closed within this many seconds
UNREAD_WAIT = 0.3     # at the end: how long to look for replies nobody asked for

# -- the format --------------------------------------------------------------------------------

C_ESCAPE_RX = re.compile(r"\\([rnt\\])")
R_ESCAPE_RX = re.compile(r"\\(x[0-9A-Fa-f]{2}|[rnt\\])")
ESCAPES = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}
CONFIG_NAME_RX = re.compile(r"[A-Za-z0-9_-]+")


def decode_escapes(text: str) -> bytes:
    """C: lines: \\r \\n \\t \\\\ are decoded; any other backslash stays as it is."""
    return C_ESCAPE_RX.sub(lambda m: ESCAPES[m.group(1)], text).encode("utf-8")


def decode_raw(text: str) -> bytes:
    """R: lines: \\r \\n \\t \\\\ and \\xHH (one octet) are decoded, other characters are UTF-8;
    any other backslash is a format error (so both runners cannot read it differently)."""
    out = bytearray()
    pos = 0
    for m in R_ESCAPE_RX.finditer(text):
        if "\\" in text[pos:m.start()]:
            break
        out += text[pos:m.start()].encode("utf-8")
        e = m.group(1)
        out += bytes([int(e[1:], 16)]) if e[0] == "x" else ESCAPES[e].encode()
        pos = m.end()
    rest = text[pos:]
    if "\\" in rest:
        raise ValueError(f"bad escape {rest[rest.index(chr(92)):][:4]!r} (R: knows \\r \\n \\t "
                         f"\\\\ \\xHH)")
    return bytes(out + rest.encode("utf-8"))


class Step:
    """One directive: kind "send" (octets), "expect" (reply prefix), "tls" or "closed"."""

    def __init__(self, kind: str, value, line: int):
        self.kind, self.value, self.line = kind, value, line

    def __repr__(self) -> str:
        return f"Step({self.kind!r}, {self.value!r}, line {self.line})"


def _text(line: str) -> str:
    """The text after `X:`; one space after the colon is optional and not part of it."""
    return line[3:] if line[2:3] == " " else line[2:]


class Dialog:
    def __init__(self, path: Path, text: str | None = None):
        self.path = path
        self.config = "default"
        self.steps: list[Step] = []
        seen_config = False
        src = path.read_text(encoding="utf-8") if text is None else text
        for no, raw in enumerate(src.split("\n"), 1):
            line = raw.rstrip("\r")
            stripped = line.strip()
            try:
                if not stripped or stripped.startswith("#"):
                    continue
                if self.steps and self.steps[-1].kind == "closed":
                    raise ValueError("nothing may follow @closed")
                if line.startswith("@"):
                    word, _, arg = stripped.partition(" ")
                    arg = arg.strip()
                    if word == "@config":
                        if self.steps or seen_config:
                            raise ValueError("@config must be the first directive")
                        if not CONFIG_NAME_RX.fullmatch(arg):
                            raise ValueError(f"@config needs a name ([A-Za-z0-9_-]+): {arg!r}")
                        self.config, seen_config = arg, True
                    elif word in ("@tls", "@closed") and not arg:
                        if word == "@tls":
                            if not self.steps or self.steps[-1].kind != "expect":
                                raise ValueError("@tls must follow the S: of the 220 to "
                                                 "STARTTLS")
                            if any(s.kind == "tls" for s in self.steps):
                                raise ValueError("TLS can start only once")
                        self.steps.append(Step(word[1:], None, no))
                    else:
                        raise ValueError(f"unknown directive {stripped!r}")
                elif line.startswith("C:"):
                    t = _text(line)
                    data = (decode_escapes(t) if "\\r" in t or "\\n" in t
                            else t.encode("utf-8") + b"\r\n")
                    self.steps.append(Step("send", data, no))
                elif line.startswith("R:"):
                    data = decode_raw(_text(line))
                    if not data:
                        raise ValueError("R: needs octets to send")
                    self.steps.append(Step("send", data, no))
                elif line.startswith("S:"):
                    self.steps.append(Step("expect", _text(line), no))
                else:
                    raise ValueError(f"cannot parse line {raw!r}")
            except ValueError as e:
                raise ValueError(f"{path}:{no}: {e}") from None
        if not any(s.kind == "expect" for s in self.steps):
            raise ValueError(f"{path}: a dialog needs at least one S: line")


# -- configurations ----------------------------------------------------------------------------


def config_text(name: str) -> str:
    """configs/NAME.toml with ${DIALOG_CONFIGS} replaced by the absolute configs path."""
    path = CONFIG_DIR / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        raise KeyError(f"unknown dialog config {name!r}: no {path} (known: {known})")
    return substitute(path.read_text(encoding="utf-8"),
                      {"DIALOG_CONFIGS": str(CONFIG_DIR.resolve())})


# -- playing a dialog --------------------------------------------------------------------------


def _unread(c: h.RawClient, wait: float) -> bytes:
    """Whatever the server sent that nobody read (waiting up to `wait` for it)."""
    c.sock.settimeout(wait)
    try:
        return c.buf + c.sock.recv(4096)
    except (socket.timeout, ConnectionResetError, ssl.SSLError, OSError):
        return c.buf


def run_dialog(srv: h.Taube, d: Dialog, close_timeout: float = CLOSE_TIMEOUT) -> None:
    """Play one dialog; raise AssertionError naming the file and line on the first mismatch."""
    c = srv.client(timeout=10)
    log: list[str] = []

    def fail(no: int, what: str):
        raise AssertionError(f"{d.path.name}:{no}: {what}\ndialog so far:\n" + "\n".join(log))

    try:
        for st in d.steps:
            if st.kind == "send":
                log.append(f"C: {st.value!r}")
                try:
                    c.send(st.value)
                except OSError as e:
                    fail(st.line, f"send failed ({e})")
            elif st.kind == "expect":
                try:
                    r = c.reply()
                except (h.ConnectionClosed, OSError) as e:
                    fail(st.line, f"expected {st.value!r}, connection ended: {e}")
                except h.SmtpError as e:
                    fail(st.line, f"expected {st.value!r}: {e}")
                log.append(f"S: {r.text!r}")
                if not r.last.startswith(st.value):
                    fail(st.line, f"expected reply starting {st.value!r}, got {r.text!r}")
            elif st.kind == "tls":
                # RFC 3207 §4: nothing may follow the 220 in plaintext.
                if c.buf:
                    fail(st.line, f"plaintext after the 220 to STARTTLS: {c.buf!r}")
                log.append("@tls")
                try:
                    c.wrap()
                except (ssl.SSLError, OSError) as e:
                    fail(st.line, f"TLS handshake failed: {e}")
            else:  # closed
                if c.buf:
                    fail(st.line, f"unread replies before the close: {c.buf!r}")
                closed = c.is_closed(close_timeout)
                if c.buf:
                    fail(st.line, f"unread replies before the close: {c.buf!r}")
                if not closed:
                    fail(st.line, f"the server did not close the connection within "
                                  f"{close_timeout} s")
                log.append("@closed")
                return
        # README: at the end no reply may be left unread.
        extra = _unread(c, UNREAD_WAIT)
        if extra:
            fail(d.steps[-1].line, f"unread replies at the end: {extra!r}")
    finally:
        c.close()


def discover() -> list[Path]:
    return sorted(DIALOG_DIR.glob("*.dialog")) if DIALOG_DIR.is_dir() else []


_servers: dict[str, h.Taube] = {}


def server(name: str) -> h.Taube:
    """The server of config NAME, started at first use."""
    if name not in _servers:
        _servers[name] = h.Taube(toml=config_text(name))
    return _servers[name]


def tearDownModule():
    errors = []
    for name, srv in _servers.items():
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(f"{name}: {e}")
        finally:
            srv.cleanup()
    _servers.clear()
    if errors:
        raise AssertionError("\n".join(errors))


class Dialogs(unittest.TestCase):
    pass


def _make_test(path: Path):
    def test(self):
        d = Dialog(path)
        run_dialog(server(d.config), d)
    test.__doc__ = f"dialog {path.name}"
    return test


for _p in discover():
    setattr(Dialogs, "test_" + re.sub(r"\W", "_", _p.stem), _make_test(_p))


# -- the runner's own checks -------------------------------------------------------------------


class Parser(unittest.TestCase):
    """The runner's own parsing, so a broken runner cannot pass dialogs vacuously."""

    def parse(self, text: str) -> Dialog:
        return Dialog(Path("x.dialog"), text)

    def test_escapes(self):
        self.assertEqual(decode_escapes(r"a\r\nb\\c\td\x00"), b"a\r\nb\\c\td\\x00")
        self.assertEqual(decode_escapes("gr\u00fc\u00df\\n"), "gr\u00fc\u00df\n".encode())

    def test_raw_escapes(self):
        self.assertEqual(decode_raw(r"a\r\n\tb\\c\x00\xff\x41\x7F"), b"a\r\n\tb\\c\x00\xffA\x7f")
        self.assertEqual(decode_raw(r"\\x41"), b"\\x41")  # an escaped backslash, then text
        self.assertEqual(decode_raw("gr\u00fc\u00df \\xc3"), "gr\u00fc\u00df ".encode() + b"\xc3")
        self.assertEqual(decode_raw("plain"), b"plain")
        for bad in (r"\q", r"a\x4", r"\xg0", "abc\\", r"ok\r\n\d"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                decode_raw(bad)

    def test_parse(self):
        d = self.parse("# why\n@config open\n\nS: 220\nC: EHLO x\nS:250\n"
                       "C: hello\\r\\n.\\n\nC: NOOP\\t\\\\\nC:\nR: A\\r\\nB\\x00\nR:x\n"
                       "S: 220 2.0.0\r\n@tls\n  # indented comment\nC: QUIT\nS: 221\n@closed\n"
                       "# only comments after @closed\n")
        self.assertEqual(d.config, "open")
        self.assertEqual([(s.kind, s.value) for s in d.steps], [
            ("expect", "220"), ("send", b"EHLO x\r\n"), ("expect", "250"),
            ("send", b"hello\r\n.\n"), ("send", b"NOOP\\t\\\\\r\n"), ("send", b"\r\n"),
            ("send", b"A\r\nB\x00"), ("send", b"x"), ("expect", "220 2.0.0"), ("tls", None),
            ("send", b"QUIT\r\n"), ("expect", "221"), ("closed", None)])
        self.assertEqual([s.line for s in d.steps], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17])

    def test_default_config(self):
        self.assertEqual(self.parse("S: 220\n").config, "default")
        self.assertEqual(self.parse("# c\n\n@config small\nS: 220\n").config, "small")

    def test_format_errors(self):
        bad = {
            "@config after a step": "S: 220\n@config open\n",
            "two @config": "@config a\n@config b\nS: 220\n",
            "@config without a name": "@config\nS: 220\n",
            "@config with two words": "@config a b\nS: 220\n",
            "old config: syntax": "config: open\nS: 220\n",
            "@tls first": "@tls\nS: 220\n",
            "@tls after C:": "S: 220\nC: STARTTLS\n@tls\nS: 250\n",
            "@tls twice": "S: 220\n@tls\nS: 220\n@tls\n",
            "@tls with an argument": "S: 220\n@tls now\n",
            "unknown directive": "S: 220\n@starttls\n",
            "step after @closed": "S: 221\n@closed\nS: 220\n",
            "empty R:": "S: 220\nR:\n",
            "bad R: escape": "S: 220\nR: \\e\n",
            "no S:": "C: QUIT\n",
            "unknown line": "S: 220\nX: foo\n",
            "indented C:": "S: 220\n  C: NOOP\n",
        }
        for what, text in bad.items():
            with self.subTest(what), self.assertRaises(ValueError):
                self.parse(text)


class Runner(unittest.TestCase):
    """The runner fails a dialog the real server does not follow, at the right line."""

    def play(self, text: str, close_timeout: float = 0.5) -> None:
        run_dialog(server("default"), Dialog(Path("t.dialog"), text), close_timeout)

    def fails_at(self, line: int, text: str, what: str) -> None:
        with self.assertRaises(AssertionError) as cm:
            self.play(text)
        self.assertIn(f"t.dialog:{line}: ", str(cm.exception))
        self.assertIn(what, str(cm.exception))

    def test_passes(self):
        self.play("S: 220 mx.test\nC: EHLO c.example\nS: 250\nC: STARTTLS\nS: 220 2.0.0\n@tls\n"
                  "R: EHLO c.example\\r\\nNOOP\\r\\n\nS: 250\nS: 250 2.0.0\nC: QUIT\nS: 221\n"
                  "@closed\n")

    def test_wrong_reply(self):
        self.fails_at(3, "S: 220 mx.test\nC: NOOP\nS: 500\n", "expected reply starting '500'")

    def test_unread_reply(self):
        self.fails_at(4, "S: 220 mx.test\nC: NOOP\nC: NOOP\nS: 250\n", "unread replies")

    def test_not_closed(self):
        self.fails_at(3, "S: 220 mx.test\nC: NOOP\n@closed\n", "unread replies")
        self.fails_at(4, "S: 220 mx.test\nC: NOOP\nS: 250\n@closed\n", "did not close")

    def test_reply_after_close(self):
        self.fails_at(4, "S: 220 mx.test\nC: QUIT\nS: 221\nS: 250\n", "connection ended")

    def test_tls_without_starttls(self):
        # The server never answers a TLS handshake it did not agree to.
        with self.assertRaises(AssertionError) as cm:
            self.play("S: 220 mx.test\nC: EHLO c.example\nS: 250\n@tls\nC: NOOP\nS: 250\n")
        self.assertIn("t.dialog:4: TLS handshake failed", str(cm.exception))


class Configs(unittest.TestCase):
    """Every configs/*.toml is a complete config the binary accepts, in the shape both runners
    rely on, and every dialog names one that exists."""

    def test_substitute(self):
        self.assertEqual(substitute("a=${X}/f ${X}", {"X": "/p"}), "a=/p/f /p")
        with self.assertRaises(KeyError):
            substitute("${DIALOG_CONFIG}", {"DIALOG_CONFIGS": "/p"})

    def test_configs(self):
        names = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        self.assertIn("default", names)
        for name in names:
            with self.subTest(name):
                text = config_text(name)
                self.assertNotIn("${", text)
                cfg = parse_toml(text)
                self.assertEqual(cfg.get("hostname"), "mx.test")
                self.assertEqual(len(cfg.get("listener", [])), 1, "one [[listener]]")
                self.assertEqual((cfg["listener"][0]["address"], cfg["listener"][0]["port"]),
                                 ("127.0.0.1", 0))
                self.assertNotIn("mail_root", cfg.get("delivery", {}))
                for path in re.findall(r'"(/[^"]+)"', text):
                    self.assertTrue(Path(path).is_file(), f"{name}: {path} does not exist")
                with tempfile.TemporaryDirectory() as tmp:
                    f = Path(tmp) / f"{name}.toml"
                    f.write_text(text)
                    p = subprocess.run([h.taube_bin(), "check-config", str(f)],
                                       capture_output=True, text=True, timeout=30)
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_dialogs_name_existing_configs(self):
        for path in discover():
            with self.subTest(path.name):
                config_text(Dialog(path).config)


if __name__ == "__main__":
    if not discover():
        print(f"SKIP: no *.dialog files in {DIALOG_DIR}", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()
