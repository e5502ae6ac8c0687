"""Numba kernels of the firmware package, each with a plain numpy reference (tests compare them).

* `scan_records`: one pass over the records that evaluates every validation rule of
  `firmware.validate` (`RULES`, in priority order) and returns, per rule, the index of the first
  record that breaks it (-1 if none) and how many do.
* `op_stats`: per opcode, the record count and the min / max of each float field.

Kernels take the `RECORD_DTYPE` structured array itself (contiguous and writable, see
`_contiguous`), so each one is compiled once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from firmware.isa import (
    COND_ALWAYS,
    FLAG_CHECK,
    FLAG_MASK,
    FLOAT_FIELDS,
    OP_FORM,
    OP_READ,
    OP_RESET,
    OP_SET,
    OP_VERIFY,
    OP_WAIT,
)

# (rule name, field it names) in priority order; rating rules repeat per limits source.
BASE_RULES: tuple[tuple[str, str], ...] = (
    ("op_unknown", "op"), ("cond_unknown", "cond"), ("cond_not_pulse", "cond"),
    ("flags_unknown", "flags"), ("check_not_verify", "flags"),
    ("reserved0", "reserved0"), ("reserved1", "reserved1"),
    *((f"nan_{f}", f) for f in FLOAT_FIELDS),
    *((f"nonfinite_{f}", f) for f in ("v_wl", "v_bl", "v_sl", "t_ns", "icc_ua")),
    *((f"negative_{f}", f) for f in ("v_wl", "v_bl", "v_sl", "t_ns", "icc_ua")),
    ("lo_plus_inf", "lo_us"), ("hi_minus_inf", "hi_us"), ("window_empty", "lo_us"),
    ("window_not_verify", "lo_us"),
    ("wait_address", "array"), ("wait_v_wl", "v_wl"), ("wait_v_bl", "v_bl"),
    ("wait_v_sl", "v_sl"), ("wait_icc_ua", "icc_ua"),
    ("wl_off", "v_wl"), ("width_zero", "t_ns"), ("reset_polarity", "v_sl"),
    ("bl_polarity", "v_bl"), ("icc_missing", "icc_ua"), ("icc_not_applicable", "icc_ua"),
    ("address_array", "array"), ("address_row", "row"), ("address_col", "col"),
)
RATING_RULES: tuple[tuple[str, str], ...] = (
    ("rating_v_line", "v_bl"), ("rating_v_wl", "v_wl"), ("rating_t_ns", "t_ns"),
    ("rating_icc", "icc_ua"),
)
N_BASE = len(BASE_RULES)
N_RATING = len(RATING_RULES)
assert N_BASE == 42 and N_RATING == 4  # the kernel below hard-codes these positions
# index of the voltage rating (in firmware.isa.Limits order) that bounds each opcode's lines
V_LIMIT_INDEX = np.array([-1, 0, 1, 2, 4, 4], dtype=np.int64)  # WAIT FORM SET RESET READ VERIFY


def _contiguous(records: np.ndarray) -> np.ndarray:
    """The records as one C-contiguous, writable array (no copy when they already are), so that
    each kernel is compiled for a single array type."""
    if records.flags.c_contiguous and records.flags.writeable:
        return records
    return np.array(records, dtype=records.dtype, order="C")


def scan_records(records: np.ndarray, geometry: tuple[int, int, int],
                 limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate all rules; ``limits`` is [n_sources, 7] (`Limits` order). Returns (first, count),
    each [N_BASE + N_RATING * n_sources] int64."""
    lim = np.ascontiguousarray(limits, dtype=np.float64).reshape(-1, 7)
    return _scan(_contiguous(records), np.int64(geometry[0]), np.int64(geometry[1]),
                 np.int64(geometry[2]), lim, V_LIMIT_INDEX)


