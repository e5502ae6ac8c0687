"""Shared helpers for typed configs: readable pydantic errors and YAML mapping files.

Used by the macro presets (`crossbar.spec`) and by every config of `rram_lsm`, so that each bad
value is reported the same way: ``<file>: key '<dotted.key>': <what is wrong> (allowed: ...)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crossbar.errors import InputError

_BOUNDS = ("gt", "ge", "lt", "le")


def format_validation_error(exc: ValidationError, origin: str | None, example: str,
                            show_input: bool = False) -> str:
    """One line per error naming ``origin`` (file or model), the dotted key and the allowed
    range; unknown keys point at ``example`` (a file that shows the valid keys)."""
    where = f"{origin}: " if origin else ""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key (check the spelling; see {example})"
        elif err["type"] == "missing":
            msg = "required key is missing"
        ctx = err.get("ctx") or {}
        bounds = ", ".join(f"{k} {v}" for k, v in ctx.items() if k in _BOUNDS)
        if bounds:
            msg += f" (allowed: {bounds})"
        if show_input and err["type"] not in ("extra_forbidden", "missing"):
            msg += f" (got {err.get('input')!r})"
        lines.append(f"{where}key '{key}': {msg}")
    return "\n".join(lines)


def read_yaml_mapping(path: str | os.PathLike, error: type[InputError] = InputError,
                      what: str = "config") -> dict[str, Any]:
    """Parse a YAML file whose top level is a mapping (an empty file gives ``{}``)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} must be a YAML mapping at the top level")
    return raw
