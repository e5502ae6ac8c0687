"""Programs that emit vector programs: forming sweep, write-verify, reset / prune.

Every program returns a `Program` whose records passed `firmware.validate.check_program`
against the preset: nothing outside the absolute-maximum ratings or the geometry is emitted, and
parameters that would lead there are refused up front with an error that names the rating.

Closed-loop programming in an open-loop file uses the pulse engine's verify-and-branch: a VERIFY
stores whether the cell read below, inside or above its window; a SET conditioned IF_BELOW / a
RESET conditioned IF_ABOVE fire only on that outcome; a cell whose VERIFY passed skips all its
later operations (within one replay). Each cell's operations are contiguous, cells in row-major
order. Units: V, ns, uA, uS.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from crossbar.device import breakdown_cdf, breakdown_quantile, read_sigma
from crossbar.errors import InputError
from crossbar.layout import Region, Tile, plan_matrix
from crossbar.spec import MacroSpec
from crossbar.validation import check_memory
from firmware import errors as E
from firmware.isa import (
    COND_ALWAYS,
    COND_IF_ABOVE,
    COND_IF_BELOW,
    DEFAULT_V_WL,
    FLAG_CHECK,
    OP_FORM,
    OP_RESET,
    OP_SET,
    OP_VERIFY,
    RECORD_DTYPE,
    Program,
    VectorHeader,
    f32_floor,
    make_records,
)
from firmware.validate import check_program

MAX_SWEEP_STEPS = 10_000
MAX_ITERATIONS = 1_000
_V_DIGITS = 6  # voltages are rounded to 1 uV before they become float32

# --- shared parameter checks -----------------------------------------------------------------


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise E.FirmwareError(f"{name} must be a finite number > 0, got {value}")
    return value


def _rated(spec: MacroSpec, name: str, value: float, rating: str, unit: str) -> float:
    """``value`` (> 0) checked against ``spec.ratings.<rating>``; raises `RatingsError`."""
    value = _positive(name, value)
    limit = float(getattr(spec.ratings, rating))
    if value > limit:
        raise E.RatingsError(
            f"{name} = {value:g} {unit} exceeds ratings.{rating} = {limit:g} {unit} of preset "
            f"'{spec.name}'; nothing above an absolute-maximum rating is emitted")
    # never let the float32 record round above the rating
    return min(value, float(f32_floor(limit)))


def _v_wl(spec: MacroSpec, v_wl: float | None) -> float:
    v = min(DEFAULT_V_WL, spec.ratings.v_wl_max) if v_wl is None else v_wl
    return _rated(spec, "word-line voltage v_wl", v, "v_wl_max", "V")


def _n_arrays(n_arrays: int | None, array: np.ndarray) -> int:
    need = int(array.max()) + 1 if array.size else 1
    n = need if n_arrays is None else int(n_arrays)
    if n < need:
        raise E.AddressError(f"cells use array {need - 1} but n_arrays = {n}")
    return n


def _check_cells(spec: MacroSpec, array, row, col, n_arrays: int | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    array, row, col = (np.asarray(a).reshape(-1) for a in (array, row, col))
    for name, a in (("array", array), ("row", row), ("col", col)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
                raise E.AddressError(f"cell {name} indices must be integers")
    array, row, col = (a.astype(np.int64) for a in (array, row, col))
    if not array.shape == row.shape == col.shape:
        raise E.AddressError("array, row and col must have the same length")
    n = _n_arrays(n_arrays, array) if array.size else (n_arrays or 1)
    g = spec.geometry
    for name, a, hi in (("array", array, n), ("row", row, g.rows), ("col", col, g.cols)):
        bad = (a < 0) | (a >= hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise E.AddressError(
                f"cell {i} (array {array[i]}, row {row[i]}, col {col[i]}): {name} outside "
                f"0..{hi - 1} (preset '{spec.name}': {n} array(s) of {g.rows} x {g.cols})")
    flat = (array * g.rows + row) * g.cols + col
    if np.unique(flat).size != flat.size:
        raise E.AddressError("a cell is listed more than once; each cell gets one sequence")
    return array, row, col, n


def _verify_fields(spec: MacroSpec, v_wl: float) -> dict:
    r = spec.read
    return dict(v_wl=v_wl, v_bl=r.v_read, v_sl=0.0, t_ns=r.t_read_ns)


# --- forming sweep ---------------------------------------------------------------------------


def expected_formed_fraction(spec: MacroSpec, v_max: float) -> float:
    """Formed fraction of fresh cells after a sweep up to ``v_max``: fault-free cells whose
    breakdown voltage is <= v_max, plus the stuck-high (shorted) cells, which read as formed."""
    fl = spec.faults
    live = 1.0 - fl.stuck_low_rate - fl.stuck_high_rate
    return float(np.asarray(breakdown_cdf(spec, v_max)) * live + fl.stuck_high_rate)


def forming_voltage(spec: MacroSpec, target_sparsity: float, *, v_start: float | None = None,
                    v_step: float | None = None, snap_to_grid: bool = False) -> float:
    """The final sweep voltage V_max for a target sparsity (fraction of cells left unformed).

    V_max solves `expected_formed_fraction`(V_max) = 1 - sparsity (the breakdown quantile,
    corrected for stuck cells), rounded up to 1 mV -- or, with ``snap_to_grid``, up to the sweep
    grid v_start + k * v_step. Raises `UnreachableTargetError` if that needs a voltage below
    v_start or above ratings.v_form_max.
    """
    f = spec.forming
    v_start = f.v_start if v_start is None else float(v_start)
    v_step = f.v_step if v_step is None else float(v_step)
    sparsity = float(target_sparsity)
    if not (math.isfinite(sparsity) and 0.0 <= sparsity <= 1.0):
        raise E.FirmwareError(f"target sparsity must lie in [0, 1], got {target_sparsity}")
    want = 1.0 - sparsity
    vmax_rating = spec.ratings.v_form_max
    lo, hi = expected_formed_fraction(spec, v_start), expected_formed_fraction(spec, vmax_rating)
    if not lo - 1e-12 <= want <= hi + 1e-12:
        fl = spec.faults
        raise E.UnreachableTargetError(
            f"target sparsity {sparsity:g} (formed fraction {want:g}) is not reachable with "
            f"preset '{spec.name}': a sweep from v_start = {v_start:g} V up to ratings.v_form_max "
            f"= {vmax_rating:g} V forms between {lo:.4f} and {hi:.4f} of the cells (breakdown "
            f"N({f.breakdown_mean_v:g} V, {f.breakdown_std_v:g} V), stuck-low "
            f"{fl.stuck_low_rate:g}, stuck-high {fl.stuck_high_rate:g}); choose a sparsity in "
            f"[{1 - hi:.4f}, {1 - lo:.4f}]")
    fl = spec.faults
    p = (want - fl.stuck_high_rate) / (1.0 - fl.stuck_low_rate - fl.stuck_high_rate)
    if f.breakdown_std_v == 0:
        v = f.breakdown_mean_v
    else:
        v = breakdown_quantile(spec, min(max(p, 1e-15), 1 - 1e-15))
    v = max(v, v_start)
    if snap_to_grid:
        k = math.ceil((v - v_start) / v_step - 1e-9)
        v = round(v_start + k * v_step, _V_DIGITS)
        if v > vmax_rating:
            raise E.UnreachableTargetError(
                f"target sparsity {sparsity:g} needs V_max above the last grid point within "
                f"ratings.v_form_max = {vmax_rating:g} V; drop snap-to-grid to end the sweep "
                "with a partial step")
    else:
        v = min(math.ceil(v * 1000 - 1e-9) / 1000, float(f32_floor(vmax_rating)))
    return v


def _check_program_size(n_ops: int, what: str) -> None:
    """Refuse (`crossbar.errors.MemoryLimitError`, exit 2) a program too large for memory before
    building it: each op is one record plus the per-op arrays made while building it."""
    check_memory(float(n_ops) * (2 * RECORD_DTYPE.itemsize + 32), what)


def sweep_voltages(v_start: float, v_step: float, v_max: float) -> np.ndarray:
    """v_start, v_start + v_step, ... (all below v_max), then v_max itself (V)."""
    k = max(0, math.ceil((v_max - v_start) / v_step - 1e-9))
    if k > MAX_SWEEP_STEPS:
        raise E.FirmwareError(f"a sweep of {k} steps is too long (at most {MAX_SWEEP_STEPS}); "
                              "raise v_step")
    grid = np.round(v_start + np.arange(k) * v_step, _V_DIGITS)
    return np.append(grid[grid < v_max - 1e-9], v_max)


def forming_sweep(spec: MacroSpec, *, target_sparsity: float | None = None,
                  v_max: float | None = None, region: Region | None = None, n_arrays: int = 1,
                  v_start: float | None = None, v_step: float | None = None,
                  t_pulse_ns: float | None = None, compliance_ua: float | None = None,
                  v_wl: float | None = None, snap_to_grid: bool = False,
                  chip_id: str = "") -> Program:
    """Incremental forming sweep with a verify read after each step ([ESGNN] protocol).

    Per cell of ``region`` (default: all of array 0): VERIFY (a cell that already reads formed,
    e.g. shorted, skips the sweep), then for each voltage of `sweep_voltages`: FORM, VERIFY.
    The verify window is [g_formed_threshold_us, +inf): a cell stops at the first step after
    which it reads formed. Give either ``target_sparsity`` (fraction of cells to leave unformed;
    V_max from `forming_voltage`) or ``v_max`` (V). Defaults come from the preset's ``forming``
    section; the word line defaults to min(1.8 V, ratings.v_wl_max).

    ``info`` of the result: v_max, steps, predicted formed fraction / sparsity, ops per cell.
    """
    f = spec.forming
    if (target_sparsity is None) == (v_max is None):
        raise E.FirmwareError("give exactly one of target_sparsity and v_max")
    v_start = _rated(spec, "v_start", f.v_start if v_start is None else v_start,
                     "v_form_max", "V")
    v_step = _positive("v_step", f.v_step if v_step is None else v_step)
    if v_max is None:
        v_max = forming_voltage(spec, target_sparsity, v_start=v_start, v_step=v_step,
                                snap_to_grid=snap_to_grid)
    else:
        v_max = _rated(spec, "v_max", v_max, "v_form_max", "V")
        if v_max < v_start:
            raise E.FirmwareError(f"v_max = {v_max:g} V is below v_start = {v_start:g} V")
    t_ns = _rated(spec, "t_pulse_ns", f.t_pulse_ns if t_pulse_ns is None else t_pulse_ns,
                  "t_pulse_max_ns", "ns")
    icc = _rated(spec, "compliance_ua", f.compliance_ua if compliance_ua is None
                 else compliance_ua, "compliance_max_ua", "uA")
    wl = _v_wl(spec, v_wl)
    g = spec.geometry
    region = region or Region(0, 0, g.rows, 0, g.cols)
    if not (0 <= region.array < n_arrays and 0 <= region.r0 < region.r1 <= g.rows
            and 0 <= region.c0 < region.c1 <= g.cols):
        raise E.AddressError(f"region {region} outside {n_arrays} array(s) of "
                             f"{g.rows} x {g.cols}")
    volts = sweep_voltages(v_start, v_step, v_max)
    n_steps = volts.size
    rows = np.arange(region.r0, region.r1)
    cols = np.arange(region.c0, region.c1)
    n_cells = rows.size * cols.size
    k = 1 + 2 * n_steps
    _check_program_size(n_cells * k, f"a forming sweep of {n_cells} cells x {n_steps} steps "
                        "(--region, --v-step)")
    op = np.full(k, OP_VERIFY, np.uint8)
    op[1::2] = OP_FORM
    pulse = op == OP_FORM
    v_bl = np.full(k, spec.read.v_read, np.float32)
    v_bl[1::2] = volts
    rec = make_records(
        op[None, None, :], array=region.array, row=rows[:, None, None],
        col=cols[None, :, None], v_wl=wl, v_bl=v_bl[None, None, :],
        t_ns=np.where(pulse, t_ns, spec.read.t_read_ns).astype(np.float32)[None, None, :],
        icc_ua=np.where(pulse, icc, 0.0).astype(np.float32)[None, None, :],
        lo_us=np.where(pulse, 0.0, f.g_formed_threshold_us).astype(np.float32)[None, None, :],
        hi_us=np.where(pulse, 0.0, np.inf).astype(np.float32)[None, None, :],
    )
    header = VectorHeader.from_spec(spec, n_arrays, chip_id, "forming-sweep")
    predicted = expected_formed_fraction(spec, v_max)
    info = {
        "program": "forming-sweep", "target_sparsity": target_sparsity,
        "v_start": v_start, "v_step": v_step, "v_max": float(v_max), "steps": int(n_steps),
        "predicted_formed_fraction": predicted, "predicted_sparsity": 1.0 - predicted,
        "cells": int(n_cells), "ops_per_cell": int(k), "t_pulse_ns": t_ns,
        "compliance_ua": icc, "v_wl": wl, "snap_to_grid": bool(snap_to_grid),
        "region": [region.array, region.r0, region.r1, region.c0, region.c1],
    }
    return check_program(Program(header, rec, info), spec)


def parse_region(text: str, spec: MacroSpec, array: int = 0) -> Region:
    """Parse 'R0:R1,C0:C1' (half-open row and column ranges) into a `Region` of ``array``."""
    try:
        rpart, cpart = text.split(",")
        r0, r1 = (int(x) for x in rpart.split(":"))
        c0, c1 = (int(x) for x in cpart.split(":"))
    except ValueError:
        raise E.FirmwareError(f"region {text!r} must look like R0:R1,C0:C1 (e.g. 0:64,0:128)"
                              ) from None
    g = spec.geometry
    if not (0 <= r0 < r1 <= g.rows and 0 <= c0 < c1 <= g.cols):
        raise E.AddressError(f"region {text!r} outside the {g.rows} x {g.cols} array "
                             f"(rows 0:{g.rows}, cols 0:{g.cols})")
    return Region(int(array), r0, r1, c0, c1)


# --- write-verify ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IsppSettings:
    """Incremental-step pulse programming with verify (write-verify) settings.

    Iteration i (0-based) of a cell: VERIFY against target +- tolerance, SET (if below) at
    min(v_set_start + i * v_set_step, ceiling), RESET (if above) at min(v_reset_start +
    i * v_reset_step, ceiling); after the last iteration a final VERIFY decides success.

    The per-cell ceiling comes from the preset's switching model (soft-bounded steps, see
    `crossbar.kernels.apply_pulses`): the amplitude at which one pulse moves a cell sitting at
    its target by ``step_fraction`` x tolerance, so that late pulses cannot jump over the window;
    it is also capped at ``v_set_max`` / ``v_reset_max`` (default: the ratings). Set
    ``step_fraction`` to 0 to ramp up to those caps only. ``guard_sigma`` narrows the window by
    that many read-noise sigmas (of the preset's read noise at the target), so a cell that passes
    on a noisy read is inside the tolerance with higher probability.

    None means: starts at threshold + 0.3 V, pulse width = switching.t_ref_ns, compliance =
    forming.compliance_ua, word line min(1.8 V, ratings.v_wl_max), caps = the ratings.
    """

    max_iterations: int = 20
    v_set_start: float | None = None
    v_set_step: float = 0.1
    v_set_max: float | None = None
    v_reset_start: float | None = None
    v_reset_step: float = 0.1
    v_reset_max: float | None = None
    t_pulse_ns: float | None = None
    compliance_ua: float | None = None
    v_wl: float | None = None
    step_fraction: float = 1.5
    guard_sigma: float = 0.0


def _ispp_resolved(spec: MacroSpec, s: IsppSettings) -> dict:
    sw, ra = spec.switching, spec.ratings
    n = int(s.max_iterations)
    if not 1 <= n <= MAX_ITERATIONS:
        raise E.FirmwareError(f"max_iterations must lie in 1..{MAX_ITERATIONS}, got {n}")
    out = {"n": n}
    for kind, rating, th in (("set", "v_set_max", sw.v_set_threshold),
                             ("reset", "v_reset_max", sw.v_reset_threshold)):
        vmax = getattr(s, f"v_{kind}_max")
        vmax = _rated(spec, f"v_{kind}_max", getattr(ra, rating) if vmax is None else vmax,
                      rating, "V")
        start = getattr(s, f"v_{kind}_start")
        start = _rated(spec, f"v_{kind}_start", min(th + 0.3, vmax) if start is None
                       else start, rating, "V")
        if start > vmax:
            raise E.FirmwareError(f"v_{kind}_start = {start:g} V is above v_{kind}_max = "
                                  f"{vmax:g} V")
        step = float(getattr(s, f"v_{kind}_step"))
        if not (math.isfinite(step) and step >= 0):
            raise E.FirmwareError(f"v_{kind}_step must be >= 0, got {step}")
        out[kind] = (start, step, float(f32_floor(vmax)))
    out["t_ns"] = _rated(spec, "t_pulse_ns", sw.t_ref_ns if s.t_pulse_ns is None
                         else s.t_pulse_ns, "t_pulse_max_ns", "ns")
    out["icc"] = _rated(spec, "compliance_ua", spec.forming.compliance_ua
                        if s.compliance_ua is None else s.compliance_ua,
                        "compliance_max_ua", "uA")
    out["v_wl"] = _v_wl(spec, s.v_wl)
    for name in ("step_fraction", "guard_sigma"):
        v = float(getattr(s, name))
        if not (math.isfinite(v) and v >= 0):
            raise E.FirmwareError(f"{name} must be >= 0, got {v}")
    return out


def reachable_range(spec: MacroSpec, compliance_ua: float | None = None) -> tuple[float, float]:
    """(g_min, g_top) in uS: the RESET floor and the SET ceiling at this compliance."""
    sw = spec.switching
    icc = spec.forming.compliance_ua if compliance_ua is None else compliance_ua
    return sw.g_min_us, sw.g_max_us * min(1.0, icc / spec.forming.compliance_ua)


def _ceilings(spec: MacroSpec, target: np.ndarray, tol: float, p: dict, alpha: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell SET / RESET amplitude ceilings (V) from the switching model (see IsppSettings)."""
    sw = spec.switching
    g_min, g_top = reachable_range(spec, p["icc"])
    caps = []
    for dist, th, rate, vmax in ((g_top - target, sw.v_set_threshold, sw.set_rate_per_v,
                                  p["set"][2]),
                                 (target - g_min, sw.v_reset_threshold, sw.reset_rate_per_v,
                                  p["reset"][2])):
        cap = np.full(target.shape, vmax)
        if alpha > 0 and rate > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                eta = alpha * tol / dist
                v = th + eta / (rate * p["t_ns"] / sw.t_ref_ns)
            ok = (dist > 0) & np.isfinite(v)
            cap[ok] = np.minimum(v[ok], vmax)
        caps.append(cap)
    return caps[0], caps[1]


def write_verify_cells(spec: MacroSpec, array, row, col, targets_us, tolerance_us: float, *,
                       settings: IsppSettings | None = None, n_arrays: int | None = None,
                       chip_id: str = "", label: str = "write-verify") -> Program:
    """Write-verify the listed cells to ``targets_us`` (uS) within +- ``tolerance_us``.

    ``array``, ``row``, ``col``, ``targets_us``: equal-length 1-d arrays; NaN targets are
    skipped. Cells must be formed (a pristine cell does not switch below the forming voltage;
    it will be reported as failed). Targets whose window misses the reachable range
    [g_min, g_max x min(1, icc / icc_nominal)] are refused. See `IsppSettings` for the pulses.
    Returns a Program with 3 * max_iterations + 1 operations per cell.
    """
    s = settings or IsppSettings()
    p = _ispp_resolved(spec, s)
    tol = _positive("tolerance_us", tolerance_us)
    t = np.asarray(targets_us, dtype=np.float64).reshape(-1)
    array, row, col = (np.asarray(a).reshape(-1) for a in (array, row, col))
    if not t.shape == array.shape:
        raise E.FirmwareError("targets_us must have one value per cell")
    keep = ~np.isnan(t)
    if not keep.any():
        raise E.FirmwareError(
            f"no target to write: all {t.size} target(s) are NaN (NaN = leave that cell alone)"
            if t.size else "no target to write: the target list is empty")
    array, row, col, t = array[keep], row[keep], col[keep], t[keep]
    array, row, col, n_arr = _check_cells(spec, array, row, col, n_arrays)
    g_min, g_top = reachable_range(spec, p["icc"])
    bad = ~np.isfinite(t) | (t < 0) | (t + tol < g_min) | (t - tol > g_top)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise E.UnreachableTargetError(
            f"target {t[i]:g} uS of cell (array {array[i]}, row {row[i]}, col {col[i]}) is not "
            f"reachable: write-verify reaches [{g_min:g}, {g_top:g}] uS (RESET floor, SET ceiling "
            f"at compliance {p['icc']:g} uA) +- tolerance {tol:g} uS ({int(bad.sum())} target(s) "
            "outside)")
    half = tol - s.guard_sigma * read_sigma(spec, t)
    if np.any(half <= 0):
        raise E.FirmwareError(
            f"tolerance {tol:g} uS leaves no window after a guard of {s.guard_sigma:g} read-noise "
            "sigma; raise the tolerance or lower guard_sigma")
    n = p["n"]
    cap_set, cap_reset = _ceilings(spec, t, tol, p, s.step_fraction)
    i = np.arange(n)
    vs = np.minimum(np.round(p["set"][0] + i * p["set"][1], _V_DIGITS)[None, :], cap_set[:, None])
    vr = np.minimum(np.round(p["reset"][0] + i * p["reset"][1], _V_DIGITS)[None, :],
                    cap_reset[:, None])
    k = 3 * n + 1
    nc = t.size
    _check_program_size(nc * k, f"write-verify of {nc} cells x {n} iterations ({k} ops per cell; "
                        "--targets/--weights, --max-iter)")
    op = np.empty(k, np.uint8)
    op[0::3], op[1::3], op[2::3] = OP_VERIFY, OP_SET, OP_RESET
    cond = np.zeros(k, np.uint8)
    cond[1::3], cond[2::3] = COND_IF_BELOW, COND_IF_ABOVE
    is_v = op == OP_VERIFY
    v_bl = np.zeros((nc, k), np.float32)
    v_sl = np.zeros((nc, k), np.float32)
    v_bl[:, 0::3] = spec.read.v_read
    v_bl[:, 1::3] = vs
    v_sl[:, 2::3] = vr
    lo = (t - half).astype(np.float32)[:, None]
    hi = (t + half).astype(np.float32)[:, None]
    rec = make_records(
        op[None, :], cond=cond[None, :], flags=np.where(is_v, FLAG_CHECK, 0)[None, :],
        array=array[:, None], row=row[:, None], col=col[:, None], v_wl=p["v_wl"],
        v_bl=v_bl, v_sl=v_sl,
        t_ns=np.where(is_v, spec.read.t_read_ns, p["t_ns"]).astype(np.float32)[None, :],
        icc_ua=np.where(op == OP_SET, p["icc"], 0.0).astype(np.float32)[None, :],
        lo_us=np.where(is_v[None, :], lo, np.float32(0)),
        hi_us=np.where(is_v[None, :], hi, np.float32(0)),
    )
    header = VectorHeader.from_spec(spec, n_arr, chip_id, label)
    info = {"program": label, "cells": int(nc), "tolerance_us": tol,
            "ops_per_cell": int(k), "settings": asdict(s), "g_range_us": [g_min, g_top],
            "targets_us": {"min": float(t.min()) if nc else None,
                           "max": float(t.max()) if nc else None}}
    return check_program(Program(header, rec, info), spec)


def write_verify(spec: MacroSpec, targets_us: np.ndarray, tolerance_us: float, *,
                 array: int = 0, origin: tuple[int, int] = (0, 0), n_arrays: int | None = None,
                 settings: IsppSettings | None = None, chip_id: str = "") -> Program:
    """Write-verify a conductance map ``targets_us`` [h, w] (uS, NaN = leave the cell alone),
    placed with its top-left corner at ``origin`` (row, col) of ``array``."""
    t = np.asarray(targets_us, dtype=np.float64)
    if t.ndim != 2:
        raise E.FirmwareError(f"targets must be a 2-d map [rows, cols], got shape {t.shape}")
    r = np.arange(t.shape[0])[:, None] + int(origin[0])
    c = np.arange(t.shape[1])[None, :] + int(origin[1])
    r, c = np.broadcast_arrays(r, c)
    return write_verify_cells(spec, np.full(t.size, array), r.ravel(), c.ravel(), t.ravel(),
                              tolerance_us, settings=settings, n_arrays=n_arrays,
                              chip_id=chip_id)


PairTile = Tile  # the tiles of `crossbar.layout` (the name firmware used before)


def pair_layout(spec: MacroSpec, n_in: int, n_out: int, *, first_array: int = 0,
                row_offset: int = 0, col_offset: int = 0, max_rows: int | None = None,
                max_outputs: int | None = None) -> list[Tile]:
    """Tiles of a logical [n_in, n_out] signed matrix on differential column pairs: the
    placement of `crossbar.DifferentialMatrix` (`crossbar.layout.plan_matrix`) with the same
    arguments."""
    if n_in < 1 or n_out < 1:
        raise E.FirmwareError(f"a signed matrix needs n_in, n_out >= 1, got {n_in} x {n_out}")
    g = spec.geometry
    try:
        return list(plan_matrix(g.rows, g.cols, n_in, n_out, first_array=first_array,
                                row_offset=row_offset, col_offset=col_offset, max_rows=max_rows,
                                max_outputs=max_outputs))
    except InputError as e:
        raise E.AddressError(str(e)) from None


def pair_cells(tiles: list[Tile], n_in: int, n_out: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Physical (array, row, col_plus, col_minus) of every logical weight, each [n_in, n_out]."""
    a = np.empty((n_in, n_out), np.int64)
    r = np.empty_like(a)
    cp = np.empty_like(a)
    for t in tiles:
        sl = (slice(t.in_lo, t.in_hi), slice(t.out_lo, t.out_hi))
        a[sl] = t.array
        r[sl] = t.row0 + np.arange(t.in_hi - t.in_lo)[:, None]
        cp[sl] = t.col0 + 2 * np.arange(t.out_hi - t.out_lo)[None, :]
    return a, r, cp, cp + 1


def pair_targets(weights_us: np.ndarray, g_ref_us: float) -> tuple[np.ndarray, np.ndarray]:
    """(G+, G-) = (g_ref + max(W, 0), g_ref + max(-W, 0)) in uS for signed weights W (uS)."""
    w = np.asarray(weights_us, dtype=np.float64)
    return g_ref_us + np.maximum(w, 0.0), g_ref_us + np.maximum(-w, 0.0)


def write_verify_weights(spec: MacroSpec, weights_us: np.ndarray, tolerance_us: float, *,
                         first_array: int = 0, row_offset: int = 0, col_offset: int = 0,
                         g_ref_us: float | None = None, n_arrays: int | None = None,
                         settings: IsppSettings | None = None, chip_id: str = "") -> Program:
    """Write-verify a signed matrix W [n_in, n_out] (uS) onto differential pairs.

    W = G+ - G-: output k of a tile uses physical columns 2k (G+) and 2k + 1 (G-) (as
    `crossbar.mapping`); G+ = g_ref + max(W, 0), G- = g_ref + max(-W, 0), with g_ref (default:
    the RESET floor switching.g_min_us) the level of an 'off' cell. Matrices larger than one array
    are tiled over consecutive arrays like `DifferentialMatrix`. NaN or infinite weights are
    refused (a weight of 0 writes both cells to g_ref).
    """
    w = np.asarray(weights_us, dtype=np.float64)
    if w.ndim != 2:
        raise E.FirmwareError(f"weights must be a 2-d matrix [n_in, n_out], got shape {w.shape}")
    bad = ~np.isfinite(w)
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise E.FirmwareError(
            f"weight [{i}, {j}] = {w[i, j]} is not finite ({int(bad.sum())} non-finite "
            "weight(s)); every weight of the matrix is written (use 0 for an absent weight)")
    g_ref = spec.switching.g_min_us if g_ref_us is None else float(g_ref_us)
    if not (math.isfinite(g_ref) and g_ref >= 0):
        raise E.FirmwareError(f"g_ref_us must be >= 0, got {g_ref}")
    tiles = pair_layout(spec, *w.shape, first_array=first_array, row_offset=row_offset,
                        col_offset=col_offset)
    a, r, cp, cm = pair_cells(tiles, *w.shape)
    gp, gm = pair_targets(w, g_ref)
    # cell order: row-major over the physical layout (G+ then G- of each weight)
    arr = np.stack([a, a], axis=-1).reshape(-1)
    rows = np.stack([r, r], axis=-1).reshape(-1)
    cols = np.stack([cp, cm], axis=-1).reshape(-1)
    tg = np.stack([gp, gm], axis=-1).reshape(-1)
    prog = write_verify_cells(spec, arr, rows, cols, tg, tolerance_us, settings=settings,
                              n_arrays=n_arrays, chip_id=chip_id, label="write-verify-w")
    prog.info.update({"weights_shape": list(w.shape), "g_ref_us": g_ref,
                      "tiles": [{k: v for k, v in asdict(t).items() if k != "group"}
                                for t in tiles]})
    return prog


# --- reset / prune ---------------------------------------------------------------------------


def reset_prune(spec: MacroSpec, array, row, col, *, g_off_us: float | None = None,
                max_iterations: int = 20, v_start: float | None = None, v_step: float = 0.1,
                v_max: float | None = None, t_pulse_ns: float | None = None,
                v_wl: float | None = None, n_arrays: int | None = None,
                chip_id: str = "") -> Program:
    """Reset the listed cells to the high-resistance state (prune).

    Per cell and iteration i: VERIFY against [-inf, g_off_us], RESET (if above) at
    min(v_start + i * v_step, v_max); then a final VERIFY. Defaults: g_off = 2 x
    switching.g_min_us, v_start = v_reset_threshold + 0.4 V, v_max = ratings.v_reset_max,
    width switching.t_ref_ns. Cells that never read below g_off are reported as failed on replay.
    """
    sw = spec.switching
    g_off = _positive("g_off_us", 2 * sw.g_min_us if g_off_us is None else g_off_us)
    n = int(max_iterations)
    if not 1 <= n <= MAX_ITERATIONS:
        raise E.FirmwareError(f"max_iterations must lie in 1..{MAX_ITERATIONS}, got {n}")
    vmax = _rated(spec, "v_max", spec.ratings.v_reset_max if v_max is None else v_max,
                  "v_reset_max", "V")
    vstart = _rated(spec, "v_start", min(sw.v_reset_threshold + 0.4, vmax) if v_start is None
                    else v_start, "v_reset_max", "V")
    if vstart > vmax:
        raise E.FirmwareError(f"v_start = {vstart:g} V is above v_max = {vmax:g} V")
    if not (math.isfinite(v_step) and v_step >= 0):
        raise E.FirmwareError(f"v_step must be >= 0, got {v_step}")
    t_ns = _rated(spec, "t_pulse_ns", sw.t_ref_ns if t_pulse_ns is None else t_pulse_ns,
                  "t_pulse_max_ns", "ns")
    wl = _v_wl(spec, v_wl)
    array, row, col, n_arr = _check_cells(spec, array, row, col, n_arrays)
    volts = np.minimum(np.round(vstart + np.arange(n) * v_step, _V_DIGITS),
                       float(f32_floor(vmax)))
    k = 2 * n + 1
    op = np.full(k, OP_VERIFY, np.uint8)
    op[1::2] = OP_RESET
    is_v = op == OP_VERIFY
    v_sl = np.zeros(k, np.float32)
    v_sl[1::2] = volts
    rec = make_records(
        op[None, :], cond=np.where(is_v, COND_ALWAYS, COND_IF_ABOVE)[None, :],
        flags=np.where(is_v, FLAG_CHECK, 0)[None, :], array=array[:, None], row=row[:, None],
        col=col[:, None], v_wl=wl,
        v_bl=np.where(is_v, spec.read.v_read, 0.0).astype(np.float32)[None, :],
        v_sl=v_sl[None, :],
        t_ns=np.where(is_v, spec.read.t_read_ns, t_ns).astype(np.float32)[None, :],
        lo_us=np.where(is_v, -np.inf, 0.0).astype(np.float32)[None, :],
        hi_us=np.where(is_v, g_off, 0.0).astype(np.float32)[None, :],
    )
    header = VectorHeader.from_spec(spec, n_arr, chip_id, "reset-prune")
    info = {"program": "reset-prune", "cells": int(array.size), "g_off_us": g_off,
            "ops_per_cell": int(k), "v_start": vstart, "v_step": float(v_step), "v_max": vmax}
    return check_program(Program(header, rec, info), spec)


def prune_mask(spec: MacroSpec, mask: np.ndarray, *, array: int = 0,
               origin: tuple[int, int] = (0, 0), **kwargs) -> Program:
    """`reset_prune` the True cells of a boolean map [h, w] (or [n_arrays, rows, cols])."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise E.FirmwareError(f"prune mask must be boolean, got {m.dtype}")
    if m.ndim == 3:
        a, r, c = np.nonzero(m)
        r, c = r + origin[0], c + origin[1]
        a = a + array
    elif m.ndim == 2:
        r, c = np.nonzero(m)
        r, c = r + origin[0], c + origin[1]
        a = np.full(r.size, array)
    else:
        raise E.FirmwareError(f"prune mask must be 2-d or 3-d, got shape {m.shape}")
    return reset_prune(spec, a, r, c, **kwargs)


def prune_pairs(spec: MacroSpec, pair_mask: np.ndarray, *, first_array: int = 0,
                row_offset: int = 0, col_offset: int = 0, **kwargs) -> Program:
    """`reset_prune` both cells of the True weights of a logical mask [n_in, n_out], laid out as
    in `write_verify_weights` / `crossbar.DifferentialMatrix`."""
    m = np.asarray(pair_mask)
    if m.dtype != np.bool_ or m.ndim != 2:
        raise E.FirmwareError("pair mask must be a boolean matrix [n_in, n_out]")
    tiles = pair_layout(spec, *m.shape, first_array=first_array, row_offset=row_offset,
                        col_offset=col_offset)
    a, r, cp, cm = pair_cells(tiles, *m.shape)
    sel = np.flatnonzero(m.reshape(-1))
    a, r, cp, cm = (x.reshape(-1)[sel] for x in (a, r, cp, cm))
    prog = reset_prune(spec, np.repeat(a, 2), np.repeat(r, 2),
                       np.stack([cp, cm], axis=-1).reshape(-1), **kwargs)
    prog.info["pairs"] = int(sel.size)
    return prog
