"""Writes outbound queue items in Taube's on-disk format (docs/outbound.md "On disk"), fast: the
queue-scale benchmark needs up to a million deferred items, which no SMTP client could submit
in a benchmark's time. The envelope text follows src/queue/envelope.cpp (encode_envelope) for
the fields used here; template() takes a real item that Taube itself wrote and check_codec()
proves that re-encoding it here gives the same bytes, so the generator cannot drift from Taube's
format unnoticed (and the benchmark also fails if Taube's scan calls any generated item
corrupt)."""

from __future__ import annotations

import os
from multiprocessing import Process
from pathlib import Path

MAGIC = "taube-envelope 1"


def xtext(s: str) -> str:
    """RFC 3461 §4 xtext, as smtp::encode_xtext: printable ASCII but '+' and '=' as is."""
    out = []
    for b in s.encode():
        if 33 <= b <= 126 and b not in (0x2B, 0x3D):
            out.append(chr(b))
        else:
            out.append(f"+{b:02X}")
    return "".join(out)


def unxtext(s: str) -> str:
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == "+":
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(ord(s[i]))
            i += 1
    return out.decode()


def encode(env: dict) -> str:
    """encode_envelope() for: id, arrival, sender, size/body/smtputf8, client, recipients with
    state, attempts, next, route and reply (no DSN parameters, no AUTH user, no aliases)."""
    lines = [MAGIC, f"id {xtext(env['id'])}", f"arrival {env['arrival']}"]
    s = env["sender"]
    lines.append("from <>" if s is None else f"from {xtext(s[0])} {xtext(s[1])}")
    p = "param"
    if env.get("size"):
        p += f" size={env['size']}"
    p += " body=8bitmime" if env.get("body") == "8bitmime" else " body=7bit"
    p += " smtputf8=1" if env.get("smtputf8") else " smtputf8=0"
    lines.append(p)
    if env.get("client"):
        lines.append(f"client {xtext(env['client'][0])} {xtext(env['client'][1])}")
    for r in env["rcpts"]:
        line = f"rcpt {xtext(r['local'])} {xtext(r['domain'])} state={r['state']}"
        if r.get("attempts"):
            line += f" attempts={r['attempts']}"
        if r.get("next"):
            line += f" next={r['next']}"
        if r.get("route"):
            line += f" route={xtext(r['route'])}"
        if r.get("reply"):
            line += f" reply={xtext(r['reply'])}"
        lines.append(line)
    lines.append("end")
    return "\n".join(lines) + "\n"


def decode(text: str) -> dict:
    """The inverse of encode() for the same fields; anything else is an error (a record Taube
    writes that the generator does not know about)."""
    lines = text.split("\n")
    if lines[0] != MAGIC or lines[-1] != "" or lines[-2] != "end":
        raise ValueError("not a complete taube-envelope 1 file")
    env: dict = {"rcpts": []}
    for line in lines[1:-2]:
        f = line.split(" ")
        if f[0] == "id":
            env["id"] = unxtext(f[1])
        elif f[0] == "arrival":
            env["arrival"] = int(f[1])
        elif f[0] == "from":
            env["sender"] = None if f[1:] == ["<>"] else (unxtext(f[1]), unxtext(f[2]))
        elif f[0] == "param":
            for kv in f[1:]:
                k, v = kv.split("=", 1)
                if k == "size":
                    env["size"] = int(v)
                elif k == "body":
                    env["body"] = v
                elif k == "smtputf8":
                    env["smtputf8"] = v == "1"
                else:
                    raise ValueError(f"parameter {k} not known to the generator")
        elif f[0] == "client":
            env["client"] = (unxtext(f[1]), unxtext(f[2]))
        elif f[0] == "rcpt":
            r = {"local": unxtext(f[1]), "domain": unxtext(f[2])}
            for kv in f[3:]:
                k, v = kv.split("=", 1)
                if k in ("attempts", "next"):
                    r[k] = int(v)
                elif k in ("route", "reply"):
                    r[k] = unxtext(v)
                elif k == "state":
                    r[k] = v
                else:
                    raise ValueError(f"recipient field {k} not known to the generator")
            env["rcpts"].append(r)
        else:
            raise ValueError(f"record {f[0]} not known to the generator")
    return env


def check_codec(text: str) -> dict:
    """Decodes an envelope Taube wrote and re-encodes it: must be the same bytes."""
    env = decode(text)
    again = encode(env)
    if again != text:
        raise AssertionError(f"the generator's envelope format differs from Taube's:\n"
                             f"Taube:     {text!r}\ngenerator: {again!r}")
    return env


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _write_range(queue: str, lo: int, hi: int, spec: dict) -> None:
    env_t, msg_t = spec["env"], spec["message"]
    domains, now = spec["domains"], spec["now"]
    reply, route_for = spec["reply"], spec["routes"]
    envd, newd = queue + "/env/", queue + "/new/"
    for i in range(lo, hi):
        # 1 or 2 recipients (one in three items has two, at two different domains), the domain
        # cycling through the 20; attempts 1-5; next attempt 1-2 h ahead (destination down).
        d1 = domains[i % len(domains)]
        rcpts = [d1] if i % 3 else [d1, domains[(i + 7) % len(domains)]]
        env = dict(env_t)
        env["id"] = f"{spec['id_prefix']}{i:09X}"
        env["arrival"] = now - 600 - (i % 3000)
        env["rcpts"] = [dict(local=f"u{i}.{k}", domain=d, state="deferred",
                             attempts=1 + (i % 5), next=now + 3600 + (i % 3600),
                             route=route_for[d], reply=reply[d])
                        for k, d in enumerate(rcpts)]
        name = f"{spec['name_prefix']}Q{i}{spec['name_suffix']}"
        _write(envd + name, encode(env).encode())
        _write(newd + name, msg_t.replace(b"@MARKER@", f"sc.{i}".encode()))


def generate(queue: Path, n: int, spec: dict, procs: int = 2) -> None:
    """n items into `queue` (new/, env/ and the other directories created), in `procs` processes;
    then one sync() instead of an fsync per file (the items exist before Taube starts)."""
    for sub in ("tmp", "new", "env", "corrupt", "transcripts"):
        (queue / sub).mkdir(parents=True, exist_ok=True)
    step = (n + procs - 1) // procs
    ps = [Process(target=_write_range, args=(str(queue), k * step, min(n, (k + 1) * step), spec))
          for k in range(procs) if k * step < n]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"queue generator process failed ({p.exitcode})")
    os.sync()


def expected_deliveries(i: int) -> int:
    """Transactions item i takes at the destinations (one per distinct destination domain)."""
    return 1 if i % 3 else 2
