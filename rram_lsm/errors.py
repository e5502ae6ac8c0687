"""Errors of the rram_lsm package (all bad-input errors derive from `crossbar.errors.InputError`)."""

from __future__ import annotations

from crossbar.errors import InputError


class ConfigError(InputError):
    """An experiment config is invalid."""


class DataError(InputError):
    """A dataset is missing or a data file is malformed."""


__all__ = ["ConfigError", "DataError", "InputError"]
