"""Names the crossbar package and its users default to (one place for each)."""

from __future__ import annotations

DEFAULT_PRESET = "rram-40nm-256kb"
"""The macro preset used when none is named: the simulated 40 nm, 256 Kb RRAM macro
(``configs/macro/rram-40nm-256kb.yaml``)."""
