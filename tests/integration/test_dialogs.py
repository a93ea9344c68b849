"""Runs every tests/dialogs/*.dialog against the real binary on loopback.

The same files are run in-process against ServerSession by tests/unit/smtp/dialog_test.cpp
(practice 8); tests/dialogs/README.md defines the format. In short:

    # comment                  (blank lines are ignored too)
    C: <text>                  client sends text + CRLF; if the text contains the escape \\r
                               or \\n, the escapes \\r \\n \\t \\\\ are decoded and the
                               result is sent verbatim, without CRLF. `C:` alone sends CRLF.
    S: <prefix>                the next complete reply (all lines of a multi-line reply) must
                               have a last line starting with <prefix>

Consecutive C: lines are written without waiting (that is how pipelining is written), so a
dialog reads replies only at its S: lines; at the end no reply may be left unread. Each dialog
runs on a fresh connection; one server serves all dialogs. An optional first directive
`config: <name>` (an extension of this runner, see NAMED) selects another configuration.
Set TAUBE_DIALOG_DIR to run another directory.
"""

import os
import re
import socket
import sys
import tomllib
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

DIALOG_DIR = Path(os.environ.get("TAUBE_DIALOG_DIR", h.SOURCE_DIR / "tests" / "dialogs"))

# The configuration every dialog sees unless it asks for another: domains localhost and
# example.org, four users, two aliases.
DEFAULT = {
    "delivery": {"domains": ["localhost", "example.org"]},
    "limits": {"max_message_size": 52428800, "max_recipients": 1000, "max_errors": 20},
    "users": {"alice@example.org": "", "bob@example.org": "", "user@localhost": "",
              "postmaster@example.org": ""},
    "aliases": {"info@example.org": ["alice@example.org", "bob@example.org"],
                "sales@example.org": ["alice@example.org"]},
}

# Named variants for `config: <name>`. A dialog may also name a TOML file
# tests/dialogs/<name>.toml (or configs/<name>.toml) which is layered over DEFAULT; the listener
# and mail_root are always ours.
NAMED = {
    "default": {},
    "open": {"users": None},
    "normalize": {"smtp": {"bare_newline": "normalize"}},
    "note": {"smtp": {"bare_newline": "note"}},
    "strict-lines": {"limits": {"reject_long_lines": True}},
    "small": {"limits": {"max_message_size": 1000, "max_recipients": 3, "max_errors": 5}},
    "vrfy": {"smtp": {"vrfy": "verify", "expn": True}},
    "vrfy-disabled": {"smtp": {"vrfy": "disabled"}},
    "etrn": {"smtp": {"etrn": True}},
}

ESCAPE_RX = re.compile(r"\\([rnt\\])")


def decode_escapes(text: str) -> bytes:
    """README: \\r \\n \\t \\\\ are decoded; any other backslash stays as it is."""
    return ESCAPE_RX.sub(lambda m: {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}[m.group(1)],
                         text).encode("utf-8")


class Dialog:
    def __init__(self, path: Path):
        self.path = path
        self.config = "default"
        self.steps: list[tuple[str, bytes | str, int]] = []
        for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.rstrip("\r")
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("config:") and not self.steps:
                self.config = stripped.split(":", 1)[1].strip()
            elif line.startswith("C:"):
                text = line[3:] if line.startswith("C: ") else line[2:]
                if "\\r" in text or "\\n" in text:
                    self.steps.append(("C", decode_escapes(text), no))
                else:
                    self.steps.append(("C", text.encode("utf-8") + b"\r\n", no))
            elif line.startswith("S:"):
                text = line[3:] if line.startswith("S: ") else line[2:]
                self.steps.append(("S", text, no))
            else:
                raise ValueError(f"{path}:{no}: cannot parse line {raw!r}")
        if not any(k == "S" for k, _, _ in self.steps):
            raise ValueError(f"{path}: a dialog needs at least one S: line")