@njit(cache=True)
def _scan(rec, n_arrays, rows, cols, lim, vidx):  # pragma: no cover - compiled
    n_src = lim.shape[0]
    n_rules = 42 + 4 * n_src
    first = np.full(n_rules, -1, np.int64)
    count = np.zeros(n_rules, np.int64)
    one = np.uint64(1)
    for i in range(rec.shape[0]):
        r = rec[i]
        op = r.op
        cd = r.cond
        fl = r.flags
        wl = np.float64(r.v_wl)
        bl = np.float64(r.v_bl)
        sl = np.float64(r.v_sl)
        t = np.float64(r.t_ns)
        icc = np.float64(r.icc_ua)
        lo = np.float64(r.lo_us)
        hi = np.float64(r.hi_us)
        pulse = op == OP_FORM or op == OP_SET or op == OP_RESET
        reads = op == OP_READ or op == OP_VERIFY
        wait = op == OP_WAIT
        verify = op == OP_VERIFY
        bits = np.uint64(0)  # bit k set: rule k (BASE_RULES order, then ratings) is broken
        bits |= np.uint64(op > OP_VERIFY) << np.uint64(0)
        bits |= np.uint64(cd > 2) << np.uint64(1)
        bits |= np.uint64(cd != COND_ALWAYS and not pulse) << np.uint64(2)
        bits |= np.uint64((fl & ~np.uint8(FLAG_MASK)) != 0) << np.uint64(3)
        bits |= np.uint64((fl & FLAG_CHECK) != 0 and not verify) << np.uint64(4)
        bits |= np.uint64(r.reserved0 != 0) << np.uint64(5)
        bits |= np.uint64(r.reserved1 != 0) << np.uint64(6)
        bits |= np.uint64(np.isnan(wl)) << np.uint64(7)
        bits |= np.uint64(np.isnan(bl)) << np.uint64(8)
        bits |= np.uint64(np.isnan(sl)) << np.uint64(9)
        bits |= np.uint64(np.isnan(t)) << np.uint64(10)
        bits |= np.uint64(np.isnan(icc)) << np.uint64(11)
        bits |= np.uint64(np.isnan(lo)) << np.uint64(12)
        bits |= np.uint64(np.isnan(hi)) << np.uint64(13)
        bits |= np.uint64(not np.isfinite(wl)) << np.uint64(14)
        bits |= np.uint64(not np.isfinite(bl)) << np.uint64(15)
        bits |= np.uint64(not np.isfinite(sl)) << np.uint64(16)
        bits |= np.uint64(not np.isfinite(t)) << np.uint64(17)
        bits |= np.uint64(not np.isfinite(icc)) << np.uint64(18)
        bits |= np.uint64(wl < 0) << np.uint64(19)
        bits |= np.uint64(bl < 0) << np.uint64(20)
        bits |= np.uint64(sl < 0) << np.uint64(21)
        bits |= np.uint64(t < 0) << np.uint64(22)
        bits |= np.uint64(icc < 0) << np.uint64(23)
        bits |= np.uint64(lo == np.inf) << np.uint64(24)
        bits |= np.uint64(hi == -np.inf) << np.uint64(25)
        bits |= np.uint64(verify and lo > hi) << np.uint64(26)
        bits |= np.uint64(not verify and (lo != 0 or hi != 0)) << np.uint64(27)
        addr = r.array != 0 or r.row != 0 or r.col != 0
        bits |= np.uint64(wait and addr) << np.uint64(28)
        bits |= np.uint64(wait and wl != 0) << np.uint64(29)
        bits |= np.uint64(wait and bl != 0) << np.uint64(30)
        bits |= np.uint64(wait and sl != 0) << np.uint64(31)
        bits |= np.uint64(wait and icc != 0) << np.uint64(32)
        bits |= np.uint64(not wait and wl <= 0) << np.uint64(33)
        bits |= np.uint64(not wait and t <= 0) << np.uint64(34)
        bits |= np.uint64(op == OP_RESET and not sl > bl) << np.uint64(35)
        bits |= np.uint64(((pulse and op != OP_RESET) or reads) and not bl > sl) << np.uint64(36)
        bits |= np.uint64((op == OP_FORM or op == OP_SET) and icc <= 0) << np.uint64(37)
        bits |= np.uint64((op == OP_RESET or reads) and icc != 0) << np.uint64(38)
        bits |= np.uint64(not wait and r.array >= n_arrays) << np.uint64(39)
        bits |= np.uint64(not wait and r.row >= rows) << np.uint64(40)
        bits |= np.uint64(not wait and r.col >= cols) << np.uint64(41)
        for s in range(n_src):
            base = 42 + 4 * s
            vmax = lim[s, vidx[op]] if op <= OP_VERIFY and vidx[op] >= 0 else np.inf
            bits |= np.uint64(bl > vmax or sl > vmax) << np.uint64(base + 0)
            bits |= np.uint64(not wait and wl > lim[s, 3]) << np.uint64(base + 1)
            bits |= np.uint64(not wait and t > lim[s, 5]) << np.uint64(base + 2)
            bits |= np.uint64(icc > lim[s, 6]) << np.uint64(base + 3)
        if bits:
            for k in range(n_rules):
                if bits & (one << np.uint64(k)):
                    if count[k] == 0:
                        first[k] = i
                    count[k] += 1
    return first, count


