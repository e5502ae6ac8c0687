"""Atomic file writes and run-folder handling (shared by every command that writes results)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from crossbar.errors import InputError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def prepare_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Create a run folder; refuse to reuse a non-empty one unless ``force``."""
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not force:
        raise InputError(
            f"{path}: output folder exists and is not empty; choose another --out or pass --force"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def refuse_overwrite(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise `InputError` if ``path`` exists and ``force`` is not set."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: file exists; choose another output path or pass --force")
    return path
