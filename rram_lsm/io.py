"""File output for the rram_lsm commands: the shared atomic writer plus run-folder handling.

The writer and the overwrite guard live in `crossbar.fsio` (one implementation for every package);
they are re-exported here for the modules that import them from ``rram_lsm.io``.
"""

from __future__ import annotations

import os
from pathlib import Path

from crossbar.errors import OutputExistsError
from crossbar.fsio import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    refuse_overwrite,
)

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "prepare_output_dir", "refuse_overwrite"]


def prepare_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Create a run folder; refuse to reuse a non-empty one unless ``force`` (`OutputExistsError`)."""
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not force:
        raise OutputExistsError(
            f"{path}: output folder exists and is not empty; choose another --out or pass --force"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path
