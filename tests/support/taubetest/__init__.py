"""taubetest: the Python support library of Taube's integration tests and benchmark.

Standard library only (python3 >= 3.11). Modules:

    config    TOML rendering and merging of config dicts, the integration tests' base config,
              ${NAME} substitution in config files
    process   child processes: Child (any server), Taube (the real binary on loopback ports),
              free ports, waiting for a greeting, leftovers killed at exit
    procinfo  /proc figures of a process: RSS, PSS, CPU time, open files, its process tree
    smtp      RawClient (byte-exact SMTP, STARTTLS/implicit TLS, AUTH), Reply, dot stuffing
    maildir   reading Maildirs and the messages Taube stored (Stored: Return-Path + Received)
    messages  messages with a unique marker and the check of a whole store against them
    postfix   PrivatePostfix: a Postfix instance with its own config, queue and loopback port
    dovecot   PrivateDovecot: Dovecot's LMTP server with its own config, users, quota and
              Maildir store, on a unix socket and a loopback port
    security  SecTaube (TLS, AUTH users file, relay spool) and its TLS/AUTH session helpers
    robust    helpers of the robustness tests (normal transaction, MEASURE lines)
    runner    exit codes and the unittest entry point of one integration test file
    smtp_peer SmtpPeer: a scriptable, recording destination SMTP server (outbound tests)
    prom      reading /metrics: the text format parsed, deltas, scrapes, promtool check metrics
    outbound  the outbound tests' config contract, submission, DSN reader, queue and log
    dns_server  DnsServer: a zone-driven DNS server on 127.0.0.1 (UDP/TCP) for the resolver tests

Everything listens on 127.0.0.1 with ephemeral ports, in fresh temporary directories.
"""

import os
from pathlib import Path

HOST = "127.0.0.1"
HOSTNAME = "mx.test"
SOURCE_DIR = Path(os.environ.get("TAUBE_SOURCE_DIR", Path(__file__).resolve().parents[3]))
