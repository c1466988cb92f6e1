"""Reading sagsim's TOML input files (scenarios, thread plans, sweeps, calibrations) with one
kind of error: a ScenarioError of one line naming the file and, where there is one, the key."""
from __future__ import annotations

import tomllib
from pathlib import Path

from .fields import ScenarioError, read_text


def read_toml(path: str | Path, what: str) -> dict:
    """The TOML file at ``path`` as a dict; ``what`` names the file's kind in the error
    ("scenario", "plan", ...)."""
    path = Path(path)
    text = read_text(path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None


def read_tables(path: Path, what: str, tables) -> dict:
    """The TOML file at ``path`` (a ``what``: "plan", "sweep", ...), whose top-level keys must
    be among ``tables``."""
    raw = read_toml(path, what)
    known(raw, tables, str(path), "")
    return raw


def table(raw: dict, name: str, where: str, prefix: str = "") -> dict:
    """Sub-table ``name`` of ``raw`` ({} when absent); a value that is not a table is an error
    naming it as [prefix + name]."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: [{prefix}{name}]: expected a table, got {value!r}")
    return value


def known(table: dict, allowed, where: str, section: str) -> None:
    """Every key of ``table`` is one of ``allowed``, or an error naming the first that is not."""
    for key in table:
        if key not in allowed:
            sec = f"{section} " if section else ""
            raise ScenarioError(f"{where}: {sec}{key}: unknown key; expected one of {', '.join(allowed)}")
