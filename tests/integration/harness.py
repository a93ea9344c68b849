"""The integration tests' view of tests/support/taubetest (the shared test support library).

Each test_*.py does `import harness as h`; this module puts tests/support on sys.path and
re-exports what the tests use, so `from taubetest import robust as rh` and
`from taubetest import security as s` work after it too. See taubetest/runner.py for how a
test file is run and what its exit status means; everything runs on loopback with ephemeral
ports and a fresh temporary directory per server, so files may run in parallel (ctest -j2).
"""

import sys
from pathlib import Path

_SUPPORT = str(Path(__file__).resolve().parents[1] / "support")
if _SUPPORT not in sys.path:
    sys.path.insert(0, _SUPPORT)

from taubetest import HOST, HOSTNAME, SOURCE_DIR  # noqa: E402
from taubetest.config import base_config, merge, to_toml  # noqa: E402
from taubetest.maildir import (Stored, all_maildirs, count_all_messages,  # noqa: E402
                               maildir_messages, maildir_tmp, open_temp_files, read_stored,
                               settle, tmp_leftovers, wait_messages, wire_to_stored)
from taubetest.postfix import PrivatePostfix  # noqa: E402
from taubetest.process import Taube, free_port, taube_bin  # noqa: E402
from taubetest.runner import SKIP, main, require  # noqa: E402
from taubetest.smtp import (QUEUED_RX, ConnectionClosed, RawClient, Reply,  # noqa: E402
                            SmtpError, dot_stuff, queued_id)

__all__ = ["ConnectionClosed", "HOST", "HOSTNAME", "PrivatePostfix", "QUEUED_RX", "RawClient",
           "Reply", "SKIP", "SOURCE_DIR", "SmtpError", "Stored", "Taube", "all_maildirs",
           "base_config", "count_all_messages", "dot_stuff", "free_port", "maildir_messages",
           "maildir_tmp", "main", "merge", "open_temp_files", "queued_id", "read_stored",
           "require", "settle", "taube_bin", "tmp_leftovers", "to_toml", "wait_messages",
           "wire_to_stored"]
