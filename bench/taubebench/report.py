"""The Markdown tables of RESULTS.md (medians per point, ratios, targets) and the list of
every run."""

from __future__ import annotations

import statistics

from .common import (BIG_GROWTH_TARGET_MIB, DISCARD_TARGETS, IDLE_TARGET_KIB, KIB,
                     LAT_SESSIONS, MIB, RATIO_TARGETS, RELAY_P50_TARGET_MS, RELAY_RATIO_TARGET,
                     fmt)


def med(recs: list[dict] | None, field: str):
    vals = [r[field] for r in recs or [] if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def cell(b, kind: str, section: str, key, field: str, digits: int = 0) -> str:
    if kind in b.unavailable and (section, key, kind) not in b.results:
        return f"n/a ({b.unavailable[kind]})"
    recs = b.results.get((section, key, kind))
    if not recs:
        return "—"
    v = med(recs, field)
    bad = sum(1 for r in recs if not r.get("ok", True) or r.get("lost"))
    s = fmt(v, digits) if v is not None else "FAILED"
    if bad and v is not None:
        s += f" ({bad}/{len(recs)} runs failed)"
    elif bad:
        s += f" ({bad}/{len(recs)} runs)"
    return s


def ratio(a, b, digits: int = 2) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{digits}f}×"


def report(b) -> tuple[str, list[str]]:
    """Markdown tables and the list of missed targets."""
    out, missed = [], []
    if getattr(b, "scale", None):
        from .scale import scale_report
        text, m = scale_report(b)
        out.append(text)
        missed += m
        if not b.results:
            return "\n".join(out), missed
    if any(k[0] != "relay" and k[0] != "relay-lat" for k in b.results) or not b.results:
        receive(b, out, missed)
    if any(k[0] == "relay" for k in b.results) or "relay" in b.unavailable:
        relay(b, out, missed)
    return "\n".join(out), missed


def relay(b, out: list[str], missed: list[str]) -> None:
    """The relay tables: throughput to the last arrival per variant, lost/duplicated, the
    idle-queue latency."""
    n, sessions = b.p["relay"], b.p["relay_sessions"]
    out.append(f"\n### Relay: 1 KiB messages, {sessions} submission sessions, 20 destination "
               f"domains (smtp-sink on 127.0.0.2–21), messages/second\n")
    if "relay" in b.unavailable:
        out.append(f"n/a ({b.unavailable['relay']})")
        return
    out.append("| measurement | Taube | Postfix | Taube/Postfix | target |")
    out.append("|---|---:|---:|---:|---|")
    names = {"transport": "per-domain routes ([transport] / transport_maps)",
             "mx": "by MX (test DNS server; Taube only)",
             "smarthost": "all via one smarthost (relayhost)"}
    for variant in ("transport", "mx", "smarthost"):
        if variant == "mx" and ("relay", "mx", "taube") not in b.results:
            why = b.unavailable.get("relay-mx", "not run")
            out.append(f"| {names[variant]} | n/a: {why} | | | |")
            continue
        for field, what in (("acc_rate", "accepted/s (client's last 250)"),
                            ("rate", "relayed/s (first submission → last arrival)")):
            t = med(b.results.get(("relay", variant, "taube")), field)
            pf = med(b.results.get(("relay", variant, "postfix")), field)
            target = ""
            if variant == "mx":
                # Postfix cannot be pointed at the test DNS server: Taube by MX against
                # Postfix's per-domain routes (the same sinks), said so in the cell.
                pf = med(b.results.get(("relay", "transport", "postfix")), field)
            if field == "rate":
                goal = RELAY_RATIO_TARGET
                verdict = "?" if t is None or pf is None else (
                    "met" if t / pf >= goal else "MISSED")
                if verdict != "met":
                    missed.append(f"relay, {names[variant]}: Taube/Postfix {ratio(t, pf)} "
                                  f"(target ≥{goal:g}×)")
                target = f"≥{goal:g}× — {verdict}"
            pf_cell = (f"{fmt(pf)} (per-domain routes; no private resolver)" if variant == "mx"
                       else cell(b, 'postfix', 'relay', variant, field))
            out.append(f"| {names[variant]}, {n:,} msgs — {what} | "
                       f"{cell(b, 'taube', 'relay', variant, field)} | "
                       f"{pf_cell} | {ratio(t, pf)} | {target} |")
        out.append(f"| {names[variant]} — Taube CPU µs per relayed message | "
                   f"{cell(b, 'taube', 'relay', variant, 'cpu_us')} | — | | |")
        out.append(f"| {names[variant]} — connections the destinations saw per message | "
                   f"{cell(b, 'taube', 'relay', variant, 'conn_per_msg', 3)} | "
                   f"{'—' if variant == 'mx' else cell(b, 'postfix', 'relay', variant, 'conn_per_msg', 3)} | | |")
    for field, what in (("lost", "lost (acknowledged, never at a destination)"),
                        ("dup", "duplicated (at a destination more than once)")):
        cells = []
        for kind in ("taube", "postfix"):
            recs = [r for k, rs in b.results.items() if k[0] == "relay" and k[2] == kind
                    for r in rs]
            cells.append(str(sum(r.get(field, 0) for r in recs)) if recs else "—")
        out.append(f"| {what}, all runs | {' | '.join(cells)} | | must be 0 |")
    sink = med(b.results.get(("relay", "sink", "sink")), "rate")
    out.append(f"\nThe client straight to the 20 sinks (session i to sink i, no relay) carries "
               f"{fmt(sink)} msgs/s (median): the ceiling of the measurement itself.")
    lat_n = b.p["relay_lat"]
    out.append(f"\n### Relay latency on an idle queue (one message at a time, per-domain "
               f"routes): client's 250 → the destination's final \".\", ms\n")
    out.append("| percentile | Taube | Postfix | Postfix/Taube | target |")
    out.append("|---|---:|---:|---:|---|")
    for field in ("p50", "p99"):
        t = med(b.results.get(("relay-lat", "transport", "taube")), field)
        pf = med(b.results.get(("relay-lat", "transport", "postfix")), field)
        target = ""
        if field == "p50":
            verdict = "met" if t is not None and t <= RELAY_P50_TARGET_MS else "MISSED"
            if verdict != "met":
                missed.append(f"relay latency p50 {fmt(t, 2)} ms (target ≤{RELAY_P50_TARGET_MS:g})")
            target = f"≤{RELAY_P50_TARGET_MS:g} ms — {verdict}"
        out.append(f"| {field} ({lat_n:,} messages) | "
                   f"{cell(b, 'taube', 'relay-lat', 'transport', field, 2)} | "
                   f"{cell(b, 'postfix', 'relay-lat', 'transport', field, 2)} | "
                   f"{ratio(pf, t)} | {target} |")