def scan_records_ref(records: np.ndarray, geometry: tuple[int, int, int],
                     limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numpy reference of `scan_records` (one boolean mask per rule)."""
    r = records
    n_arrays, rows, cols = geometry
    lim = np.asarray(limits, dtype=np.float64).reshape(-1, 7)
    op, cd, fl = r["op"], r["cond"], r["flags"]
    f = {name: r[name].astype(np.float64) for name in FLOAT_FIELDS}
    wl, bl, sl, t, icc, lo, hi = (f[k] for k in FLOAT_FIELDS)
    pulse = (op == OP_FORM) | (op == OP_SET) | (op == OP_RESET)
    reads = (op == OP_READ) | (op == OP_VERIFY)
    wait = op == OP_WAIT
    act = ~wait
    masks = [op > OP_VERIFY, cd > 2, (cd != COND_ALWAYS) & ~pulse,
             (fl & ~np.uint8(FLAG_MASK)) != 0, ((fl & FLAG_CHECK) != 0) & (op != OP_VERIFY),
             r["reserved0"] != 0, r["reserved1"] != 0]
    masks += [np.isnan(f[k]) for k in FLOAT_FIELDS]
    five = (wl, bl, sl, t, icc)
    masks += [~np.isfinite(v) for v in five]
    masks += [v < 0 for v in five]
    masks += [lo == np.inf, hi == -np.inf, (op == OP_VERIFY) & (lo > hi),
              (op != OP_VERIFY) & ((lo != 0) | (hi != 0)),
              wait & ((r["array"] != 0) | (r["row"] != 0) | (r["col"] != 0)),
              wait & (wl != 0), wait & (bl != 0), wait & (sl != 0), wait & (icc != 0),
              act & (wl <= 0), act & (t <= 0), (op == OP_RESET) & ~(sl > bl),
              ((pulse & (op != OP_RESET)) | reads) & ~(bl > sl),
              ((op == OP_FORM) | (op == OP_SET)) & (icc <= 0),
              ((op == OP_RESET) | reads) & (icc != 0),
              act & (r["array"] >= n_arrays), act & (r["row"] >= rows),
              act & (r["col"] >= cols)]
    known = op <= OP_VERIFY
    vi = np.where(known, V_LIMIT_INDEX[np.minimum(op, OP_VERIFY)], -1)
    for s in range(lim.shape[0]):
        vmax = np.where(vi >= 0, lim[s][np.maximum(vi, 0)], np.inf)
        masks += [(vi >= 0) & ((bl > vmax) | (sl > vmax)), act & (wl > lim[s, 3]),
                  act & (t > lim[s, 5]), icc > lim[s, 6]]
    first = np.array([int(np.argmax(m)) if m.any() else -1 for m in masks], np.int64)
    count = np.array([int(np.count_nonzero(m)) for m in masks], np.int64)
    return first, count


def op_stats(records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per opcode 0..5: (count [6], min [6, 8], max [6, 8] of the float fields in FLOAT_FIELDS
    order followed by the cell voltage |V_BL - V_SL|, extra [6, 2] = (conditional pulses, CHECK
    verifies)); min/max are NaN where count is 0."""
    return _op_stats(_contiguous(records))


@njit(cache=True)
def _op_stats(rec):  # pragma: no cover - compiled
    count = np.zeros(6, np.int64)
    lo_v = np.full((6, 8), np.inf)
    hi_v = np.full((6, 8), -np.inf)
    extra = np.zeros((6, 2), np.int64)
    for i in range(rec.shape[0]):
        r = rec[i]
        op = r.op
        if op > 5:
            continue
        count[op] += 1
        bl = np.float64(r.v_bl)
        sl = np.float64(r.v_sl)
        vals = (np.float64(r.v_wl), bl, sl, np.float64(r.t_ns), np.float64(r.icc_ua),
                np.float64(r.lo_us), np.float64(r.hi_us), abs(bl - sl))
        for j in range(8):
            v = vals[j]
            if v < lo_v[op, j]:
                lo_v[op, j] = v
            if v > hi_v[op, j]:
                hi_v[op, j] = v
        if r.cond != 0:
            extra[op, 0] += 1
        if (r.flags & FLAG_CHECK) != 0:
            extra[op, 1] += 1
    for o in range(6):
        if count[o] == 0:
            for j in range(8):
                lo_v[o, j] = np.nan
                hi_v[o, j] = np.nan
    return count, lo_v, hi_v, extra


def op_stats_ref(records: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numpy reference of `op_stats`."""
    count = np.zeros(6, np.int64)
    lo_v = np.full((6, 8), np.nan)
    hi_v = np.full((6, 8), np.nan)
    extra = np.zeros((6, 2), np.int64)
    for o in range(6):
        x = records[records["op"] == o]
        count[o] = x.size
        if x.size:
            cols = [x[name].astype(np.float64) for name in FLOAT_FIELDS]
            cols.append(np.abs(cols[1] - cols[2]))
            for j, c in enumerate(cols):
                lo_v[o, j], hi_v[o, j] = c.min(), c.max()
            extra[o] = (np.count_nonzero(x["cond"]), np.count_nonzero(x["flags"] & FLAG_CHECK))
    return count, lo_v, hi_v, extra


def engine_inputs(records: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """Arrays for `crossbar.Macro.apply_ops` from records: (kind int64, cell int64 flat index,
    v_cell = |V_BL - V_SL| f64, t_ns f64, icc_ua f64, cond int64, lo_us f64, hi_us f64)."""
    return _engine_inputs(_contiguous(records), np.int64(rows), np.int64(cols))


@njit(cache=True)
def _engine_inputs(rec, rows, cols):  # pragma: no cover - compiled
    n = rec.shape[0]
    kind = np.empty(n, np.int64)
    cell = np.empty(n, np.int64)
    v = np.empty(n, np.float64)
    t = np.empty(n, np.float64)
    icc = np.empty(n, np.float64)
    cond = np.empty(n, np.int64)
    lo = np.empty(n, np.float64)
    hi = np.empty(n, np.float64)
    for i in range(n):
        r = rec[i]
        kind[i] = r.op
        cell[i] = (np.int64(r.array) * rows + np.int64(r.row)) * cols + np.int64(r.col)
        v[i] = abs(np.float64(r.v_bl) - np.float64(r.v_sl))
        t[i] = r.t_ns
        icc[i] = r.icc_ua
        cond[i] = r.cond
        lo[i] = r.lo_us
        hi[i] = r.hi_us
    return kind, cell, v, t, icc, cond, lo, hi


def engine_inputs_ref(records: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """Numpy reference of `engine_inputs`."""
    r = records
    cell = (r["array"].astype(np.int64) * rows + r["row"]) * cols + r["col"].astype(np.int64)
    v = np.abs(r["v_bl"].astype(np.float64) - r["v_sl"].astype(np.float64))
    f64 = [r[k].astype(np.float64) for k in ("t_ns", "icc_ua")]
    return (r["op"].astype(np.int64), cell, v, *f64, r["cond"].astype(np.int64),
            r["lo_us"].astype(np.float64), r["hi_us"].astype(np.float64))