def config_for(name: str) -> dict:
    if name in NAMED:
        return h.merge(DEFAULT, NAMED[name])
    for cand in (DIALOG_DIR / f"{name}.toml", DIALOG_DIR / "configs" / f"{name}.toml"):
        if cand.is_file():
            with open(cand, "rb") as f:
                extra = tomllib.load(f)
            extra.pop("listener", None)
            extra.get("delivery", {}).pop("mail_root", None)
            return h.merge(DEFAULT, extra)
    raise KeyError(f"unknown dialog config {name!r} (known: {sorted(NAMED)})")


def run_dialog(srv: h.Taube, d: Dialog) -> None:
    """Play one dialog; raise AssertionError naming the file and line on the first mismatch."""
    c = srv.client(timeout=10)
    log = []
    try:
        for kind, val, no in d.steps:
            if kind == "C":
                log.append(f"C: {val!r}")
                try:
                    c.send(val)
                except OSError as e:
                    raise AssertionError(f"{d.path.name}:{no}: send failed ({e})\n"
                                         + "\n".join(log))
            else:
                try:
                    r = c.reply()
                except (h.ConnectionClosed, OSError) as e:
                    raise AssertionError(f"{d.path.name}:{no}: expected {val!r}, connection "
                                         f"ended: {e}\n" + "\n".join(log))
                log.append(f"S: {r.text!r}")
                if not r.last.startswith(val):
                    raise AssertionError(f"{d.path.name}:{no}: expected reply starting "
                                         f"{val!r}, got {r.text!r}\ndialog so far:\n"
                                         + "\n".join(log))
        # README: at the end no reply may be left unread.
        c.sock.settimeout(0.3)
        try:
            extra = c.buf + c.sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            extra = c.buf
        if extra:
            raise AssertionError(f"{d.path.name}: unread replies at the end: {extra!r}\n"
                                 + "\n".join(log))
    finally:
        c.close()


def discover() -> list[Path]:
    return sorted(DIALOG_DIR.glob("*.dialog")) if DIALOG_DIR.is_dir() else []


class Dialogs(unittest.TestCase):
    servers: dict[str, h.Taube] = {}

    @classmethod
    def server(cls, name: str) -> h.Taube:
        if name not in cls.servers:
            cls.servers[name] = h.Taube(config_for(name))
        return cls.servers[name]

    @classmethod
    def tearDownClass(cls):
        errors = []
        for name, srv in cls.servers.items():
            try:
                srv.stop()
            except AssertionError as e:
                errors.append(f"{name}: {e}")
            finally:
                srv.cleanup()
        cls.servers = {}
        if errors:
            raise AssertionError("\n".join(errors))


def _make_test(path: Path):
    def test(self):
        d = Dialog(path)
        run_dialog(self.server(d.config), d)
    test.__doc__ = f"dialog {path.name}"
    return test


class Parser(unittest.TestCase):
    """The runner's own parsing, so a broken runner cannot pass dialogs vacuously."""

    def test_escapes(self):
        self.assertEqual(decode_escapes(r"a\r\nb\\c\td\x00"), b"a\r\nb\\c\td\\x00")
        self.assertEqual(decode_escapes("gr\u00fc\u00df\\n"), "gr\u00fc\u00df\n".encode())

    def test_parse(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "x.dialog"
            p.write_text("# why\nconfig: open\n\nS: 220\nC: EHLO x\nS:250\n"
                         "C: hello\\r\\n.\\n\nC: NOOP\\t\\\\\nC:\nS: 250 2.0.0\r\n")
            d = Dialog(p)
            self.assertEqual(d.config, "open")
            self.assertEqual([s[:2] for s in d.steps], [
                ("S", "220"), ("C", b"EHLO x\r\n"), ("S", "250"), ("C", b"hello\r\n.\n"),
                ("C", b"NOOP\\t\\\\\r\n"), ("C", b"\r\n"), ("S", "250 2.0.0")])


for _p in discover():
    _name = "test_" + re.sub(r"\W", "_", _p.stem)
    setattr(Dialogs, _name, _make_test(_p))


if __name__ == "__main__":
    if not discover():
        print(f"SKIP: no *.dialog files in {DIALOG_DIR}", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()
