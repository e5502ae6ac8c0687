"""A JSON-ready description of a vector program (what `rram-lsm firmware inspect` prints)."""

from __future__ import annotations

import numpy as np

from firmware.isa import FLOAT_FIELDS, OP_NAMES, OP_VERIFY, OP_WAIT, PULSE_OPS, Limits, Program
from firmware.kernels import op_stats


def _f(x: float) -> float | str:
    """The float32 value as written (1.8, not 1.79999995); infinities as 'inf' / '-inf' so
    that the result stays strict JSON."""
    v = float(str(np.float32(x)))
    return v if np.isfinite(v) else str(v)


def describe(program: Program) -> dict:
    """Header fields, operation counts, per-opcode ranges [min, max] of the cell voltage
    |V_BL - V_SL| and the line voltages (V), pulse
    width (ns), compliance (uA) and verify windows (uS), addressed cells, and the summed width of
    all pulses and waits (s; the programming time if no operation were skipped)."""
    h, r = program.header, program.records
    count, lo, hi, extra = op_stats(r)
    col = {name: j for j, name in enumerate((*FLOAT_FIELDS, "v_cell"))}
    per_op = {}
    for code, name in OP_NAMES.items():
        if not count[code]:
            continue
        d: dict = {"count": int(count[code])}
        keys = ("t_ns",) if code == OP_WAIT else ("v_cell", "v_bl", "v_sl", "v_wl", "t_ns")
        if code in PULSE_OPS:
            keys += ("icc_ua",)
        if code == OP_VERIFY:
            keys += ("lo_us", "hi_us")
        for k in keys:
            d[k] = [_f(lo[code, col[k]]), _f(hi[code, col[k]])]
        if code in PULSE_OPS:
            d["conditional"] = int(extra[code, 0])
        if code == OP_VERIFY:
            d["check"] = int(extra[code, 1])
        per_op[name] = d
    nonwait = r["op"] != OP_WAIT
    cells = program.cell_index()[nonwait]
    if h.n_cells <= 1 << 26:
        touched = np.count_nonzero(np.bincount(cells, minlength=h.n_cells))
    else:  # a huge declared geometry: do not allocate a counter per cell
        touched = np.unique(cells).size
    timed = np.isin(r["op"], (*PULSE_OPS, OP_WAIT))
    return {
        "preset_name": h.preset_name,
        "preset_digest": h.preset_digest.hex(),
        "n_arrays": h.n_arrays, "rows": h.rows, "cols": h.cols,
        "chip_id": h.chip_id,
        "program": h.program,
        "limits": dict(zip(Limits._fields, h.limits)),
        "limits_verified": program.limits_verified,
        "ops": len(program),
        "op_counts": program.op_counts(),
        "cells_addressed": int(touched),
        "ops_detail": per_op,
        "max_pulse_time_s": float(r["t_ns"][timed].astype(np.float64).sum() * 1e-9),
    }
