"""Exceptions shared by all packages.

`InputError` marks bad user input (a malformed preset, a corrupt file, an out-of-range option).
The CLI turns it into exit code 2 with the message on stderr and no traceback; everything else
is an internal error (exit code 1).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from the user: the message names the file, the field and the fix."""


class SpecError(InputError):
    """A macro preset / spec file is invalid."""


class OutputExistsError(InputError):
    """An output file (or a non-empty run folder) exists and overwriting was not allowed."""


class ReadbackError(InputError):
    """A readback (measured conductance) file is malformed or does not fit the preset."""


class MemoryLimitError(InputError):
    """A request would need more memory than the configured limit (estimated before allocating)."""
