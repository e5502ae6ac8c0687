"""The `Macro`: one or more RRAM arrays of a preset, their conductance state and operations.

State is per cell (see `crossbar.device.CellArrays`), flattened over ``n_arrays x rows x cols``.
Operations: forming (one pulse or an incremental sweep with verify reads), arbitrary pulse
sequences (the engine behind write-verify and firmware replay), noisy reads, the passage of time
(drift), and analog MVMs on chosen rows/columns (see also `crossbar.mapping` for signed weights on
differential pairs tiled over several arrays). Every operation is booked in `Macro.ledger`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossbar import kernels as K
from crossbar.defaults import DEFAULT_PRESET
from crossbar.device import CellArrays, drifted, read_sigma, sample_cells
from crossbar.errors import InputError
from crossbar.layout import Region
from crossbar.ledger import Ledger
from crossbar.periphery import Adc
from crossbar.readchain import adc_full_scale_ua, wire_resistance_ohm
from crossbar.rng import NORMAL_TABLE, draw_seed
from crossbar.spec import MacroSpec, load_preset
from crossbar.validation import check_memory

# Memory planned per cell of state (5 float64 arrays + status, plus the temporaries of sampling
# and of the conductance cache) and per queued pulse operation (the ~12 per-op arrays of
# `apply_ops` and its kernel outputs), in bytes; used to refuse requests that cannot fit.
STATE_BYTES_PER_CELL = 96
PULSE_BYTES_PER_OP = 128

NoiseMode = str  # "percell" | "output" | "off"
_NOISE_MODES = ("percell", "output", "off")


@dataclass
class PulseResult:
    """Outcome of `Macro.apply_ops`: per-op read values (uS, NaN if none) and applied flags."""

    reads: np.ndarray
    applied: np.ndarray
    pulses: int
    reads_done: int
    energy_j: float
    time_s: float


def _seed_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    try:
        return np.random.default_rng(seed)
    except (ValueError, TypeError):
        raise InputError(f"seed must be a non-negative integer, got {seed!r}") from None


class Macro:
    """One chip: ``n_arrays`` arrays of ``spec.geometry.rows x cols`` 1T1R cells.

    Args:
        spec: a validated preset (`crossbar.spec.load_preset`), or a preset name.
        n_arrays: number of identical arrays (tiles) on the chip.
        seed: int seed or numpy Generator; the same seed gives the same die and the same noise.
    """

    def __init__(self, spec: MacroSpec | str = DEFAULT_PRESET, n_arrays: int = 1,
                 seed: int | np.random.Generator | None = 0) -> None:
        if isinstance(spec, str):
            spec = load_preset(spec)
        if isinstance(n_arrays, bool) or not isinstance(n_arrays, int | np.integer) or n_arrays < 1:
            raise InputError(f"n_arrays must be an integer >= 1, got {n_arrays!r}")
        check_memory(self.estimate_bytes(spec, int(n_arrays)),
                     f"a macro of {n_arrays} array(s) of {spec.geometry.rows} x "
                     f"{spec.geometry.cols} cells (n_arrays={n_arrays})")
        self.spec = spec
        self.n_arrays = int(n_arrays)
        self.rows = spec.geometry.rows
        self.cols = spec.geometry.cols
        self.rng = _seed_rng(seed)
        self.cells: CellArrays = sample_cells(spec, self.n_cells, self.rng)
        self.clock_s = 0.0
        self.ledger = Ledger()
        self.version = 0  # bumped on every state change; mappings cache against it
        self._g_cache: tuple[int, np.ndarray] | None = None

    @staticmethod
    def estimate_bytes(spec: MacroSpec, n_arrays: int = 1, pulses_per_cell: float = 0.0) -> float:
        """Planned memory (bytes) of a macro of ``n_arrays`` arrays, plus ``pulses_per_cell``
        queued pulse operations per cell (1 for `form`, ``1 + 2 * steps`` for `form_sweep`)."""
        cells = float(n_arrays) * spec.geometry.rows * spec.geometry.cols
        return cells * (STATE_BYTES_PER_CELL + pulses_per_cell * PULSE_BYTES_PER_OP)

    # --- geometry and state ------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        return self.n_arrays * self.rows * self.cols

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_arrays, self.rows, self.cols)

    def _touch(self) -> None:
        self.version += 1
        self._g_cache = None

    @property
    def g_us(self) -> np.ndarray:
        """Conductance of every cell now (drift included), shape [n_arrays, rows, cols], uS.

        Read-only view of a cached array; it is recomputed after any state change.
        """
        if self._g_cache is None or self._g_cache[0] != self.version:
            g = drifted(self.cells, self.clock_s, self.spec.drift.t0_s).reshape(self.shape)
            g.setflags(write=False)
            self._g_cache = (self.version, g)
        return self._g_cache[1]

    @property
    def status(self) -> np.ndarray:
        return self.cells.status.reshape(self.shape)

    def formed_mask(self) -> np.ndarray:
        """Cells conducting above the 'formed' threshold (20 kOhm), [n_arrays, rows, cols]."""
        return self.g_us > self.spec.forming.g_formed_threshold_us

    def region(self, array: int = 0, rows: slice | tuple[int, int] | None = None,
               cols: slice | tuple[int, int] | None = None) -> Region:
        def bounds(sel, n, what):
            if sel is None:
                return 0, n
            if isinstance(sel, slice):
                if sel.step not in (None, 1):
                    raise InputError(f"{what} slice must have step 1")
                lo, hi, _ = sel.indices(n)
            else:
                lo, hi = int(sel[0]), int(sel[1])
            if not (0 <= lo < hi <= n):
                raise InputError(f"{what} range [{lo}, {hi}) outside the array (0..{n})")
            return lo, hi

        if not (0 <= array < self.n_arrays):
            raise InputError(f"array index {array} outside 0..{self.n_arrays - 1}")
        r0, r1 = bounds(rows, self.rows, "rows")
        c0, c1 = bounds(cols, self.cols, "cols")
        return Region(array, r0, r1, c0, c1)

    def cell_index(self, array, row, col) -> np.ndarray:
        """Flat cell index of (array, row, col) (array-likes broadcast)."""
        return (np.asarray(array, np.int64) * self.rows + np.asarray(row, np.int64)) * self.cols \
            + np.asarray(col, np.int64)

    def region_cells(self, region: Region) -> np.ndarray:
        r = np.arange(region.r0, region.r1)
        c = np.arange(region.c0, region.c1)
        return self.cell_index(region.array, r[:, None], c[None, :]).ravel()

    # --- time ------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (drift acts on formed cells)."""
        if not np.isfinite(seconds) or seconds < 0:
            raise InputError(f"time can only advance: seconds must be finite and >= 0, got {seconds}")
        self.clock_s += float(seconds)
        self._touch()

    # --- pulses ---------------------------------------------------------------------------------
    def apply_ops(self, kind, cell, v_cell, t_ns=None, icc_ua=None, cond=None, lo_us=None,
                  hi_us=None) -> PulseResult:
        """Run a sequence of cell operations (kernel `apply_pulses`; see its docstring).

        Arrays are broadcast to the length of ``kind``. Defaults: pulse width and compliance of
        the preset's forming settings; condition ALWAYS; verify window [-inf, inf].
        """
        kind = np.asarray(kind, np.int64)
        n = kind.shape[0]
        f = self.spec.forming
        check_memory(float(n) * PULSE_BYTES_PER_OP, f"a sequence of {n} pulse operations")

        def arr(a, default, dtype=np.float64):
            a = default if a is None else a
            return np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype), (n,)))

        cell = arr(cell, 0, np.int64)
        if n and (cell.min() < 0 or cell.max() >= self.n_cells):
            raise InputError(f"cell index outside 0..{self.n_cells - 1}")
        z = self.rng.standard_normal(n)
        c = self.cells
        out = K.apply_pulses(
            kind, cell, arr(v_cell, 0.0), arr(t_ns, f.t_pulse_ns), arr(icc_ua, f.compliance_ua),
            arr(cond, K.COND_ALWAYS, np.int64), arr(lo_us, -np.inf), arr(hi_us, np.inf), z,
            c.g_prog, c.t_prog, c.nu, c.vbd, c.g_latent, c.status, float(self.clock_s),
            pulse_physics(self.spec),
        )
        reads, applied, t_end, e_write, n_pulses, n_reads, e_read = out
        dt = t_end - self.clock_s
        self.clock_s = float(t_end)
        self.ledger.add_writes(pulses=n_pulses, reads=n_reads, e_write=e_write, e_read=e_read,
                               t_s=dt)
        self._touch()
        return PulseResult(reads, applied, int(n_pulses), int(n_reads), float(e_write + e_read),
                           float(dt))

    def form(self, voltage: float, region: Region | None = None,
             compliance_ua: float | None = None, t_pulse_ns: float | None = None) -> float:
        """One forming pulse of ``voltage`` on every cell of ``region`` (default: all arrays).

        Pristine cells whose breakdown voltage is <= ``voltage`` form. Returns the formed
        fraction of the region afterwards.
        """
        self._check_voltage(voltage, self.spec.ratings.v_form_max, "forming")
        cells = (np.arange(self.n_cells) if region is None else self.region_cells(region))
        self.apply_ops(np.full(cells.size, K.OP_FORM), cells, voltage, t_pulse_ns, compliance_ua)
        g = self.g_us.reshape(-1)[cells]
        return float(np.mean(g > self.spec.forming.g_formed_threshold_us))

    def form_sweep(self, v_max: float, region: Region | None = None,
                   v_start: float | None = None, v_step: float | None = None) -> np.ndarray:
        """Incremental forming sweep with a verify read after each step ([ESGNN] protocol).

        Voltage steps from ``v_start`` by ``v_step`` up to ``v_max``; each cell stops at the
        first step whose verify read exceeds the 'formed' threshold. Returns the forming voltage
        per cell of the region, flat (NaN where the cell did not form during this sweep, e.g.
        because it was formed already or is stuck).
        """
        f = self.spec.forming
        v_start = f.v_start if v_start is None else v_start
        v_step = f.v_step if v_step is None else v_step
        self._check_voltage(v_max, self.spec.ratings.v_form_max, "forming")
        self._check_voltage(v_start, self.spec.ratings.v_form_max, "forming sweep start")
        if not (np.isfinite(v_step) and v_step > 0):
            raise InputError(f"forming sweep step v_step must be a finite voltage > 0, got {v_step}")
        n_c = self.n_cells if region is None else \
            (region.r1 - region.r0) * (region.c1 - region.c0)
        n_v = max(0, int(np.floor((v_max + 1e-9 - v_start) / v_step)) + 1)
        check_memory(float(n_c) * (1 + 2 * n_v) * PULSE_BYTES_PER_OP,
                     f"a forming sweep of {n_c} cells x {n_v} steps "
                     f"(v_start {v_start} V to v_max {v_max} V in steps of v_step {v_step} V)")
        cells = np.arange(self.n_cells) if region is None else self.region_cells(region)
        volts = np.arange(v_start, v_max + 1e-9, v_step)
        n_c, n_v = cells.size, volts.size
        # per cell: VERIFY (skip if already formed), then per step FORM(v) + VERIFY
        kind = np.empty((n_c, 1 + 2 * n_v), np.int64)
        kind[:, 0] = K.OP_VERIFY
        kind[:, 1::2] = K.OP_FORM
        kind[:, 2::2] = K.OP_VERIFY
        v = np.zeros((n_c, 1 + 2 * n_v))
        v[:, 1::2] = volts
        res = self.apply_ops(kind.ravel(), np.repeat(cells, 1 + 2 * n_v), v.ravel(),
                             lo_us=f.g_formed_threshold_us, hi_us=np.inf)
        applied = res.applied.reshape(n_c, -1)[:, 1::2]
        n_applied = applied.sum(axis=1)
        formed = self.formed_mask().reshape(-1)[cells]
        out = np.full(n_c, np.nan)
        ok = formed & (n_applied > 0)
        out[ok] = volts[n_applied[ok] - 1]
        return out

    def _check_voltage(self, v: float, vmax: float, what: str) -> None:
        if not (0 <= v <= vmax):  # also refuses NaN
            raise InputError(
                f"{what} voltage {v} V outside 0..{vmax} V (absolute-maximum rating of preset "
                f"'{self.spec.name}')"
            )

    # --- reads ---------------------------------------------------------------------------------
    def read(self, region: Region | None = None, noise: bool = True) -> np.ndarray:
        """Read conductances (uS) of a region one cell at a time, [rows, cols] (or full state)."""
        cells = np.arange(self.n_cells) if region is None else self.region_cells(region)
        g = self.g_us.reshape(-1)[cells]
        if noise:
            g = g + read_sigma(self.spec, g) * self.rng.standard_normal(g.shape)
        r = self.spec.read
        self.ledger.add_writes(pulses=0, reads=cells.size, e_write=0.0,
                               e_read=float(np.sum(r.v_read**2 * g.clip(0) * 1e-6
                                                   * r.t_read_ns * 1e-9)),
                               t_s=cells.size * r.t_read_ns * 1e-9)
        shape = self.shape if region is None else (region.r1 - region.r0, region.c1 - region.c0)
        return g.reshape(shape)

    # --- analog MVM ----------------------------------------------------------------------------
    def mvm(self, x: np.ndarray, region: Region | None = None, *, differential: bool = False,
            noise: NoiseMode = "percell", adc: Adc | None | bool = True,
            ir_drop: bool | None = None) -> np.ndarray:
        """Analog MVM on one region: inputs drive its rows, its columns are read out.

        Args:
            x: [B, rows] input levels in [0, 1] (1 = ``v_read`` on the word line; spikes 0/1).
            differential: treat columns (2k, 2k+1) as a pair G+ - G- with analog subtraction.
            noise: "percell" (each cell re-drawn every read), "output" (exact Gaussian
                equivalent; needs ir_drop off) or "off".
            adc: an `Adc`, True for the preset's rule (percentile rule: calibrated on this
                batch's noise-free output), or False/None for ideal read-out.
            ir_drop: first-order IR drop on/off (None: preset).
        Returns:
            [B, n_outputs] currents in uA (n_outputs = cols, or cols / 2 if differential).
        """
        region = region or self.region(0)
        g = self.g_us[region.array, region.r0:region.r1, region.c0:region.c1]
        if differential:
            if g.shape[1] % 2:
                raise InputError("a differential region needs an even number of columns")
            gp, gm = g[:, 0::2], g[:, 1::2]
        else:
            gp, gm = g, np.zeros((0, 0))
        return run_mvm(self, x, gp, gm, differential=differential, noise=noise, adc=adc,
                       ir_drop=ir_drop)

    # --- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Save the full state (cells, clock, spec) to an ``.npz`` atomically."""
        from crossbar.state_io import save_macro

        return save_macro(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, spec: MacroSpec | None = None) -> Macro:
        from crossbar.state_io import load_macro

        return load_macro(path, spec)

    @classmethod
    def from_conductances(cls, spec: MacroSpec | str, g_us: np.ndarray,
                          seed: int | np.random.Generator | None = 0) -> Macro:
        """A macro whose conductances are a given (e.g. measured) map [n_arrays?, rows, cols].

        Cells above the 'formed' threshold count as formed, the rest as pristine; the hidden
        properties (breakdown voltage, drift exponent) are sampled from the preset.
        """
        if isinstance(spec, str):
            spec = load_preset(spec)
        g = np.asarray(g_us, dtype=np.float64)
        if g.ndim == 2:
            g = g[None]
        rows, cols = spec.geometry.rows, spec.geometry.cols
        if g.ndim != 3 or g.shape[1:] != (rows, cols):
            raise InputError(
                f"conductance map has shape {g_us.shape}; preset '{spec.name}' expects "
                f"({rows}, {cols}) or (n_arrays, {rows}, {cols})"
            )
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise InputError("conductance map must be finite and non-negative (uS)")
        m = cls(spec, n_arrays=g.shape[0], seed=seed)
        flat = g.reshape(-1).copy()
        m.cells.g_prog = flat
        st = np.where(flat > spec.forming.g_formed_threshold_us, K.FORMED, K.PRISTINE)
        m.cells.status = st.astype(np.int8)
        m.cells.t_prog[:] = 0.0
        m._touch()
        return m


