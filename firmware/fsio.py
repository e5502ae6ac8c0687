"""Atomic file output: write to a temp file in the target folder, fsync, rename.

An existing file is never replaced unless ``force`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from crossbar.fsio import atomic_write as _atomic_write
from firmware.errors import OutputExistsError


def refuse_overwrite(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise `OutputExistsError` if ``path`` exists and ``force`` is not set."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: file exists; choose another output path or pass --force")
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None],
                 force: bool = False) -> Path:
    """Call ``write(fh)`` on a temp file next to ``path`` and rename it to ``path``."""
    return _atomic_write(refuse_overwrite(path, force), write)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, force: bool = False) -> Path:
    return atomic_write(path, lambda fh: fh.write(data), force)
