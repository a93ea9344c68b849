#!/usr/bin/env python3
"""Side-by-side benchmark: Taube vs a private Postfix, aiosmtpd (fsync Maildir) and smtp-sink.

Run through bench/run.sh (`make bench`); see bench/README.md for what each figure means.

    bench.py [--smoke | --quick] [--taube BIN] [--write-results FILE] [--command TEXT]

Standard library only: the code is in bench/taubebench/, the SMTP client, process handling and
the private Postfix in tests/support/taubetest/. Everything (configs, queues, Maildirs, logs)
lives in one temp dir that is removed at the end (BENCH_KEEP_TMP=1 keeps it). Servers listen on
free loopback ports. Exit status: 0 = completed and no message was lost; 1 = some run failed or
lost messages (the table is still printed / written); 2 = the harness itself could not run.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent / "tests" / "support"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from taubebench.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
