"""Atomic file writes and run-folder handling (shared by every command that writes results)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from crossbar.errors import InputError
from crossbar.fsio import atomic_write_bytes


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
