#!/usr/bin/python3
"""aiosmtpd (Debian's python3-aiosmtpd) with a minimal durable Maildir handler, for the benchmark.

    /usr/bin/python3 bench/aiosmtpd_maildir.py --port PORT --root DIR

Every recipient <local>@<domain> gets <root>/<local>/{tmp,new,cur}. For each message the handler
writes tmp/<unique>, fsyncs it, renames it into new/ (and fsyncs new/) and only then answers 250,
which is the same durability promise Taube and Postfix make. Prints "listening on HOST:PORT" on
stdout once the socket is bound.
"""

import argparse
import asyncio
import itertools
import os
import re
import socket
import sys
import time

from aiosmtpd.smtp import SMTP

_SAFE = re.compile(r"[^A-Za-z0-9._+-]")
_seq = itertools.count()
_HOST = socket.gethostname()


class MaildirHandler:
    def __init__(self, root: str):
        self.root = root
        self.made: set[str] = set()

    def _maildir(self, local: str) -> str:
        d = os.path.join(self.root, _SAFE.sub("_", local) or "_")
        if d not in self.made:
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            self.made.add(d)
        return d

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        header = (f"Return-Path: <{envelope.mail_from}>\r\n").encode()
        for rcpt in envelope.rcpt_tos:
            d = self._maildir(rcpt.rsplit("@", 1)[0])
            name = f"{time.time_ns()}.P{os.getpid()}Q{next(_seq)}.{_HOST}"
            tmp = os.path.join(d, "tmp", name)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, header)
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, os.path.join(d, "new", name))
            dfd = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return "250 2.0.0 OK: queued"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--data-size-limit", type=int, default=209715200)
    args = ap.parse_args()
    os.makedirs(args.root, exist_ok=True)
    handler = MaildirHandler(args.root)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return SMTP(handler, hostname="aiosmtpd.bench.test",
                    data_size_limit=args.data_size_limit, loop=loop)

    server = loop.run_until_complete(
        loop.create_server(factory, host=args.host, port=args.port, backlog=4096))
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {args.host}:{port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