@dataclass
class PreparedPair:
    """Contiguous per-region arrays the MVM kernels need (cache them while the state holds)."""

    gp: np.ndarray
    gm: np.ndarray
    sp: np.ndarray
    sm: np.ndarray
    w: np.ndarray
    s2: np.ndarray

    @classmethod
    def build(cls, spec: MacroSpec, gp: np.ndarray, gm: np.ndarray | None) -> PreparedPair:
        gp = np.ascontiguousarray(gp, dtype=np.float64)
        differential = gm is not None and gm.size > 0
        gm = np.ascontiguousarray(gm, dtype=np.float64) if differential else np.zeros_like(gp)
        sp = read_sigma(spec, gp)
        sm = read_sigma(spec, gm) if differential else np.zeros_like(gp)
        return cls(gp, gm, sp, sm, gp - gm, sp**2 + sm**2)


def run_mvm(macro: Macro, x: np.ndarray, gp: np.ndarray, gm: np.ndarray, *, differential: bool,
            noise: NoiseMode, adc: Adc | None | bool, ir_drop: bool | None,
            adc_range_ua: float | None = None, prepared: PreparedPair | None = None) -> np.ndarray:
    """Shared MVM path of `Macro.mvm` and `crossbar.mapping` tiles (books the ledger)."""
    spec = macro.spec
    if noise not in _NOISE_MODES:
        raise InputError(f"noise must be one of {_NOISE_MODES}, got '{noise}'")
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None]
    r_n, c_n = gp.shape
    if x.ndim != 2 or x.shape[1] != r_n:
        raise InputError(f"input has shape {x.shape}; this region has {r_n} rows")
    if x.dtype != np.uint8:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if np.any(x < 0) or np.any(x > 1):
            raise InputError("input levels must lie in [0, 1] (fraction of the read voltage)")
    ir = spec.periphery.ir_drop if ir_drop is None else ir_drop
    r_ohm = wire_resistance_ohm(spec.periphery.r_wire_ohm, r_n, c_n) if ir else 0.0
    if noise == "output" and ir:
        raise InputError("noise='output' is exact only without IR drop; use noise='percell'")
    adc_obj = _resolve_adc(macro, adc, x, gp, gm, differential, adc_range_ua)
    read = read_params(spec, r_ohm, adc_obj)
    seed = draw_seed(macro.rng)
    pp = prepared or PreparedPair.build(spec, gp, gm if differential else None)
    if noise == "output":
        out, _ = K.mvm_output_noise(x, pp.w, pp.s2, True, seed, NORMAL_TABLE, read)
    else:
        out, _ = K.mvm_percell(x, pp.gp, pp.gm, pp.sp, pp.sm, differential, noise == "percell",
                               seed, NORMAL_TABLE, read)
    book_mvm(spec, macro.ledger, x, pp.gp, pp.gm if differential else None, n_out=c_n,
             adc_used=adc_obj is not None)
    return out


