"""The installed CMake package, seen from outside (docs/embedding.md).

Installs the current build into a temporary prefix, then builds two consumers against that
prefix alone: tests/package/probe (every imported target exists; taube::proxy, taube::inet and
taube::sasl link and work) and examples/posix_smtp_server, which it runs and talks to with
smtplib and with a raw socket, checking reply codes and that each message comes out byte-exact.
Exits non-zero on the first failure.

Environment (set by tests/CMakeLists.txt): TAUBE_BUILD_DIR, TAUBE_SOURCE_DIR, CMAKE_COMMAND,
CMAKE_CXX_COMPILER, CMAKE_BUILD_TYPE, TAUBE_CONSUMER_FLAGS (sanitizer flags the libraries were
built with, which a consumer must link with too).
"""

import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILD = Path(os.environ["TAUBE_BUILD_DIR"])
SOURCE = Path(os.environ["TAUBE_SOURCE_DIR"])
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CXX = os.environ.get("CMAKE_CXX_COMPILER", "")
BUILD_TYPE = os.environ.get("CMAKE_BUILD_TYPE", "") or "Release"
FLAGS = os.environ.get("TAUBE_CONSUMER_FLAGS", "")

# A body with the cases a DATA path can get wrong: a dot-stuffed line, a lone dot inside a
# longer line, trailing whitespace, 8-bit octets, and an empty last line.
BODY = (b"From: a@client.test\r\nTo: alice@localhost\r\nSubject: package test\r\n\r\n"
        b"first line\r\n.starts with a dot\r\n..two dots\r\nmiddle . dot\r\n"
        b"trailing space \r\n\xc3\xa4 8-bit\r\n\r\n")
