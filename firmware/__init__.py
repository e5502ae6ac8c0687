"""firmware: programming vectors for RRAM macros.

A small instruction set (FORM, SET, RESET, READ, VERIFY, WAIT; `firmware.isa`), programs that emit
it (forming sweep to a target sparsity, write-verify to target conductances or signed weights on
differential pairs, reset / prune; `firmware.programs`), the `.rvec` binary format and its CSV
form (`firmware.rvec`, `firmware.csvio`; spec in docs/firmware-vector-format.md), validation
against the preset's absolute-maximum ratings and geometry (`firmware.validate`), replay on a
simulated `crossbar.Macro` (`firmware.replay`) and import of measured readback maps
(`firmware.readback`). Imports `crossbar` only.
"""

from firmware.csvio import parse_csv, read_csv, to_csv_text, write_csv
from firmware.errors import FirmwareError, RatingsError, VectorFormatError
from firmware.isa import Program, VectorHeader, make_records
from firmware.programs import (
    IsppSettings,
    expected_formed_fraction,
    forming_sweep,
    forming_voltage,
    parse_region,
    prune_mask,
    prune_pairs,
    reset_prune,
    write_verify,
    write_verify_cells,
    write_verify_weights,
)
from firmware.readback import load_readback, macro_from_readback
from firmware.replay import ReplayResult, replay
from firmware.rvec import decode_rvec, encode_rvec, read_rvec, write_rvec
from firmware.summary import describe

__all__ = [
    "FirmwareError", "IsppSettings", "Program", "RatingsError", "ReplayResult",
    "VectorFormatError", "VectorHeader", "decode_rvec", "describe", "encode_rvec",
    "expected_formed_fraction", "forming_sweep", "forming_voltage", "load_readback",
    "macro_from_readback", "make_records", "parse_csv", "parse_region", "prune_mask",
    "prune_pairs", "read_csv", "read_rvec", "replay", "reset_prune", "to_csv_text", "write_csv",
    "write_rvec", "write_verify", "write_verify_cells", "write_verify_weights",
]
