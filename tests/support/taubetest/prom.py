"""Reading Taube's /metrics in the integration tests: the Prometheus text format parsed into
{(name, labels): value}, deltas between two scrapes, scraping and waiting, and promtool's check
(Debian's prometheus package)."""

from __future__ import annotations

import re
import subprocess
import time
import unittest
import urllib.request

METRICS_RX = re.compile(r"metrics: serving http://127\.0\.0\.1:(\d+)/metrics")
SAMPLE_RX = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict:
    """{(name, ((label, value), ...)): float} of an exposition; HELP/TYPE lines checked for
    every sampled family."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            typed[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE_RX.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted((k, v.encode().decode("unicode_escape"))
                              for k, v in LABEL_RX.findall(m.group(3) or "")))
        samples[(m.group(1), labels)] = float(m.group(4))
    for name, _ in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"{name} has no TYPE line"
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# Families that move with the passing of time or with any disk work (the age of queued mail, the
# worker pool's jobs, the journals' commits), left out of the exact deltas; the tests of
# test_metrics_queue.py assert them on their own.
AMBIENT = ("taube_queue_oldest_message_age_seconds", "taube_queue_hold_oldest_seconds",
           "taube_disk_pool_", "taube_journal_")


def delta(before: dict, after: dict, http: bool = False) -> dict:
    """Only what changed (without the listener's own request counts, which every scrape
    moves, unless `http`, and without the AMBIENT families)."""
    keys = {k for k in set(before) | set(after)
            if (http or k[0] != "taube_http_requests_total") and not k[0].startswith(AMBIENT)}
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys
            if after.get(k, 0.0) != before.get(k, 0.0)}


def queued(samples: dict) -> float:
    """Messages in the queue, every state."""
    return sum(v for k, v in samples.items() if k[0] == "taube_queue_messages")


def metrics_port(srv) -> int:
    _, m = srv.find_log(METRICS_RX, 5.0)
    assert m, "no 'metrics: serving' line:\n" + srv.log_text()[-3000:]
    return int(m.group(1))


def scrape_port(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return parse(r.read().decode())


def wait_scrape(port: int, pred, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = scrape_port(port)
        if pred(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def promtool_check(test: unittest.TestCase, port: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       timeout=60)
    test.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode() + text.decode())
