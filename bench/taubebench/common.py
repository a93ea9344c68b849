"""Constants, profiles and targets of the benchmark, and small helpers."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
DOMAIN = "bench.test"
SENDER = f"from@{DOMAIN}"
BENCH_DIR = Path(__file__).resolve().parents[1]
REPO = BENCH_DIR.parent
KIB = 1024
MIB = 1024 * 1024
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SYS_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# (sessions, message size, message count) per throughput point.
PROFILES = {
    "full": dict(reps=3,
                 points=[(1, KIB, 1000), (10, KIB, 3000), (100, KIB, 10000), (10, 100 * KIB, 1000)],
                 idle=[1000, 10000], idle_postfix=1000, big=100 * MIB, lat_tx=1000,
                 relay=10000, relay_sessions=20, relay_lat=200),
    "quick": dict(reps=1,
                  points=[(1, KIB, 1000), (10, KIB, 3000), (100, KIB, 10000), (10, 100 * KIB, 1000)],
                  idle=[1000, 10000], idle_postfix=1000, big=100 * MIB, lat_tx=1000,
                  relay=10000, relay_sessions=20, relay_lat=200),
    "smoke": dict(reps=1,
                  points=[(1, KIB, 50), (10, KIB, 200), (100, KIB, 300), (10, 100 * KIB, 50)],
                  idle=[200, 1000], idle_postfix=100, big=8 * MIB, lat_tx=100,
                  relay=200, relay_sessions=20, relay_lat=20),
}
LAT_SESSIONS = 10

# Targets for Taube (issue 5): ratio to Postfix on delivered/s.
RATIO_TARGETS = {1: 2.0, 10: 3.0, 100: 5.0}
DISCARD_TARGETS = {10: 1.0, 100: 1.0}  # Taube (discard) / smtp-sink, 1 KiB, accepted/s
IDLE_TARGET_KIB = 8.0          # per idle connection at 10k
BIG_GROWTH_TARGET_MIB = 16.0   # peak RSS growth for one 100 MiB message
RELAY_RATIO_TARGET = 5.0       # relay throughput, Taube / Postfix (to the last arrival)
RELAY_P50_TARGET_MS = 5.0      # submission-to-destination latency on an idle queue


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt(v, digits: int = 0) -> str:
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def last_line(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no message)"


def tail(path: Path, n: int = 8) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def message_bytes(size: int, to: str, seq: int = 0) -> bytes:
    """A message of about `size` bytes of body, CRLF lines, no line starting with '.'."""
    head = (f"From: <{SENDER}>\r\nTo: <{to}>\r\nSubject: bench {seq}\r\n"
            f"Message-ID: <{time.time_ns()}.{seq}@client.{DOMAIN}>\r\n\r\n").encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab\r\n"
    body = line * (size // len(line)) + line[:max(0, size % len(line) - 2)] + b"\r\n"
    return head + body