def receive(b, out: list[str], missed: list[str]) -> None:
    """The receiving tables (storing servers, protocol only, latency, memory)."""
    sz = lambda s: f"{s // KIB} KiB"  # noqa: E731

    out.append("### Storing servers (every message fsynced into a Maildir), messages/second\n")
    out.append("| measurement | Taube | Postfix | aiosmtpd | Taube/Postfix | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    for sessions, size, count in b.p["points"]:
        key = (sessions, size)
        for field, what in (("acc_rate", "accepted/s"), ("del_rate", "delivered/s")):
            t = med(b.results.get(("tput", key, "taube")), field)
            pf = med(b.results.get(("tput", key, "postfix")), field)
            target = ""
            if size == KIB and sessions in RATIO_TARGETS and field == "del_rate":
                goal = RATIO_TARGETS[sessions]
                if t is None or pf is None:
                    verdict = "?"
                else:
                    verdict = "met" if t / pf >= goal else "MISSED"
                if verdict != "met":
                    why = ratio(t, pf) if t is not None and pf is not None else (
                        "unknown: no Taube figure (every run failed)" if t is None
                        else "unknown: no Postfix figure")
                    missed.append(f"{sz(size)} × {sessions} session(s): Taube/Postfix delivered "
                                  f"{why} (target ≥{goal:g}×)")
                target = f"≥{goal:g}× — {verdict}"
            out.append(f"| {sz(size)}, {sessions} session(s), {count:,} msgs — {what} | "
                       f"{cell(b, 'taube', 'tput', key, field)} | "
                       f"{cell(b, 'postfix', 'tput', key, field)} | "
                       f"{cell(b, 'aiosmtpd', 'tput', key, field)} | {ratio(t, pf)} | {target} |")
    lost_cells = []
    for kind in ("taube", "postfix", "aiosmtpd"):
        if kind in b.unavailable and not any(k[2] == kind for k in b.results):
            lost_cells.append("n/a")
        else:
            lost_cells.append(str(b.lost_total.get(kind, 0)))
    out.append(f"| lost messages (acknowledged, not in Maildir), all runs | "
               f"{' | '.join(lost_cells)} | | must be 0 |")

    out.append("\n### Protocol only (Taube with `mode = \"discard\"` vs smtp-sink), "
               "accepted messages/second\n")
    out.append("| measurement | Taube (discard) | smtp-sink | Taube/smtp-sink | target | "
               "server CPU µs/msg: Taube (discard) | smtp-sink |")
    out.append("|---|---:|---:|---:|---|---:|---:|")
    for sessions, size, count in b.p["points"]:
        key = (sessions, size)
        t = med(b.results.get(("tput", key, "taube-discard")), "acc_rate")
        s = med(b.results.get(("tput", key, "smtp-sink")), "acc_rate")
        target = ""
        if size == KIB and sessions in DISCARD_TARGETS:
            goal = DISCARD_TARGETS[sessions]
            verdict = "?" if t is None or s is None else ("met" if t / s >= goal else "MISSED")
            if verdict != "met":
                missed.append(f"{sz(size)} × {sessions} session(s), protocol only: "
                              f"Taube/smtp-sink {ratio(t, s)} (target ≥{goal:g}×)")
            target = f"≥{goal:g}× — {verdict}"
        out.append(f"| {sz(size)}, {sessions} session(s), {count:,} msgs — accepted/s | "
                   f"{cell(b, 'taube-discard', 'tput', key, 'acc_rate')} | "
                   f"{cell(b, 'smtp-sink', 'tput', key, 'acc_rate')} | {ratio(t, s)} | {target} | "
                   f"{cell(b, 'taube-discard', 'tput', key, 'cpu_us')} | "
                   f"{cell(b, 'smtp-sink', 'tput', key, 'cpu_us')} |")

    out.append(f"\n### Latency of a full transaction (connect … QUIT, 1 KiB), "
               f"{LAT_SESSIONS} sessions, ms\n")
    kinds = ("taube", "postfix", "aiosmtpd", "taube-discard", "smtp-sink")
    out.append("| percentile | Taube | Postfix | aiosmtpd | Taube (discard) | smtp-sink "
               "| Taube/Postfix |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for field in ("p50", "p99"):
        t = med(b.results.get(("lat", LAT_SESSIONS, "taube")), field)
        pf = med(b.results.get(("lat", LAT_SESSIONS, "postfix")), field)
        cells = " | ".join(cell(b, k, "lat", LAT_SESSIONS, field, 2) for k in kinds)
        out.append(f"| {field} ({b.p['lat_tx']:,} transactions) | {cells} | {ratio(t, pf)} |")

    out.append("\n### Memory\n")
    out.append("| measurement | Taube (RSS) | Postfix (PSS, all processes) | aiosmtpd (RSS) "
               "| Taube/Postfix | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    for n in b.p["idle"]:
        t = med(b.results.get(("idle", n, "taube")), "per_conn_kib")
        pf = med(b.results.get(("idle", n, "postfix")), "per_conn_kib")
        pf_cell = (cell(b, "postfix", "idle", n, "per_conn_kib", 1)
                   if ("idle", n, "postfix") in b.results or "postfix" in b.unavailable
                   else "not measured (process per connection)")
        target = ""
        if n == max(b.p["idle"]):
            if t is not None and t <= IDLE_TARGET_KIB:
                target = f"≤{IDLE_TARGET_KIB:g} KiB — met"
            else:
                target = f"≤{IDLE_TARGET_KIB:g} KiB — MISSED"
                missed.append(f"idle memory at {n:,} connections: {fmt(t, 1)} KiB/connection "
                              f"(target ≤{IDLE_TARGET_KIB:g})")
        out.append(f"| KiB per idle connection (after EHLO), {n:,} connections | "
                   f"{cell(b, 'taube', 'idle', n, 'per_conn_kib', 1)} | {pf_cell} | "
                   f"{cell(b, 'aiosmtpd', 'idle', n, 'per_conn_kib', 1)} | {ratio(t, pf)} | "
                   f"{target} |")
    if b.p["idle_postfix"] not in b.p["idle"]:
        n = b.p["idle_postfix"]
        out.append(f"| KiB per idle connection (after EHLO), {n:,} connections | — | "
                   f"{cell(b, 'postfix', 'idle', n, 'per_conn_kib', 1)} | — | — | |")
    big = b.p["big"]
    g = med([r for r in b.results.get(("big", big, "taube")) or [] if r.get("ok")], "growth_mib")
    target = ""
    if big == 100 * MIB:
        if g is not None and g <= BIG_GROWTH_TARGET_MIB:
            target = f"growth ≤{BIG_GROWTH_TARGET_MIB:g} MiB — met"
        else:
            target = f"growth ≤{BIG_GROWTH_TARGET_MIB:g} MiB — MISSED"
            missed.append(f"{big // MIB} MiB message: peak RSS growth "
                          + (f"{fmt(g, 1)} MiB" if g is not None else
                             "unknown (every run failed)")
                          + f" (target ≤{BIG_GROWTH_TARGET_MIB:g})")
    recs = b.results.get(("big", big, "taube"))
    good = [r for r in recs or [] if r.get("ok")]
    peak = med(good, "peak_kb")
    base = med(good, "before_kb")
    bad = sum(1 for r in recs or [] if not r.get("ok"))
    tcell = (f"peak {fmt(peak / 1024, 1)} MiB (idle {fmt(base / 1024, 1)} MiB, "
             f"growth {fmt(g, 1)} MiB)" if peak else "FAILED")
    if bad:
        tcell += f" ({bad}/{len(recs)} runs failed)"
    out.append(f"| peak RSS receiving one {big // MIB} MiB message | {tcell} | — | — | — | "
               f"{target} |")


def raw_runs(b) -> str:
    out = ["| section | point | server | per-run values |", "|---|---|---|---|"]
    for (section, key, kind), recs in b.results.items():
        vals = []
        for r in recs:
            if section == "tput":
                v = f"acc {fmt(r.get('acc_rate'))}/s"
                if "delivered" in r:
                    v += f", del {fmt(r.get('del_rate'))}/s ({r['delivered']}/{r['accepted']})"
                if r.get("cpu_us") is not None:
                    v += f", cpu {fmt(r['cpu_us'])} µs/msg"
                if not r["ok"]:
                    v += f", FAILED after {r['accepted']} accepted"
            elif section == "lat":
                v = f"p50 {fmt(r.get('p50'), 2)} / p99 {fmt(r.get('p99'), 2)} / max " \
                    f"{fmt(r.get('max'), 1)} ms, {r.get('slow', 0)} over 100 ms, {r['n']} ok, " \
                    f"{r['errors']} err"
            elif section == "relay":
                v = (f"relayed {fmt(r.get('rate'))}/s, acc {fmt(r.get('acc_rate'))}/s, "
                     f"{r.get('received', '?')}/{r['accepted']} received, lost {r['lost']}, "
                     f"dup {r['dup']}")
                if r.get("cpu_us") is not None:
                    v += f", cpu {fmt(r['cpu_us'])} µs/msg"
                if r.get("conn_per_msg") is not None:
                    v += f", {fmt(r['conn_per_msg'], 3)} connections/msg"
                if r.get("errors"):
                    v += f", {r['errors']} submission errors"
            elif section == "relay-lat":
                v = f"p50 {fmt(r.get('p50'), 2)} / p99 {fmt(r.get('p99'), 2)} / max " \
                    f"{fmt(r.get('max'), 1)} ms, {r['n']} ok, {r['errors']} err"
            elif section == "idle":
                v = f"{fmt(r.get('per_conn_kib'), 2)} KiB/conn ({r['before_kb']}→{r['after_kb']} " \
                    f"kB, {r['opened']} open in {r['open_s']:.1f} s)"
            else:
                v = f"{r['before_kb']}→{r['peak_kb']} kB in {r['seconds']:.2f} s" + \
                    ("" if r["ok"] else " FAILED")
            if r.get("busy", 0) > 0.25:
                v += f" [CPUs {r['busy']:.0%} busy by others before this run]"
            vals.append(v)
        if section == "tput":
            point = f"{key[0]} sess × {key[1] // KIB} KiB"
        elif section.startswith("relay"):
            point = str(key)
        elif section == "big":
            point = f"{key // MIB} MiB"
        else:
            point = str(key)
        out.append(f"| {section} | {point} | {kind} | {'; '.join(vals)} |")
    return "\n".join(out)
