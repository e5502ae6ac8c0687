"""crossbar: a numba-accelerated model of a 40 nm, 256 Kb RRAM in-memory-computing macro.

numpy + numba only (no torch). Main entry points:

- `load_preset` / `load_spec` -> `MacroSpec` (typed preset; every number sourced),
- `Macro` (cells, forming, pulses, reads, drift, analog MVM, energy ledger),
- `DifferentialMatrix` (signed weights on G+/G- pairs, tiled over arrays),
- `Adc`, `Ledger`, `macro_stats`,
- `load_readback` / `macro_from_readback` (measured conductance maps), and the helpers every
  package shares: `crossbar.fsio` (atomic writes), `crossbar.resources` (shipped configs).

Names are imported lazily so that `crossbar.errors` (used by every package's error classes)
does not pull in numba and scipy.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "InputError": "crossbar.errors", "SpecError": "crossbar.errors",
    "OutputExistsError": "crossbar.errors", "ReadbackError": "crossbar.errors",
    "Ledger": "crossbar.ledger",
    "Macro": "crossbar.macro", "PulseResult": "crossbar.macro", "Region": "crossbar.macro",
    "DifferentialMatrix": "crossbar.mapping",
    "Adc": "crossbar.periphery",
    "load_readback": "crossbar.readback", "macro_from_readback": "crossbar.readback",
    "MacroSpec": "crossbar.spec", "list_presets": "crossbar.spec", "load_preset": "crossbar.spec",
    "load_spec": "crossbar.spec", "spec_from_dict": "crossbar.spec",
    "macro_stats": "crossbar.stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crossbar' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__
