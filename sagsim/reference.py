"""The literature table that ships with the package (sagsim/data/tissue_parameters.csv; how to
read its columns: sagsim/data/REFERENCE.md): a row by its quantity, with its citation."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import DataFileError

TABLE = Path(__file__).resolve().parent / "data" / "tissue_parameters.csv"


@dataclass(frozen=True)
class Row:
    """One quantity of the table: its value and range (None where the table has none), unit,
    source and how sure the source is (``confidence``)."""

    quantity: str
    tissue: str
    value: float | None
    unit: str
    low: float | None
    high: float | None
    source: str
    confidence: str
    notes: str


@lru_cache(maxsize=4)
def rows(path: Path = TABLE) -> dict:
    """Every row of the table by quantity (the first row of a quantity that appears twice)."""
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["quantity"], Row(r["quantity"], r["tissue_or_item"], _number(r["value"]), r["unit"],
                                              _number(r["low"]), _number(r["high"]), r["source"], r["confidence"],
                                              r["notes"]))
    return out


def row(quantity: str, path: Path = TABLE) -> Row:
    """The row of ``quantity``; a DataFileError naming the table when it has none."""
    found = rows(path).get(quantity)
    if found is None:
        raise DataFileError(f"{path}: quantity {quantity!r}: no such row")
    return found


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None
