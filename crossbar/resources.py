"""The shipped configuration files: macro presets and the LSM / data / experiment configs.

In the repository they live in one place, the top-level ``configs/`` folder. The build maps that
folder to the package ``crossbar._configs`` (pyproject: ``package-dir`` and ``package-data``), so a
wheel installs the files inside the package and an editable install finds them in place; both are
read through `importlib.resources`. A source checkout that is merely on ``sys.path`` (no install)
reads its own ``configs/`` folder directly -- it wins over any installed copy, so that a checkout
never picks up the configs of another one.

Paths are relative to ``configs/`` and use ``/``: ``config_file("macro/rram-40nm-256kb.yaml")``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["CONFIG_PACKAGE", "config_dir", "config_file", "config_root", "list_config_files"]

#: The package that holds the shipped configs once installed.
CONFIG_PACKAGE = "crossbar._configs"

# Files of a zipped install are copied to a temp folder for as long as the process runs.
_EXTRACTED = contextlib.ExitStack()
atexit.register(_EXTRACTED.close)


def _checkout_configs() -> Path | None:
    """``configs/`` of the source checkout this crossbar was imported from, if it is one."""
    root = Path(__file__).resolve().parent.parent
    folder = root / "configs"
    if (root / "pyproject.toml").is_file() and (folder / "__init__.py").is_file():
        return folder
    return None


@functools.lru_cache(maxsize=1)
def config_root() -> Traversable:
    """The folder of shipped configs (a `Path`, or another `Traversable` for zipped installs)."""
    checkout = _checkout_configs()
    if checkout is not None:
        return checkout
    try:
        return importlib.resources.files(CONFIG_PACKAGE)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"the shipped configs are missing: neither a source checkout's configs/ folder next to "
            f"{Path(__file__).resolve().parent} nor the package {CONFIG_PACKAGE} was found; "
            "reinstall rram-lsm") from None


def _resource(relpath: str) -> Traversable:
    node = config_root()
    for part in relpath.strip("/").split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"config path {relpath!r} must be relative to configs/ without '..'")
        node = node.joinpath(part)
    return node


def config_file(relpath: str, *, required: bool = True) -> Path | None:
    """A shipped config file as a real file-system path, e.g. ``config_file("lsm/image.yaml")``.

    Raises `FileNotFoundError` if there is no such file, or returns None if ``required`` is False.
    """
    res = _resource(relpath)
    if not res.is_file():
        if required:
            raise FileNotFoundError(f"no shipped config file configs/{relpath}")
        return None
    if isinstance(res, Path):
        return res
    return _EXTRACTED.enter_context(importlib.resources.as_file(res))


def config_dir(subdir: str) -> Path | None:
    """A folder of shipped configs as a real path (None for a zipped install or a missing folder)."""
    res = _resource(subdir)
    return res if isinstance(res, Path) and res.is_dir() else None


def list_config_files(subdir: str = "", suffix: str = ".yaml") -> list[str]:
    """Sorted names of the shipped files ending in ``suffix`` directly in ``configs/<subdir>``."""
    folder = _resource(subdir) if subdir else config_root()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))
