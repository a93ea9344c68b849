"""Running one integration test file.

Each tests/integration/test_*.py is one ctest, run as
    TAUBE_BIN=<taube> TAUBE_SOURCE_DIR=<repo> python3 tests/integration/test_X.py
Exit status: 0 all passed, 1 something failed, 77 a required external peer (swaks, curl,
postfix, ...) is missing, so ctest reports the test as skipped, never as passed.
"""

from __future__ import annotations

import os
import shutil
import sys
import unittest
from pathlib import Path

from .process import taube_bin

SKIP = 77


def require(*cmds: str) -> None:
    """Exit 77 (ctest: skipped) when an external program the test needs is not installed."""
    for cmd in cmds:
        if shutil.which(cmd) is None and not os.access(cmd, os.X_OK):
            print(f"SKIP: required program {cmd!r} not found", file=sys.stderr)
            sys.exit(SKIP)


def main(*required: str) -> None:
    """unittest entry point: 77 if a peer is missing, else 0/1 with the usual summary."""
    require(*required)
    taube_bin()
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    result = prog.result
    # The plain closing line understood by the CI log reader.
    # A test can fail more than once (in the body and in tearDown; subtests): count tests.
    bad = [t for t, _ in result.failures + result.errors] + list(result.unexpectedSuccesses)
    fixtures = {t.id() for t in bad if isinstance(t, unittest.suite._ErrorHolder)}
    tests = {getattr(t, "test_case", t).id() for t in bad
             if not isinstance(t, unittest.suite._ErrorHolder)}
    failed = len(tests) + len(fixtures)  # setUpModule/tearDownModule failures count too
    passed = max(0, result.testsRun - len(tests) - len(result.skipped))
    print(f"{Path(sys.argv[0]).stem}: {passed} passed, {failed} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)
