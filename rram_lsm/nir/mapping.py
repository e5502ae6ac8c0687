"""Signed NIR weights on differential pairs of a preset's macro.

A layer's stacked matrix W [R, N] (native units: ``R`` = inputs, a bias row, then the recurrent
rows of a recurrent layer) is scaled to conductances by one factor ``s`` (uS per weight unit):
``G+ = g_min + s max(W, 0)``, ``G- = g_min + s max(-W, 0)``, clipped to the preset's switching
range [g_min, g_max], optionally rounded to ``levels`` equally spaced conductances of that
range. ``s`` maps max |W| (or its ``clip_percentile``-th percentile, clipping the larger ones)
onto g_max - g_min. The macro is then *programmed* to these targets
(`crossbar.Macro.from_conductances`; unused cells pristine) and the LSM reads back
``W_us = G+ - G-`` with the weight constant ``1 / s``, so ``const * W_us`` is the layer's weight
up to the clipping and quantisation reported in `MappingReport`. Placement: `crossbar.layout`
(`plan_stacked` for a recurrent layer, `plan_matrix` over the input rows for a feed-forward
one), the planner the LSM's own synapses use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from crossbar import Macro, MacroSpec
from crossbar.layout import Tile, gather_pairs, plan_matrix, plan_stacked
from rram_lsm.errors import InputError
from rram_lsm.lsm.synapses import Synapses


@dataclass(frozen=True)
class MappingReport:
    """How one layer landed on the macro. ``scale_us``: uS per weight unit; ``clipped_fraction``:
    weights beyond the conductance range; ``rel_error_rms``: RMS of (mapped - W) / RMS(W), from
    clipping and quantisation; ``n_arrays`` / ``n_tiles`` of the preset's geometry."""

    layer: str
    rows: int
    outputs: int
    n_arrays: int
    n_tiles: int
    scale_us: float
    g_min_us: float
    g_max_us: float
    levels: int | None
    clipped_fraction: float
    rel_error_rms: float
    max_abs_weight: float

    def to_dict(self) -> dict:
        return asdict(self)


def layer_tiles(rows: int, cols: int, n_in: int, n: int, recurrent: bool) -> tuple[Tile, ...]:
    """Tiles of a layer's stacked matrix on arrays of ``rows x cols`` cells."""
    if recurrent:
        return plan_stacked(rows, cols, n_in, n, False).tiles
    return plan_matrix(rows, cols, n_in, n)


def _targets(w: np.ndarray, spec: MacroSpec, levels: int | None,
             clip_percentile: float | None) -> tuple[np.ndarray, np.ndarray, float, float]:
    g_lo, g_hi = spec.switching.g_min_us, spec.switching.g_max_us
    span = g_hi - g_lo
    mag = np.abs(w)
    ref = float(np.percentile(mag, clip_percentile)) if clip_percentile else float(mag.max())
    if ref <= 0:
        ref = 1.0  # an all-zero matrix
    s = span / ref
    gp = g_lo + np.clip(s * np.maximum(w, 0), 0, span)
    gm = g_lo + np.clip(s * np.maximum(-w, 0), 0, span)
    if levels:
        step = span / (levels - 1)
        gp = g_lo + np.rint((gp - g_lo) / step) * step
        gm = g_lo + np.rint((gm - g_lo) / step) * step
    return gp, gm, s, float(np.mean(mag > ref * (1 + 1e-12)))


def macro_synapses(name: str, w: np.ndarray, n_in: int, spec: MacroSpec, *, recurrent: bool,
                   noise: str = "output", adc: bool = True, levels: int | None = None,
                   clip_percentile: float | None = None,
                   seed: int = 0) -> tuple[Synapses, float, MappingReport]:
    """Program ``w`` [n_in + N, N] onto a fresh macro of ``spec``; returns the LSM `Synapses`,
    the weight constant ``1 / s`` and the `MappingReport`. The rows ``n_in..`` of a
    feed-forward layer (``recurrent`` False) are not placed (no tile reads them)."""
    if levels is not None and levels < 2:
        raise InputError(f"levels must be >= 2, got {levels}")
    if clip_percentile is not None and not (0 < clip_percentile <= 100):
        raise InputError(f"clip_percentile must lie in (0, 100], got {clip_percentile}")
    r_tot, n = w.shape
    rows, cols = spec.geometry.rows, spec.geometry.cols
    if cols < 2:
        raise InputError(f"preset '{spec.name}' has fewer than 2 columns; no differential pair")
    tiles = layer_tiles(rows, cols, n_in, n, recurrent)
    n_arrays = 1 + max(t.array for t in tiles)
    placed = w if recurrent else w[:n_in]
    gp_t, gm_t, s, clipped = _targets(placed, spec, levels, clip_percentile)
    g = np.full((n_arrays, rows, cols), spec.pristine.g_median_us)
    for t in tiles:
        r = t.region
        g[r.array, r.r0:r.r1, r.c0:r.c1:2] = gp_t[t.in_lo:t.in_hi, t.out_lo:t.out_hi]
        g[r.array, r.r0:r.r1, r.c0 + 1:r.c1:2] = gm_t[t.in_lo:t.in_hi, t.out_lo:t.out_hi]
    macro = Macro.from_conductances(spec, g, seed=seed)
    gp, gm = gather_pairs(macro.g_us, tiles, r_tot, n)
    w_us = gp - gm
    mapped = w_us[: placed.shape[0]] / s
    rms = float(np.sqrt(np.mean(placed**2))) or 1.0
    report = MappingReport(
        layer=name, rows=int(placed.shape[0]), outputs=int(n), n_arrays=int(n_arrays),
        n_tiles=len(tiles), scale_us=float(s), g_min_us=spec.switching.g_min_us,
        g_max_us=spec.switching.g_max_us, levels=levels, clipped_fraction=clipped,
        rel_error_rms=float(np.sqrt(np.mean((mapped - placed) ** 2)) / rms),
        max_abs_weight=float(np.abs(placed).max()))
    info = {"n_arrays": n_arrays, "n_tiles": len(tiles), "source": "nir", "scale_us": s}
    syn = Synapses(n_in, n, w_us, w_us.copy(), tuple(tiles), ideal=False, noise=noise, adc=adc,
                   gp=gp, gm=gm, macro=macro, spec=spec, info=info)
    return syn, 1.0 / s, report


def ideal_synapses(w: np.ndarray, n_in: int, recurrent: bool) -> Synapses:
    """Ideal arithmetic on ``w`` [n_in + N, N] (no macro), as the LSM's Gaussian source."""
    r_tot, n = w.shape
    tiles = layer_tiles(r_tot, 2 * n, n_in, n, recurrent)
    return Synapses(n_in, n, w, w, tuple(tiles), ideal=True, info={"source": "nir"})
