"""Results folders: each kind (an aging run, a lift, a sweep, a calibration) is one module here
holding the names of its files, its writer and its reader, so that a folder is written and
read by the same code. Writers write data only (CSV, JSON, VTU, XDMF); the pictures are
drawn by sagsim.render, which asks this package what a folder holds.

The registry: :data:`KINDS` names each kind's module; :func:`folder_kind` tells a folder's
kind from the files it holds and :func:`open_folder` opens it with its kind's reader. The
kind modules are imported when first asked for, so ``import sagsim.results`` stays light.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..errors import DataFileError

#: kind name -> module (under sagsim.results) holding its file names, writer and reader
KINDS: dict[str, str] = {"aging": "aging", "lift": "lift", "sweep": "sweep", "calibration": "calibration",
                         "posture": "posture"}
#: the kinds `sagsim render` draws, in the order a folder is tested for them
RENDERED = ("aging", "lift")


def kind_module(kind: str) -> ModuleType:
    """The module of results-folder kind ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise DataFileError(f"results: field 'kind': expected one of {', '.join(KINDS)}, got {kind!r}")
    return importlib.import_module(f"{__name__}.{KINDS[kind]}")


def folder_kind(folder: str | Path, kinds: tuple = RENDERED) -> str:
    """The kind of ``folder`` among ``kinds``, from the files it holds (each kind's ``holds``);
    a DataFileError naming what each kind expects for anything else."""
    folder = Path(folder)
    for kind in kinds:
        if kind_module(kind).holds(folder):
            return kind
    for kind in kinds:  # begun, never finished: say so, not "not a results folder"
        module = kind_module(kind)
        if any((folder / name).exists() for name in module.STARTED):
            raise DataFileError(f"{folder}: an unfinished {kind} run (no {module.MARKER}, which a finished "
                                "run writes last); run it again on this folder")
    expected = ", or ".join(f"{kind_module(k).DESCRIPTION}" for k in kinds)
    raise DataFileError(f"{folder}: not an {' or '.join(kinds)} results folder (expected {expected})")


def open_folder(folder: str | Path, kinds: tuple = RENDERED):
    """``folder`` opened by its kind's reader (``open_folder`` of the kind's module)."""
    folder = Path(folder)
    return kind_module(folder_kind(folder, kinds)).open_folder(folder)
