"""Replay a vector program on a simulated macro (`crossbar.Macro`) and log every cell.

Each record becomes one operation of the macro's pulse engine (`Macro.apply_ops`): opcode and
condition map 1:1, the cell voltage is |V_BL - V_SL|, pulse width and compliance are taken from
the record, verify windows too. READ / VERIFY go through the preset's read path (read voltage,
read time, read noise); the record's read voltage and width are checked against the ratings but
do not change the simulated read.

Long programs are replayed in chunks of `DEFAULT_CHUNK_OPS` operations to bound memory. The
engine's verify state (below / pass / above per cell) is carried across chunks exactly: a cell
that passed a VERIFY in an earlier chunk skips all its later operations, and a conditional pulse
that comes before the cell's first VERIFY of a chunk is resolved from the carried state. The
result therefore does not depend on the chunking except through which random draws go to which
operation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossbar import kernels as K
from crossbar.macro import Macro
from firmware import errors as E
from firmware.identity import resolve_identity
from firmware.isa import (
    COND_ALWAYS,
    COND_IF_ABOVE,
    COND_IF_BELOW,
    FLAG_CHECK,
    OP_FORM,
    OP_READ,
    OP_RESET,
    OP_SET,
    OP_VERIFY,
    OP_WAIT,
    Program,
)
from firmware.kernels import engine_inputs
from firmware.validate import check_records, check_target

DEFAULT_CHUNK_OPS = 1 << 21

STATUS_NAMES = {K.PRISTINE: "pristine", K.FORMED: "formed", K.STUCK_LOW: "stuck_low",
                K.STUCK_HIGH: "stuck_high"}

#: One row of the per-cell log.
CELL_LOG_DTYPE = np.dtype([
    ("array", "<u2"), ("row", "<u2"), ("col", "<u2"),
    ("pulses", "<i4"), ("reads", "<i4"),
    ("last_read_us", "<f8"), ("final_g_us", "<f8"),
    ("status", "i1"), ("checked", "?"), ("verified", "?"), ("failed", "?"), ("formed", "?"),
])


@dataclass
class ReplayResult:
    """Outcome of `replay`.

    Attributes:
        ops: records in the program; ops_applied: records that acted (not skipped).
        pulses, reads: FORM/SET/RESET pulses and READ/VERIFY reads applied.
        energy_j, time_s: write + verify-read energy (J) and busy time (s) booked in the ledger.
        cells: per-cell log (`CELL_LOG_DTYPE`), one row per addressed cell, in flat-index order:
            pulses and reads used, last read (uS, NaN if none), final conductance (uS, noise-free,
            drift included), status code, ``checked`` (the cell has CHECK verifies),
            ``verified`` (its last executed VERIFY passed), ``failed`` (checked and not
            verified), ``formed`` (final conductance above the formed threshold).
        g_us: final conductance map [n_arrays, rows, cols] (uS) of the whole macro.
    """

    ops: int
    ops_applied: int
    pulses: int
    reads: int
    energy_j: float
    time_s: float
    cells: np.ndarray
    g_us: np.ndarray

    @property
    def formed_fraction(self) -> float:
        """Fraction of the addressed cells that are formed at the end."""
        return float(self.cells["formed"].mean()) if self.cells.size else 0.0

    @property
    def failed(self) -> np.ndarray:
        """Per-cell log rows of the failed cells."""
        return self.cells[self.cells["failed"]]

    def summary(self, max_listed: int = 20) -> dict:
        """JSON-ready totals (keys documented in docs/firmware-vector-format.md, 'Replay')."""
        c = self.cells
        failed = self.failed
        status = {name: int(np.count_nonzero(c["status"] == code))
                  for code, name in STATUS_NAMES.items()}
        return {
            "ops": self.ops,
            "ops_applied": self.ops_applied,
            "ops_skipped": self.ops - self.ops_applied,
            "cells": int(c.size),
            "pulses": self.pulses,
            "reads": self.reads,
            "formed_fraction": self.formed_fraction,
            "pulses_per_cell_mean": float(c["pulses"].mean()) if c.size else 0.0,
            "pulses_per_cell_max": int(c["pulses"].max()) if c.size else 0,
            "checked_cells": int(np.count_nonzero(c["checked"])),
            "verified_cells": int(np.count_nonzero(c["verified"])),
            "failed_cells": int(failed.size),
            "failed_examples": [[int(r["array"]), int(r["row"]), int(r["col"])]
                                for r in failed[:max_listed]],
            "status_counts": status,
            "energy_j": self.energy_j,
            "time_s": self.time_s,
        }


def _last_per_cell(cells: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """(cells that occur, position of each one's last occurrence in ``cells``)."""
    last = np.full(n_cells, -1, np.int64)
    np.maximum.at(last, cells, np.arange(cells.size))
    uc = np.flatnonzero(last >= 0)
    return uc, last[uc]


def _carry(op, cell, cond, state) -> np.ndarray:
    """Apply the carried verify state to one chunk: returns the ops to drop; edits ``cond``."""
    nonwait = op != OP_WAIT
    st = state[cell]
    drop = (st == K.VERIFY_PASS) & nonwait
    sel = np.flatnonzero(((st == K.VERIFY_BELOW) | (st == K.VERIFY_ABOVE)) & nonwait)
    if sel.size:
        cs = cell[sel]
        isv = op[sel] == OP_VERIFY
        uc, ui = np.unique(cs[isv], return_index=True)
        first = np.full(sel.size, np.iinfo(np.int64).max)
        if uc.size:
            j = np.minimum(np.searchsorted(uc, cs), uc.size - 1)
            hit = uc[j] == cs
            first[hit] = sel[isv][ui][j[hit]]
        cd, s = cond[sel], st[sel]
        pre = (sel < first) & (cd != COND_ALWAYS)
        match = ((cd == COND_IF_BELOW) & (s == K.VERIFY_BELOW)) | (
            (cd == COND_IF_ABOVE) & (s == K.VERIFY_ABOVE))
        drop[sel[pre & ~match]] = True
        cond[sel[pre & match]] = COND_ALWAYS
    return drop


def replay(program: Program, macro: Macro, *, chip_id: str | None = None,
           allow_other_preset: bool = False, chunk_ops: int = DEFAULT_CHUNK_OPS
           ) -> ReplayResult:
    """Run ``program`` on ``macro`` (mutated in place) and return the per-cell log and totals.

    The program must fit the macro: same rows x cols, at most ``macro.n_arrays`` arrays, the
    same preset (digest; unless ``allow_other_preset``), a matching chip id when both are set,
    and every record within the ratings of the macro's preset.
    """
    h = program.header
    spec = macro.spec
    if h.n_arrays > macro.n_arrays:
        raise E.PresetMismatchError(
            f"program uses {h.n_arrays} array(s); the macro has {macro.n_arrays}")
    # A header whose digest is the macro's preset or the known preset of its name must stay
    # within that preset's ratings. Other in-memory programs (an unknown preset, or a preset
    # derived in Python under a known name) are bounded by the macro's ratings, which every
    # record is checked against below; files were verified strictly by their reader.
    try:
        resolve_identity(h, [spec], unverified_limits=True)
    except E.PresetMismatchError:
        pass
    check_target(h, spec, chip_id=chip_id, allow_other_preset=allow_other_preset)
    check_records(program.records, h, spec)
    if chunk_ops < 1:
        raise E.FirmwareError("chunk_ops must be >= 1")
    rec = program.records
    n = len(rec)
    n_cells = macro.n_cells
    state = np.zeros(n_cells, np.int8)
    pulses = np.zeros(n_cells, np.int64)
    reads = np.zeros(n_cells, np.int64)
    last_read = np.full(n_cells, np.nan)
    addressed = np.zeros(n_cells, bool)
    checked = np.zeros(n_cells, bool)
    e0 = macro.ledger.total_energy_j
    n_applied = n_pulses = n_reads = 0
    t_total = 0.0
    for start in range(0, n, chunk_ops):
        r = rec[start:start + chunk_ops]
        op, cell, v_cell, t_ns, icc, cond, lo, hi = engine_inputs(r, h.rows, h.cols)
        nonwait = op != OP_WAIT
        addressed[cell[nonwait]] = True
        checked[cell[(op == OP_VERIFY) & ((r["flags"] & FLAG_CHECK) != 0)]] = True
        if start:
            drop = _carry(op, cell, cond, state)
            if drop.any():
                keep = np.flatnonzero(~drop)
                op, cell, v_cell, t_ns, icc, cond, lo, hi = (
                    x[keep] for x in (op, cell, v_cell, t_ns, icc, cond, lo, hi))
        res = macro.apply_ops(op, cell, v_cell, t_ns, icc, cond, lo, hi)
        n_applied += int(np.count_nonzero(res.applied))
        n_pulses += res.pulses
        n_reads += res.reads_done
        t_total += res.time_s
        is_pulse = (op == OP_FORM) | (op == OP_SET) | (op == OP_RESET)
        pulses += np.bincount(cell[res.applied & is_pulse], minlength=n_cells)
        did_read = res.applied & ((op == OP_READ) | (op == OP_VERIFY))
        reads += np.bincount(cell[did_read], minlength=n_cells)
        pos = np.flatnonzero(did_read)
        if pos.size:
            uc, last = _last_per_cell(cell[pos], n_cells)
            last_read[uc] = res.reads[pos[last]]
        pos = np.flatnonzero(res.applied & (op == OP_VERIFY))
        if pos.size:
            uc, last = _last_per_cell(cell[pos], n_cells)
            p = pos[last]
            v = res.reads[p]
            state[uc] = np.where(v < lo[p], K.VERIFY_BELOW,
                                 np.where(v > hi[p], K.VERIFY_ABOVE, K.VERIFY_PASS))
    g = np.array(macro.g_us)
    idx = np.flatnonzero(addressed)
    a, rem = np.divmod(idx, macro.rows * macro.cols)
    row, col = np.divmod(rem, macro.cols)
    log = np.zeros(idx.size, CELL_LOG_DTYPE)
    log["array"], log["row"], log["col"] = a, row, col
    log["pulses"], log["reads"] = pulses[idx], reads[idx]
    log["last_read_us"] = last_read[idx]
    log["final_g_us"] = g.reshape(-1)[idx]
    log["status"] = macro.cells.status[idx]
    log["checked"] = checked[idx]
    log["verified"] = state[idx] == K.VERIFY_PASS
    log["failed"] = log["checked"] & ~log["verified"]
    log["formed"] = log["final_g_us"] > spec.forming.g_formed_threshold_us
    return ReplayResult(ops=n, ops_applied=n_applied, pulses=n_pulses, reads=n_reads,
                        energy_j=macro.ledger.total_energy_j - e0, time_s=t_total, cells=log,
                        g_us=g)


def write_cell_log(result: ReplayResult) -> str:
    """The per-cell log as CSV text (one header line, one row per addressed cell)."""
    c = result.cells
    lines = ["array,row,col,pulses,reads,last_read_us,final_g_us,status,checked,verified,"
             "failed,formed"]
    for r in c:
        lines.append(
            f"{r['array']},{r['row']},{r['col']},{r['pulses']},{r['reads']},"
            f"{float(r['last_read_us']):.6g},{float(r['final_g_us']):.6g},"
            f"{STATUS_NAMES.get(int(r['status']), int(r['status']))},{int(r['checked'])},"
            f"{int(r['verified'])},{int(r['failed'])},{int(r['formed'])}")
    return "\n".join(lines) + "\n"
