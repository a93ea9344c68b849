"""The command line: checks, the run, the printed tables and RESULTS.md."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import BENCH_DIR, PROFILES, REPO, SMTP_SOURCE, log
from .driver import Bench
from .report import raw_runs, report
from .system import LoadMonitor, cpu_busy, machine, versions


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true")
    g.add_argument("--quick", action="store_true")
    ap.add_argument("--taube", default=os.environ.get("TAUBE_BIN", str(REPO / "build" / "taube")))
    ap.add_argument("--write-results", default=None)
    ap.add_argument("--write-section", default=None,
                    help="--only scale: replace the Queue scale section of this RESULTS.md")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--only", choices=("all", "receive", "relay", "scale"), default="all",
                    help="run only the receiving, the relay or the queue scale measurements")
    args = ap.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    profile = PROFILES[mode]
    if not os.access(args.taube, os.X_OK):
        print(f"bench: taube binary not found: {args.taube} (make build)", file=sys.stderr)
        return 2
    if not os.access(SMTP_SOURCE, os.X_OK):
        print("bench: smtp-source not found (Debian package postfix)", file=sys.stderr)
        return 2
    # Room for 10,000 client sockets here and as many in the server (children inherit this).
    want = 65536
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile < max(profile["idle"]) + 500:  # per process: client and server each hold N
        log(f"warning: open files limit {nofile} is low for {max(profile['idle'])} connections")

    busy_before = cpu_busy(2.0)
    if mode != "smoke" and busy_before > 0.2:
        # Other processes (a build?) hold the CPUs: wait a while for them to finish.
        wait = float(os.environ.get("BENCH_WAIT_IDLE", "300"))
        log(f"CPUs {busy_before:.0%} busy before the run; waiting up to {wait:.0f} s for them "
            f"to quiet down (BENCH_WAIT_IDLE)")
        deadline = time.monotonic() + wait
        try:
            while busy_before > 0.2 and time.monotonic() < deadline:
                busy_before = cpu_busy(5.0)
        except KeyboardInterrupt:
            return 2
    if busy_before > 0.2:
        log(f"warning: the CPUs are {busy_before:.0%} busy before the benchmark starts: other "
            f"processes compete with the servers and the figures will be depressed")
    tmp = Path(tempfile.mkdtemp(prefix="taube-bench-"))
    os.chmod(tmp, 0o755)
    # Each server's directory in a block group of its own (ext4's Orlov allocator spreads the
    # subdirectories of a "top directory"): files created and deleted just before the run (a
    # test suite under /tmp) or by another server must not slow a server's inode allocation.
    # ext4 without a journal -- this machine's root -- skips inodes freed in the last minutes,
    # scanning past each of them; perf showed up to 25 % of a server's CPU there.
    subprocess.run(["chattr", "+T", str(tmp)], capture_output=True)
    # Benchmark a private copy: a rebuild of build/taube during the run must not change it.
    orig = args.taube
    binary = tmp / "taube"
    shutil.copy2(orig, binary)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    built = datetime.datetime.fromtimestamp(os.stat(orig).st_mtime).astimezone()
    args.taube = str(binary)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    software = versions(args.taube)
    monitor = LoadMonitor()
    monitor.start()
    started = time.monotonic()
    b = Bench(args, profile, tmp)
    try:
        b.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 2
    except Exception as e:  # noqa: BLE001
        log(f"harness error: {type(e).__name__}: {e}")
        import traceback
        traceback.print_exc()
        return 2
    finally:
        if os.environ.get("BENCH_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    monitor.halt.set()
    load_line = (f"Load: CPUs {busy_before:.0%} busy (by other processes) just before the run; "
                 f"1-min load average during the run {monitor.summary()} "
                 f"(the benchmark alone keeps it near 2–3 on 2 cores)")
    if mode != "smoke" and args.only != "scale":
        load_line += (f"; each repetition waited for idle CPUs first, {b.loaded_reps} "
                      f"repetition(s) still started with the CPUs >25 % busy (marked in "
                      f"\"Every run\")")
    if busy_before > 0.2 or b.loaded_reps:
        load_line += (" — **the machine was shared with other work during the run: figures are "
                      "depressed and noisier than on an idle machine**")
    tables, missed = report(b)
    reps = profile["reps"]
    header = (f"Date: {date}  \nMachine: {machine()}  \nSoftware: {software}  \n"
              f"Binary: {orig} (sha256 {digest}…, built {built:%Y-%m-%d %H:%M %Z})  \n"
              f"{load_line}  \n"
              f"Command: `{args.command}` (mode {mode}, "
              + ("one run per N" if args.only == "scale"
                 else f"{reps} repetition(s) per point, median shown")
              + f"; took {elapsed:.0f} s)\n")
    anomalies = "\n".join(f"- {a}" for a in b.anomalies) or "- none"
    missed_txt = "\n".join(f"- {m}" for m in missed) or "- none"
    text = (f"{header}\n{tables}\n\n#### Targets Taube misses\n\n{missed_txt}\n\n"
            f"#### Anomalies seen during the run\n\n{anomalies}\n")
    print(text)
    if args.write_results:
        # What profiling found is written by hand (bench/PROFILE.md, dated) and carried into
        # every results file, next to the figures it explains.
        profile_md = BENCH_DIR / "PROFILE.md"
        profile_txt = profile_md.read_text() if profile_md.is_file() else ""
        doc = ("# Benchmark results\n\n"
               "Generated by `bench/run.sh` (`make bench`); see bench/README.md for what each "
               "figure means and how it is measured. Figures with \"runs failed\" are medians over "
               "the runs that completed.\n\n" + text +
               (f"\n{profile_txt}" if profile_txt else "") +
               f"\n#### Every run\n\n{raw_runs(b)}\n")
        Path(args.write_results).write_text(doc)
        log(f"wrote {args.write_results}")
    if args.write_section and b.scale:
        write_scale_section(Path(args.write_section), text)
    lost = sum(b.lost_total.values())
    if lost or b.failures:
        log(f"FAILED: {lost} lost message(s), {b.failures} failed run(s)")
        return 1
    log("completed; no message lost")
    return 0


SCALE_TITLE = "## Queue scale (a separate `--only scale` run)"


def write_scale_section(path: Path, text: str) -> None:
    """Replaces (or appends) the queue scale section of RESULTS.md: from its title to the next
    "## " title or the end."""
    doc = path.read_text() if path.is_file() else "# Benchmark results\n"
    section = f"{SCALE_TITLE}\n\n{text}"
    start = doc.find(SCALE_TITLE)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + section
    else:
        end = doc.find("\n## ", start + len(SCALE_TITLE))
        doc = doc[:start] + section + (doc[end:] if end >= 0 else "")
    path.write_text(doc)
    log(f"wrote the queue scale section of {path}")
