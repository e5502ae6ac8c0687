"""The one atomic file writer and overwrite guard of every package.

A file is written to a temp file in the target folder, flushed to disk and renamed over the
target, so a reader never sees a half-written file. The finished file gets the permissions of an
ordinary new file (0666 minus the umask), not the 0600 of a temp file. Writing without
``overwrite`` refuses an existing target with `OutputExistsError` (an `InputError`: the CLI
answers exit code 2) -- both before writing and, race-free where the file system allows hard
links, at the final rename.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from crossbar.errors import OutputExistsError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "refuse_overwrite", "save_figure"]


def refuse_overwrite(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise `OutputExistsError` if ``path`` exists and ``force`` is not set; return the path."""
    path = Path(path)
    if not force and (path.exists() or path.is_symlink()):
        raise OutputExistsError(f"{path}: file exists; choose another output path or pass --force")
    return path


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (no window for threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform opens folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the target appeared meanwhile (rename would replace it)
    except FileExistsError:
        raise OutputExistsError(
            f"{path}: file exists; choose another output path or pass --force") from None
    except OSError:  # no hard links here (some network / FAT file systems): check, then rename
        refuse_overwrite(path)
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], *,
                 overwrite: bool = True) -> Path:
    """Call ``write(fh)`` on a temp file next to ``path``, then rename it to ``path``.

    With ``overwrite=False`` an existing ``path`` raises `OutputExistsError` and is left alone.
    Parent folders are created. Returns ``path`` as a `Path`.
    """
    path = Path(path)
    if not overwrite:
        refuse_overwrite(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, 0o666 & ~_umask())
        _publish(tmp, path, overwrite)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see `atomic_write`)."""
    return atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see `atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, overwrite: bool = True) -> Path:
    """Write ``obj`` as indented, key-sorted JSON (one trailing newline) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n",
                             overwrite=overwrite)


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110, *, overwrite: bool = True) -> Path:
    """Save a matplotlib figure atomically; the format follows the suffix of ``path`` (default PNG)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    return atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi, format=fmt), overwrite=overwrite)