def read_params(spec: MacroSpec, r_ohm: float, adc: Adc | None) -> K.ReadParams:
    """The kernels' `ReadParams` of a read with the preset's v_read, wire resistance ``r_ohm``
    and ``adc`` (None: ideal read-out)."""
    if adc is None:
        return K.ReadParams(float(spec.read.v_read), float(r_ohm), 0.0, 0.0, 0.0)
    return K.ReadParams(float(spec.read.v_read), float(r_ohm), float(adc.lsb_ua),
                        float(adc.code_min), float(adc.code_max))


def pulse_physics(spec: MacroSpec) -> K.PulsePhysics:
    """The pulse engine's `PulsePhysics` of a preset."""
    f, sw, r = spec.forming, spec.switching, spec.read
    return K.PulsePhysics(*(float(v) for v in (
        spec.drift.t0_s, r.v_read, r.t_read_ns, r.noise_relative, r.noise_floor_us, sw.g_min_us,
        sw.g_max_us, sw.v_set_threshold, sw.v_reset_threshold, sw.set_rate_per_v,
        sw.reset_rate_per_v, sw.t_ref_ns, sw.c2c_std, f.compliance_ua,
        spec.energy.e_write_overhead_j)))


def _resolve_adc(macro, adc, x, gp, gm, differential, range_ua) -> Adc | None:
    if adc is None or adc is False:
        return None
    if isinstance(adc, Adc):
        return adc
    p = macro.spec.periphery
    if range_ua is None:
        def ideal_ua() -> np.ndarray:
            w = (gp - gm) if differential else gp
            return macro.spec.read.v_read * (np.asarray(x, np.float64) @ w)

        range_ua = adc_full_scale_ua(macro.spec, gp.shape[0], ideal_ua)
    return Adc(p.adc_bits, float(range_ua), signed=differential)


