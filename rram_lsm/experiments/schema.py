"""Checks used when reading saved results (``metrics.json``) back into typed objects.

Every check raises `ResultsError` naming where in the file the problem is, so that a renamed,
missing or mistyped key fails loudly instead of reading as "absent".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rram_lsm.errors import InputError


class ResultsError(InputError):
    """A saved results file does not match the results schema (bad input: exit code 2)."""


def mapping(d: Any, where: str) -> dict:
    """``d`` itself, if it is a JSON object (any keys)."""
    if not isinstance(d, dict):
        raise ResultsError(f"{where}: expected an object, got {type(d).__name__}")
    return d


def fields(d: Any, where: str, required: Iterable[str], optional: Iterable[str] = (),
           open_: bool = False) -> dict:
    """``d`` itself, if it is an object with every ``required`` key and (unless ``open_``) no key
    outside ``required`` + ``optional``."""
    mapping(d, where)
    required = tuple(required)
    missing = [k for k in required if k not in d]
    if missing:
        raise ResultsError(f"{where}: missing key(s) {missing} (renamed or removed?)")
    if not open_:
        unknown = sorted(set(d) - set(required) - set(optional))
        if unknown:
            raise ResultsError(f"{where}: unknown key(s) {unknown} (not in this results schema)")
    return d


def num(v: Any, where: str) -> float:
    """A JSON number (NaN included) as float."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ResultsError(f"{where}: expected a number, got {v!r}")
    return float(v)


def whole(v: Any, where: str) -> int:
    """A JSON integer."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise ResultsError(f"{where}: expected an integer, got {v!r}")
    return v


def text(v: Any, where: str) -> str:
    """A JSON string."""
    if not isinstance(v, str):
        raise ResultsError(f"{where}: expected a string, got {v!r}")
    return v
