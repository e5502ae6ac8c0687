"""crossbar: a numba-accelerated model of a 40 nm, 256 Kb RRAM in-memory-computing macro.

numpy + numba only (no torch). Main entry points:

- `load_preset` / `load_spec` -> `MacroSpec` (typed preset; every number sourced),
- `Macro` (cells, forming, pulses, reads, drift, analog MVM, energy ledger),
- `DifferentialMatrix` (signed weights on G+/G- pairs, tiled over arrays),
- `Adc`, `Ledger`, `macro_stats`.
"""

from crossbar.errors import InputError, SpecError
from crossbar.ledger import Ledger
from crossbar.macro import Macro, PulseResult, Region
from crossbar.mapping import DifferentialMatrix
from crossbar.periphery import Adc
from crossbar.spec import MacroSpec, list_presets, load_preset, load_spec, spec_from_dict
from crossbar.stats import macro_stats

__all__ = [
    "Adc", "DifferentialMatrix", "InputError", "Ledger", "Macro", "MacroSpec", "PulseResult",
    "Region", "SpecError", "list_presets", "load_preset", "load_spec", "macro_stats",
    "spec_from_dict",
]
