"""Taube configurations as dicts: render them as TOML, merge variants, substitute ${NAME}."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from . import HOST, HOSTNAME


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def _is_table_list(v) -> bool:
    return isinstance(v, list) and bool(v) and isinstance(v[0], dict)


def to_toml(cfg: dict) -> str:
    """Render a dict as TOML: scalars first, then tables, then lists of tables ([[listener]])."""
    out = []
    for k, v in cfg.items():
        if not isinstance(v, dict) and not _is_table_list(v):
            out.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.append(f"\n[{_toml_key(k)}]")
            out.extend(f"{_toml_key(kk)} = {_toml_value(vv)}" for kk, vv in v.items())
    for k, v in cfg.items():
        if _is_table_list(v):
            for item in v:
                out.append(f"\n[[{_toml_key(k)}]]")
                out.extend(f"{_toml_key(kk)} = {_toml_value(vv)}" for kk, vv in item.items())
    return "\n".join(out) + "\n"


def merge(base: dict, over: dict | None) -> dict:
    """Deep-merge `over` into a copy of `base`; a value of None deletes the key."""
    res = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in (over or {}).items():
        if v is None:
            res.pop(k, None)
        elif isinstance(v, dict) and isinstance(res.get(k), dict):
            res[k] = merge(res[k], v)
        else:
            res[k] = v
    return res


def base_config(mail_root: Path) -> dict:
    """What every integration-test server starts from (Taube's `config` is merged over it)."""
    return {
        "hostname": HOSTNAME,
        "listener": [{"address": HOST, "port": 0}],
        "delivery": {"mail_root": str(mail_root), "domains": ["localhost", "example.org"]},
        "aliases": {
            "info@example.org": ["alice@example.org", "bob@example.org"],
            "sales@example.org": ["alice@example.org"],
        },
    }


_VAR_RX = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace each ${NAME} by values[NAME]; an unknown name is an error (a typo would otherwise
    reach the server as a literal path)."""
    def one(m: re.Match) -> str:
        if m.group(1) not in values:
            raise KeyError(f"unknown variable ${{{m.group(1)}}} (known: {sorted(values)})")
        return values[m.group(1)]
    return _VAR_RX.sub(one, text)


def parse(text: str) -> dict:
    """A TOML document as a dict (tomllib), for tests that look at a config file's values."""
    return tomllib.loads(text)
