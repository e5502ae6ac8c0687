"""Helpers shared by the CLI command modules."""

from __future__ import annotations

import contextlib
import sys
import warnings


@contextlib.contextmanager
def plain_warnings():
    """Show warnings as one 'rram-lsm: warning: ...' line on stderr (no source lines)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"rram-lsm: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        old, warnings.showwarning = warnings.showwarning, show
        try:
            yield
        finally:
            warnings.showwarning = old
