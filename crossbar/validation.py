"""Shared helpers for typed configs: readable pydantic errors and YAML mapping files.

Used by the macro presets (`crossbar.spec`) and by every config of `rram_lsm`, so that each bad
value is reported the same way: ``<file>: key '<dotted.key>': <what is wrong> (allowed: ...)``.
"""

from __future__ import annotations

import math
import os
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from crossbar.errors import InputError, MemoryLimitError

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
        if show_input and err["type"] not in ("extra_forbidden", "missing") and err["loc"] \
                and not isinstance(err.get("input"), dict | list) \
                and repr(err.get("input")) not in msg:
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
    except IsADirectoryError:
        raise error(f"{path}: is a folder; expected a {what} YAML file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a text (UTF-8) {what} file: byte {exc.start} cannot be decoded; "
                    f"expected a YAML {what}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({exc})") from None
    except RecursionError:
        raise error(f"{path}: YAML nested too deeply to be a {what}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: a {what} must be a YAML mapping at the top level")
    if _depth(raw) > MAX_YAML_DEPTH:
        raise error(f"{path}: YAML nested deeper than {MAX_YAML_DEPTH} levels; not a {what}")
    return raw


MAX_YAML_DEPTH = 32  # no config nests nearly this deep; deeper input would only exhaust the stack


def _depth(node: Any) -> int:
    """Nesting depth of lists / dicts (iterative: safe on any input)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            if d > MAX_YAML_DEPTH:
                break
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


# --- strict scalar types ---------------------------------------------------------------------
# pydantic's lax mode turns "0.1" into 0.1, true into 1 and 2.0 into 2 without a word; a config
# value of the wrong YAML type is almost always a typo, so the configs reject it instead.

def _scalar_types(annotation: Any) -> set[type]:
    """The plain types a field annotation admits (Optional / Union / Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: set[type] = set()
        for arg in typing.get_args(annotation):
            out |= _scalar_types(arg)
        return out
    if origin is typing.Literal:
        return {type(a) for a in typing.get_args(annotation)}
    if isinstance(annotation, type):
        return {annotation}
    return {object}  # containers, models, anything else: left to pydantic


def check_strict_scalar(annotation: Any, value: Any) -> Any:
    """Raise `ValueError` if ``value`` would be silently coerced into a numeric or boolean field.

    Rules: a bool field takes only true/false; an int field takes only integers (no bool, no
    2.0); a float field takes floats and integers (no bool, no strings). Other fields and None
    are passed through to pydantic unchanged."""
    if value is None:
        return value
    allowed = _scalar_types(annotation)
    if object in allowed or str in allowed or not allowed & {int, float, bool}:
        return value
    is_bool = isinstance(value, bool | np.bool_)
    if is_bool:
        if bool in allowed:
            return value
        want = "a number" if float in allowed else "an integer"
        raise ValueError(f"expected {want}, got the boolean {value!r}")
    if bool in allowed and not allowed & {int, float}:
        raise ValueError(f"expected true or false, got {value!r}")
    if isinstance(value, str | bytes):
        want = "a number" if float in allowed else "an integer"
        raise ValueError(f"expected {want}, got the string {value!r} (write it without quotes)")
    if int in allowed and float not in allowed and isinstance(value, float):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def strict_fields_validator(cls: type, value: Any, info: Any) -> Any:
    """Body of a ``field_validator("*", mode="before")``: `check_strict_scalar` for the field."""
    field = cls.model_fields.get(info.field_name)
    return value if field is None else check_strict_scalar(field.annotation, value)


class StrictConfig(BaseModel):
    """Base of every typed config section: unknown keys forbidden, no silent coercion
    (``"0.01"`` -> 0.01, ``true`` -> 1, ``2.0`` -> 2; `check_strict_scalar`) and no NaN or infinity
    in any value. Subclasses add ``frozen`` and their own error reporting."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        return strict_fields_validator(cls, value, info)


# --- memory budget ----------------------------------------------------------------------------
MEMORY_LIMIT_ENV = "RRAM_LSM_MAX_MEMORY_GB"


def memory_limit_bytes() -> int:
    """The most memory one request may plan to use: ``$RRAM_LSM_MAX_MEMORY_GB`` (GB = 1e9 bytes),
    else 80 % of the physical memory (8 GB where that cannot be read)."""
    env = os.environ.get(MEMORY_LIMIT_ENV)
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = float("nan")
        if not (math.isfinite(gb) and gb > 0):
            raise InputError(f"${MEMORY_LIMIT_ENV}={env!r}: expected a positive number of GB")
        return int(gb * 1e9)
    try:
        return int(0.8 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return int(8e9)


def check_memory(estimate_bytes: float, what: str, limit_bytes: int | None = None) -> None:
    """Refuse (`MemoryLimitError`) a request whose estimated size exceeds the limit, so that it
    fails with a clear message instead of a `MemoryError` or the kernel's OOM killer.

    Args:
        estimate_bytes: the planned allocation in bytes.
        what: the request in words, naming the option that sized it (e.g. "--arrays 100000").
        limit_bytes: the limit (None: `memory_limit_bytes`).
    """
    limit = memory_limit_bytes() if limit_bytes is None else int(limit_bytes)
    if estimate_bytes > limit:
        raise MemoryLimitError(
            f"{what} needs about {estimate_bytes / 1e9:.3g} GB of memory, above the limit of "
            f"{limit / 1e9:.3g} GB; ask for less, or raise the limit with "
            f"${MEMORY_LIMIT_ENV}=<GB> if the machine really has the memory"
        )


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) replaced by None, recursively (dicts,
    lists, tuples): JSON has no NaN or Infinity, so `--json` output writes null for them."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    return value
