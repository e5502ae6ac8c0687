"""Shared fixtures."""

from __future__ import annotations

import pytest

from crossbar import load_preset


@pytest.fixture(scope="session")
def spec():
    """The default 512 x 512 preset."""
    return load_preset("rram-40nm-256kb")


@pytest.fixture(scope="session")
def ideal_spec(spec):
    """The default preset without faults (for statistics that should follow the clean laws)."""
    return spec.with_overrides(faults={"stuck_low_rate": 0.0, "stuck_high_rate": 0.0})
