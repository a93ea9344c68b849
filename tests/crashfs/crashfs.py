"""Driving crashfs (the power-cut file system) from Python tests.

    fs = CrashFs(workdir)          # workdir/disk = the backing directory, workdir/mnt = the mount
    fs.mount()
    ... write under fs.mnt ...
    fs.cut()                       # power cut: only what was durable is left on the disk
    fs.remount()                   # unmount, mount again: the file system as after the reboot

Needs root, /dev/fuse and the crashfs binary (CRASHFS_BIN, or build/tests/crashfs/crashfs next
to TAUBE_BIN's build). skip_reason() tells why it cannot run (then tests exit 77).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

KINDS = ("fsync", "fdatasync", "fsyncdir", "syncfs")


def _build_dir() -> Path | None:
    taube = os.environ.get("TAUBE_BIN")
    if taube:
        return Path(taube).resolve().parent
    src = os.environ.get("TAUBE_SOURCE_DIR") or str(Path(__file__).resolve().parents[2])
    return Path(src) / "build"


def crashfs_bin() -> str:
    b = os.environ.get("CRASHFS_BIN")
    if b:
        return b
    d = _build_dir()
    return str(d / "tests" / "crashfs" / "crashfs") if d else "crashfs"


def preload_lib() -> str:
    p = os.environ.get("CRASHFS_PRELOAD")
    if p:
        return p
    d = _build_dir()
    return str(d / "tests" / "crashfs" / "libcrashfs_preload.so") if d else ""


def skip_reason() -> str | None:
    """Why power-cut tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "power-cut tests need root (FUSE mounts with allow_other, umount)"
    if not os.path.exists("/dev/fuse"):
        return "power-cut tests need /dev/fuse"
    if not os.access(crashfs_bin(), os.X_OK):
        return (f"crashfs not built ({crashfs_bin()}): install libfuse3-dev and fuse3 "
                "(scripts/install-deps.sh test) and rebuild")
    if not os.access(preload_lib(), os.R_OK):
        return f"libcrashfs_preload.so not built ({preload_lib()})"
    return None


class Dead(Exception):
    """The control socket is gone (the daemon died)."""


class CrashFs:
    def __init__(self, workdir: Path, tmpfile: bool = True):
        self.workdir = Path(workdir)
        self.disk = self.workdir / "disk"
        self.mnt = self.workdir / "mnt"
        self.sock_path = self.workdir / "crashfs.sock"
        self.log_path = self.workdir / "crashfs.log"
        self.tmpfile = tmpfile
        self.proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        self.mounts = 0
        self.disk.mkdir(parents=True, exist_ok=True)
        self.mnt.mkdir(parents=True, exist_ok=True)

    # -- lifecycle -------------------------------------------------------------------------

    def mount(self) -> None:
        cmd = [crashfs_bin(), "--backing", str(self.disk), "--control", str(self.sock_path)]
        if not self.tmpfile:
            cmd.append("--no-tmpfile")
        cmd.append(str(self.mnt))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"crashfs did not start: {line!r}; log:\n"
                                 + self.log_path.read_text(errors="replace")[-3000:])
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(60)
        self._sock.connect(str(self.sock_path))
        self._file = self._sock.makefile("rb")
        self._conn = os.minor(os.stat(self.mnt).st_dev)  # /sys/fs/fuse/connections/<minor>
        self.mounts += 1

    def unmount(self) -> int:
        """Unmounts and waits for the daemon; a daemon still alive (no cut) syncs everything to
        the disk first, as a real unmount does. Returns its exit status."""
        if self.proc is None:
            return 0
        if self._sock:
            self._sock.close()
            self._file.close()
            self._sock = None
        for attempt in range(100):
            r = subprocess.run(["umount", str(self.mnt)], capture_output=True, text=True)
            if r.returncode == 0 or not self._mounted():
                break
            time.sleep(0.05)  # EBUSY: a killed process's descriptors are still being closed
        else:
            # Still busy (a descriptor left open): detach it, and abort the connection so the
            # daemon is not kept waiting for the last descriptor to close.
            subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)
            self._abort()
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self._abort()
            self.proc.kill()
            rc = self.proc.wait(5)
        self.proc.stdout.close()
        self.proc = None
        if rc != 0:
            raise AssertionError(f"crashfs exited {rc}; log:\n"
                                 + self.log_path.read_text(errors="replace")[-3000:])
        return rc

    def remount(self) -> None:
        self.unmount()
        self.mount()

    def cleanup(self) -> None:
        try:
            if self.proc is not None:
                self.cut_quietly()
                self.unmount()
        except Exception:  # noqa: BLE001 - best effort, then force
            if self._mounted():
                subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)
            if self.proc is not None:
                self.proc.kill()
                self.proc.wait(5)
                self.proc = None

    def _abort(self) -> None:
        try:
            Path(f"/sys/fs/fuse/connections/{self._conn}/abort").write_text("1")
        except OSError:
            pass

    def _mounted(self) -> bool:
        target = str(self.mnt.resolve())
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == target for line in f)

    # -- control ---------------------------------------------------------------------------

    def command(self, line: str) -> str:
        with self._lock:
            if self._sock is None:
                raise Dead("crashfs is not mounted")
            try:
                self._sock.sendall(line.encode() + b"\n")
                reply = self._file.readline().decode().rstrip("\n")
            except OSError as e:
                raise Dead(str(e)) from e
        if not reply:
            raise Dead("crashfs closed the control socket")
        if not reply.startswith("ok"):
            raise AssertionError(f"crashfs {line!r}: {reply}")
        return reply[3:] if len(reply) > 2 else ""

    def cut(self) -> None:
        """Cuts the power: returns once the disk holds only the durable state."""
        self.command("cut")
        self.cuts += 1

    def cut_quietly(self) -> None:
        try:
            self.command("cut")
        except (Dead, AssertionError):
            pass

    def arm(self, n: int, after: bool = True, kind: str = "") -> None:
        """Cut at the n-th sync-class call from now (after it succeeded, or instead of it);
        with `kind` (fsync, fdatasync, fsyncdir, syncfs) only calls of that kind count."""
        self.command(f"arm {n} {'after' if after else 'before'} {kind}".rstrip())

    def disarm(self) -> None:
        self.command("disarm")

    def sync(self) -> None:
        self.command("sync")

    def stats(self) -> dict[str, int]:
        out = {}
        for kv in self.command("stats").split():
            k, _, v = kv.partition("=")
            out[k] = int(v)
        return out

    def dead(self) -> bool:
        return self.stats()["dead"] == 1

    def events(self) -> list[tuple[str, str]]:
        """Sync-class calls since the last call: [(kind, path)]."""
        out = []
        for item in self.command("events").split("|"):
            if item:
                kind, _, path = item.partition(":")
                out.append((kind, path))
        return out


def preload_env(drop: str = "") -> dict[str, str]:
    """Environment for a process under test: the syncfs relay, and optionally dropped calls."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = preload_lib()
    # A sanitizer build insists on its runtime coming first; the shim has no instrumentation.
    for var in ("ASAN_OPTIONS", "TSAN_OPTIONS"):
        env[var] = ":".join(x for x in (env.get(var), "verify_asan_link_order=0") if x)
    if drop:
        env["CRASHFS_DROP"] = drop
    else:
        env.pop("CRASHFS_DROP", None)
    return env


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
