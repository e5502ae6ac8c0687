"""Import of measured conductance maps (readback) into a simulated macro state.

The reader lives in `crossbar.readback` (the LSM's measured-weights loader uses it too, and
``rram_lsm.lsm`` must not import firmware); this module re-exports it for the firmware API and
the ``rram-lsm firmware import-readback`` command.
"""

from __future__ import annotations

from crossbar.readback import PLAUSIBLE_FACTOR, ReadbackError, load_readback, macro_from_readback

__all__ = ["PLAUSIBLE_FACTOR", "ReadbackError", "load_readback", "macro_from_readback"]
