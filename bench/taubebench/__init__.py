"""taubebench: the side-by-side benchmark of Taube, Postfix, aiosmtpd and smtp-sink.

Run through bench/run.sh (`make bench`); bench/README.md says what each figure means. Standard
library only, plus tests/support/taubetest (SMTP client, processes, private Postfix). Modules:

    common   constants, profiles, targets, small helpers
    servers  the servers compared (Taube, Taube in discard mode, Postfix, aiosmtpd, smtp-sink)
    load     throughput with smtp-source
    latency  full transactions from concurrent clients
    memory   idle connections and one big message
    system   the machine: CPU busy, dirty pages, load average, versions
    driver   Bench: runs every measurement, records results and anomalies
    report   the Markdown tables and the list of runs
    main     command line, the run, RESULTS.md
"""
