"""The power-cut tests catch missing syncs: the same cycles (test_power_cut) against "broken
builds" of Taube, each with one kind of sync call turned into a no-op that returns success by
the crashfs shim (CRASHFS_DROP; the server has no such switch):

  file-fsync  fsync(2) of a regular file   (DurableFile::publish, before any name is given)
  dir-fsync   fsync(2) of a directory      (new/ after the link, the journal's directory)
  fdatasync   fdatasync(2)                 (the delivery journal's group commit, its header)
  syncfs      syncfs(2)                    (the journal publisher's batches)

Each variant must be caught (a lost acknowledged message, a partial file, or a server that no
longer starts) in the configuration that uses the call: the direct path (journal = false) for
the first two, the journal for the other two. TAUBE_POWER_CUT=long also runs every variant in
the other configuration and reports whether it is caught there (docs/robustness.md explains
why some are not: the call is redundant there under the model).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crashfs"))
import crashfs  # noqa: E402
import harness as h  # noqa: E402
import power_cut as pc  # noqa: E402
from taubetest import robust as rh  # noqa: E402

LONG = os.environ.get("TAUBE_POWER_CUT") == "long"
# Where each call matters: journal on/off.
EXPECTED = {"file-fsync": False, "dir-fsync": False, "fdatasync": True, "syncfs": True}
SWEEP = {True: 8, False: 4}


def run_variant(drop: str, journal: bool, seed: int) -> tuple[bool, str]:
    """Returns (caught, how)."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="taube-powercut-"))
    r = None
    try:
        r = pc.Runner(work, journal, drop=drop)
        r.fail_fast = True  # the first failed check is enough
        try:
            r.random_cuts(2 if LONG else 1, rng, threads=3, ack_cut_every=1)
            r.armed_sweep(SWEEP[journal], rng)
            final = r.finish()
        except pc.Violation:
            pass
        except pc.StartFailed as e:
            return True, "the server did not start after a cut: " + str(e).splitlines()[-1][:200]
        st = r.stats
        if st.violations:
            when, summary, lost, partial, dups = st.violations[0]
            ex = lost[:1] or partial[:1] or dups[:1]
            return True, f"first at {when}: {summary}; e.g. {ex}"
        if final.bad():
            return True, "at the end: " + final.summary()
        return False, f"not caught: {st.cuts} cuts, {final.summary()}"
    finally:
        if r is not None:
            r.close()
        shutil.rmtree(work, True)


class Variants(unittest.TestCase):
    def check(self, drop: str, journal: bool, must_catch: bool) -> None:
        seed = int(os.environ.get("TAUBE_CRASH_SEED", random.randrange(1, 1 << 30)))
        caught, how = run_variant(drop, journal, seed)
        rh.report("power_cut_variant", drop=drop, journal="on" if journal else "off",
                  seed=seed, caught="yes" if caught else "no", how=how.replace(" ", "_")[:300])
        if must_catch:
            self.assertTrue(caught, f"dropping {drop} (journal {journal}) went unnoticed: {how}")

    def test_file_fsync_dropped_direct(self):
        self.check("file-fsync", False, True)

    def test_dir_fsync_dropped_direct(self):
        self.check("dir-fsync", False, True)

    def test_fdatasync_dropped_journal(self):
        self.check("fdatasync", True, True)

    def test_syncfs_dropped_journal(self):
        self.check("syncfs", True, True)

    @unittest.skipUnless(LONG, "the other configuration's variants run in the long form only")
    def test_variants_in_the_other_configuration(self):
        for drop, journal in EXPECTED.items():
            with self.subTest(drop=drop):
                self.check(drop, not journal, False)  # reported, not required


if __name__ == "__main__":
    reason = crashfs.skip_reason()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()