def book_mvm(spec: MacroSpec, ledger: Ledger, x: np.ndarray, gp: np.ndarray,
             gm: np.ndarray | None, n_out: int, adc_used: bool) -> None:
    """Add one MVM's operation counts, energy and time to ``ledger``."""
    xf = np.asarray(x, dtype=np.float64)
    row_g = gp.sum(axis=1) if gm is None else gp.sum(axis=1) + gm.sum(axis=1)  # uS per row
    active = np.count_nonzero(xf, axis=1)  # word lines driven per vector
    n_cols = gp.shape[1] * (1 if gm is None else 2)
    book_mvm_totals(spec, ledger, vectors=xf.shape[0], active_rows=int(active.sum()),
                    x2_row_g_us=float(((xf * xf) @ row_g).sum()), n_cols=n_cols, n_out=n_out,
                    adc_used=adc_used)


def book_mvm_totals(spec: MacroSpec, ledger: Ledger, *, vectors: int, active_rows: int,
                    x2_row_g_us: float, n_cols: int, n_out: int, adc_used: bool,
                    calls: int = 1) -> None:
    """Book MVMs on one region from aggregate counts (what `book_mvm` computes from ``x``).

    Args:
        vectors: input vectors applied, summed over the ``calls`` MVM calls.
        active_rows: word lines driven, summed over all vectors.
        x2_row_g_us: sum over vectors and rows of x_i^2 * (sum of the row's conductances in
            the region) (uS); for binary inputs, the summed row conductance of active rows.
        n_cols: physical columns of the region (both cells of each pair); n_out: outputs
            (ADC conversions per vector when ``adc_used``).
    """
    r = spec.read
    # Joule energy of the read: sum over active cells of (x v)^2 G t_read
    e_cells = float(x2_row_g_us) * r.v_read**2 * 1e-6 * r.t_read_ns * 1e-9
    cell_reads = int(active_rows) * n_cols
    e_cells += cell_reads * spec.energy.e_cell_read_overhead_j
    conversions = int(vectors) * n_out if adc_used else 0
    per_adc = int(np.ceil(n_out / spec.periphery.adcs_per_array))
    t_vec = (r.t_read_ns + (per_adc * spec.periphery.t_adc_ns if adc_used else 0.0)) * 1e-9
    ledger.add_mvm(vectors=int(vectors), cell_reads=cell_reads, wordlines=int(active_rows),
                   conversions=conversions, e_cell_read=e_cells,
                   e_wordline=int(active_rows) * spec.energy.e_wordline_j,
                   e_adc=conversions * spec.energy.e_adc_j, t_s=int(vectors) * t_vec,
                   calls=calls)
