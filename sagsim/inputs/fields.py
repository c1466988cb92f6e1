"""The vocabulary every input file is written in: units and their spellings, quantities with a
unit ("4 mm", "15 %/decade"), ranges, choices, and the one conversion of a TOML value into
what a field declares.

A scenario's ``[scenario]`` key, a mechanism parameter, a thread field, a ``[sweep]`` option
and a dotted sweep key are all a :class:`Field`, and all are read by :func:`convert`, so the
same value is accepted or refused with the same words wherever it is written. Every fault is
a ScenarioError (sagsim.errors; every reader imports it from here): one line naming the
file, the table, the key and what was expected.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..anatomy.faces import BUILT_IN_FACES
from ..errors import ScenarioError

#: the built-in faces a scenario or a plan may name (anatomy.faces)
RESOLUTIONS = tuple(BUILT_IN_FACES)

#: accepted unit spellings -> factor to the canonical unit (the key of the outer dict)
UNITS = {
    "years": {"yr": 1.0, "y": 1.0, "year": 1.0, "years": 1.0, "month": 1 / 12, "months": 1 / 12,
              "decade": 10.0, "decades": 10.0},
    "1/decade": {"1/decade": 1.0, "/decade": 1.0, "per decade": 1.0, "%/decade": 0.01, "1/yr": 10.0, "/yr": 10.0,
                 "1/year": 10.0, "%/yr": 0.1, "%/year": 0.1},
    "mm/decade": {"mm/decade": 1.0, "mm/yr": 10.0, "mm/year": 10.0, "um/yr": 0.01},
    "m": {"m": 1.0, "cm": 1e-2, "mm": 1e-3},
    "N": {"N": 1.0, "mN": 1e-3, "kgf": 9.80665},
    "N/m": {"N/m": 1.0, "N/mm": 1e3},
    "-": {"": 1.0, "%": 0.01},
}
UNIT_WORDS = {"years": "a duration in years", "1/decade": "a fraction per decade", "mm/decade": "a rate in mm per decade",
              "-": "a dimensionless number", "m": "a length", "N": "a force", "N/m": "a stiffness"}
EXAMPLES = {"years": "10 years", "1/decade": "12 %/decade", "mm/decade": "0.5 mm/decade", "-": "2.0", "m": "5 mm",
            "N": "1 N", "N/m": "200 N/m"}


@dataclass(frozen=True)
class Field:
    """One key of an input file: its ``kind`` ("quantity", "bool", "int", "str", "choice",
    "list", "any"), default, meaning, canonical ``unit`` and allowed ``range`` (quantities and
    integers), ``choices``, and the source of its default."""

    name: str
    kind: str
    default: Any = None
    doc: str = ""
    unit: str = "-"
    range: tuple = (None, None)
    choices: tuple = ()
    source: str = ""

    @property
    def continuous(self) -> bool:
        return self.kind == "quantity"


def convert(f: Field, value, where: str, key: str):
    """``value`` (a TOML value) as field ``f`` declares it: a quantity in its canonical unit
    and within its range, a bool, an integer in range, one of the choices, a string, a list,
    or (kind "any") a number (as float), string or bool. ScenarioError "where: key: ..." otherwise."""
    if f.kind == "quantity":
        return quantity(value, f.unit, f.range, where, key)
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: {key}: expected true or false, got {value!r}")
        return value
    if f.kind == "choice":
        if value not in f.choices:
            raise ScenarioError(f"{where}: {key}: expected one of {list(f.choices)}, got {value!r}")
        return value
    if f.kind == "int":
        lo, hi = f.range
        if isinstance(value, bool) or not isinstance(value, int):
            ok = False
        else:
            ok = (lo is None or lo <= value) and (hi is None or value <= hi)
        if not ok:
            bounds = f" from {lo} to {hi}" if lo is not None else ""
            raise ScenarioError(f"{where}: {key}: expected an integer{bounds}, got {value!r}")
        return value
    if f.kind == "str":
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: {key}: expected a string, got {value!r}")
        return value
    if f.kind == "list":
        return value
    if isinstance(value, (bool, str, int, float)):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    raise ScenarioError(f"{where}: {key}: expected a number, a string or true/false, got {value!r}")


def convert_pair(f: Field, value, where: str, key: str) -> tuple:
    """``[low, high]`` of field ``f``, each converted; ScenarioError "where: key: ..." otherwise."""
    if not (isinstance(value, list) and len(value) == 2):
        raise ScenarioError(f"{where}: {key}: expected [low, high], got {value!r}")
    low, high = (convert(f, v, where, key) for v in value)
    return low, high


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def quantity(value, unit: str, bounds: tuple, where: str, key: str) -> float:
    """A number in the canonical ``unit``, or a string "<number> <unit>" converted to it,
    within ``bounds`` (either may be None)."""
    spellings = UNITS[unit]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScenarioError(f"{where}: {key}: expected {UNIT_WORDS[unit]}, got {value!r}")
    if isinstance(value, str):
        m = _QUANTITY.match(value)
        if not m:
            raise ScenarioError(f"{where}: {key}: expected {UNIT_WORDS[unit]} like '{EXAMPLES[unit]}', got {value!r}")
        number, given = float(m.group(1)), m.group(2).lower().replace(" ", "")
        table = {k.replace(" ", "").lower(): f for k, f in spellings.items()}
        table[""] = 1.0  # a bare number in a string: the canonical unit
        if given not in table:
            units = ", ".join(u for u in spellings if u) or "none"
            raise ScenarioError(f"{where}: {key}: expected {UNIT_WORDS[unit]} (units: {units}), got unit "
                                f"{m.group(2)!r}")
        value = number * table[given]
    value = float(value)
    lo, hi = bounds
    if not (value == value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ScenarioError(f"{where}: {key}: out of range: expected {lo:g} to {hi:g} {unit}, got {value:g}")
    return value


def safe_name(value, where: str, key: str) -> str:
    """A run's name, which names its results folder (results/NAME): one path component, so that
    no name writes outside that folder ("../x", "/tmp/x" and "." are refused)."""
    if (not isinstance(value, str) or not value.strip() or value != value.strip() or value.startswith(".")
            or any(c in value for c in "/\\\0") or len(value) > 100):
        raise ScenarioError(f"{where}: {key}: expected a name for the results folder (one folder name: no '/', "
                            f"'\\', leading '.' or surrounding spaces, at most 100 characters), got {value!r}")
    return value


def read_text(path: str | Path, what: str) -> str:
    """The text of input file ``path`` (a ``what``: "scenario", "measurements", ...), UTF-8 with or
    without a byte-order mark; a file that cannot be read or decoded is one line naming the
    first byte that is not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{path}: the {what} is not UTF-8 text: byte {exc.start} (line {line}) is "
                            f"0x{data[exc.start]:02x}; save it as UTF-8") from None


def beside(name: str, path: Path | None) -> Path:
    """A file named in an input file: relative names are relative to that file's folder."""
    p = Path(name)
    return p if p.is_absolute() or path is None else path.parent / p


@contextmanager
def within(prefix: str, sep: str = ": "):
    """An ScenarioError raised inside is raised again as "prefix<sep>message" (a file that names
    another file, or a run of a sweep, says where the fault came from)."""
    try:
        yield
    except ScenarioError as exc:
        raise ScenarioError(f"{prefix}{sep}{exc}") from None