# What the session hands over in body(): dot-stuffing removed, <CRLF> turned into the store's LF
# (smtp/wire/dot_decoder.hpp); nothing else changed.
STORED = BODY.replace(b"\r\n", b"\n")


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd: list, what: str) -> str:
    env = dict(os.environ)
    env.pop("DESTDIR", None)  # cmake --install honours it; the prefix alone is meant here
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        fail(f"{what} failed ({p.returncode}):\n{' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def build_consumer(src: Path, out: Path, prefix: Path, target: str) -> Path:
    cfg = [CMAKE, "-S", src, "-B", out, f"-DCMAKE_PREFIX_PATH={prefix}",
           f"-DCMAKE_BUILD_TYPE={BUILD_TYPE}",
           # Only the temporary prefix may provide Taube, never a copy in /usr/local.
           "-DCMAKE_FIND_USE_INSTALL_PREFIX=OFF", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"]
    if CXX:
        cfg.append(f"-DCMAKE_CXX_COMPILER={CXX}")
    if FLAGS:
        cfg += [f"-DCMAKE_CXX_FLAGS={FLAGS}", f"-DCMAKE_EXE_LINKER_FLAGS={FLAGS}"]
    run(cfg, f"configuring {src.name}")
    cache = (out / "CMakeCache.txt").read_text()
    want = f"Taube_DIR:PATH={prefix}/"
    if want not in cache:
        fail(f"{src.name} found Taube outside {prefix}")
    run([CMAKE, "--build", out, "-j2"], f"building {src.name}")
    return out / target


def check_version_refused(prefix: Path, tmp: Path) -> None:
    """0.x: a minor release may break the API, so the package is 0.1 only (SameMinorVersion)."""
    for version in ["0.0", "0.2", "1.0"]:
        p = subprocess.run([CMAKE, "-S", SOURCE / "tests/package/probe", "-B",
                            tmp / f"probe-{version}", f"-DCMAKE_PREFIX_PATH={prefix}",
                            f"-DPROBE_VERSION={version}"], capture_output=True, text=True)
        if p.returncode == 0:
            fail(f"find_package(Taube {version}) accepted version 0.1.0")
        if "TaubeConfig.cmake, version: 0.1.0" not in p.stderr:
            fail(f"find_package(Taube {version}) failed for another reason:\n{p.stderr}")


def check_layout(prefix: Path) -> None:
    inc = prefix / "include" / "taube"
    for rel in ["smtp/server/server_session.hpp", "smtp/server/verdicts.hpp",
                "smtp/wire/reply.hpp", "sasl/server_mechanism.hpp", "inet/ip_address.hpp",
                "proxy/proxy_parser.hpp"]:
        if not (inc / rel).is_file():
            fail(f"header {rel} not installed")
    # Only the pure layers are offered: nothing that needs Asio, OpenSSL or the file system.
    for impure in ["net", "store", "app", "crypto", "policy"]:
        if (inc / impure).exists():
            fail(f"include/taube/{impure} installed, but it is not part of the package")
    if list(inc.rglob("*.cpp")):
        fail("sources installed as headers")
    cfgs = list(prefix.glob("lib*/cmake/Taube/TaubeConfig.cmake"))
    if len(cfgs) != 1 or not (cfgs[0].parent / "TaubeConfigVersion.cmake").is_file():
        fail(f"TaubeConfig.cmake / TaubeConfigVersion.cmake not installed: {cfgs}")
    if not os.access(prefix / "sbin" / "taube", os.X_OK):
        fail("sbin/taube not installed")
    if not (prefix / "share/doc/taube/taube.toml.example").is_file():
        fail("share/doc/taube/taube.toml.example not installed")


class Server:
    """The example, started on port 0 for one connection."""

    def __init__(self, exe: Path, *args: str):
        self.proc = subprocess.Popen([str(exe), "0", "-n", "1", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            fail(f"example did not announce its port: {line!r} {self.proc.stderr.read()!r}")
        self.port = int(line.rsplit(":", 1)[1])

    def finish(self) -> bytes:
        """Waits for the exit after its one connection; returns the rest of stdout."""
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("example did not exit after its connection closed")
        if self.proc.returncode != 0:
            fail(f"example exited with {self.proc.returncode}: {err!r}")
        return out


def expect(got, want, what: str) -> None:
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def smtplib_session(exe: Path, tmp: Path) -> None:
    """smtplib, messages to a directory: 250 for a local recipient, 554 for a foreign one."""
    out_dir = tmp / "messages"
    out_dir.mkdir()
    srv = Server(exe, "-o", str(out_dir))
    with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.test", timeout=10) as s:
        expect(s.ehlo()[0], 250, "EHLO")
        expect(s.has_extn("pipelining"), True, "PIPELINING advertised")
        expect(s.mail("a@client.test")[0], 250, "MAIL")
        expect(s.rcpt("alice@localhost")[0], 250, "RCPT local")
        code, text = s.rcpt("bob@elsewhere.example")
        expect(code, 554, f"RCPT foreign ({text!r})")
        expect(s.rcpt("<postmaster>")[0], 250, "RCPT postmaster")
        code, text = s.data(BODY)
        expect(code, 250, f"DATA ({text!r})")
        expect(s.quit()[0], 221, "QUIT")
    srv.finish()
    expect(sorted(p.name for p in out_dir.iterdir()), ["1.eml"], "files written")
    expect((out_dir / "1.eml").read_bytes(), STORED, "stored message")


def raw_session(exe: Path) -> None:
    """One write with the whole conversation pipelined (the example pauses for every verdict and
    resumes with the unconsumed input); messages to stdout."""
    srv = Server(exe, "-d", "example.org")
    stuffed = BODY.replace(b"\r\n.", b"\r\n..")
    wire = (b"EHLO raw.test\r\nMAIL FROM:<s@raw.test>\r\nRCPT TO:<x@Example.ORG>\r\n"
            b"RCPT TO:<y@localhost>\r\nDATA\r\n" + stuffed + b".\r\nQUIT\r\n")
    got = b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as c:
        c.sendall(wire)
        try:
            while chunk := c.recv(65536):  # until the server closes after 221
                got += chunk
        except socket.timeout:
            srv.proc.kill()
            fail(f"no close after the pipelined conversation; replies so far: {got!r}")
    lines = got.decode().split("\r\n")
    final = [ln[:3] for ln in lines if len(ln) > 3 and ln[3] == " "]
    # greeting, EHLO, MAIL, RCPT ok, RCPT relay denied, DATA 354, end of data, QUIT
    expect(final, ["220", "250", "250", "250", "554", "354", "250", "221"], "pipelined replies")
    expect(got.endswith(b"\r\n"), True, "replies end in CRLF")
    out = srv.finish()
    head = (f"message 1 from <s@raw.test> to <x@Example.ORG> ({len(STORED)} octets)\n").encode()
    expect(out, head + STORED, "message on stdout")


def main() -> None:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="taube-package-") as t:
        tmp = Path(t)
        prefix = tmp / "prefix"
        run([CMAKE, "--install", BUILD, "--prefix", prefix], "cmake --install")
        check_layout(prefix)
        check_version_refused(prefix, tmp)
        probe = build_consumer(SOURCE / "tests/package/probe", tmp / "probe", prefix, "probe")
        run([probe], "probe")
        exe = build_consumer(SOURCE / "examples/posix_smtp_server", tmp / "example", prefix,
                             "posix_smtp_server")
        smtplib_session(exe, tmp)
        raw_session(exe)
    print(f"package test passed in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
