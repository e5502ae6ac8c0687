"""Signed matrices on differential pairs, tiled over the arrays of a macro.

A logical weight matrix W [n_in, n_out] (uS) is held as G+ - G- on column pairs: output k of a
tile uses physical columns (c0 + 2k, c0 + 2k + 1). When W does not fit one array it is cut into
tiles of at most ``rows x (cols / 2)`` (placement: `crossbar.layout.plan_matrix`); each tile sits
on its own array with its own ADCs, and the digitised partial sums of the row tiles are added
digitally.
"""

from __future__ import annotations

import numpy as np

from crossbar.errors import InputError
from crossbar.layout import Tile, gather_pairs, plan_matrix
from crossbar.macro import Macro, NoiseMode, PreparedPair, run_mvm
from crossbar.periphery import Adc, percentile_range


class DifferentialMatrix:
    """W = G+ - G- of a logical [n_in, n_out] matrix placed on ``macro``.

    Args:
        macro: the chip.
        n_in, n_out: logical shape.
        first_array: index of the first array used; tiles take consecutive arrays.
        row_offset, col_offset: physical origin inside each array (lets several matrices share an
            array, e.g. W_in above W_rec).
        max_rows, max_outputs: tile size limits (default: what fits from the offsets).
    """

    def __init__(self, macro: Macro, n_in: int, n_out: int, first_array: int = 0,
                 row_offset: int = 0, col_offset: int = 0, max_rows: int | None = None,
                 max_outputs: int | None = None) -> None:
        self.macro = macro
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.tiles: list[Tile] = list(plan_matrix(
            macro.rows, macro.cols, self.n_in, self.n_out, first_array=first_array,
            row_offset=row_offset, col_offset=col_offset, max_rows=max_rows,
            max_outputs=max_outputs, n_arrays=macro.n_arrays))
        self.adc_ranges_ua: list[float] | None = None
        self._prepared: tuple[int, list[PreparedPair]] | None = None

    @property
    def n_arrays_used(self) -> int:
        return len({t.region.array for t in self.tiles})

    def _pair(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        r = tile.region
        g = self.macro.g_us[r.array, r.r0:r.r1, r.c0:r.c1]
        return g[:, 0::2], g[:, 1::2]

    def prepared(self) -> list[PreparedPair]:
        """Per-tile kernel arrays, rebuilt only when the macro's state changed."""
        if self._prepared is None or self._prepared[0] != self.macro.version:
            spec = self.macro.spec
            self._prepared = (self.macro.version,
                              [PreparedPair.build(spec, *self._pair(t)) for t in self.tiles])
        return self._prepared[1]

    def conductances(self) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G-) as logical [n_in, n_out] arrays (uS), drift included."""
        return gather_pairs(self.macro.g_us, self.tiles, self.n_in, self.n_out)

    def weights_us(self) -> np.ndarray:
        """Logical signed weights G+ - G- [n_in, n_out] in uS."""
        gp, gm = self.conductances()
        return gp - gm

    def calibrate_adc(self, x: np.ndarray, percentile: float | None = None) -> list[float]:
        """Set each tile's ADC full scale from the noise-free outputs of a calibration batch."""
        x = np.asarray(x, dtype=np.float64)
        p = self.macro.spec.periphery.adc_percentile if percentile is None else percentile
        v = self.macro.spec.read.v_read
        ranges = []
        for t in self.tiles:
            gp, gm = self._pair(t)
            ranges.append(percentile_range(v * (x[:, t.in_lo:t.in_hi] @ (gp - gm)), p))
        self.adc_ranges_ua = ranges
        return ranges

    def mvm(self, x: np.ndarray, *, noise: NoiseMode = "percell", adc: bool = True,
            ir_drop: bool | None = None) -> np.ndarray:
        """y [B, n_out] (uA) = per-tile analog MVM of x [B, n_in] + digital sum over row tiles.

        With ``adc`` on and the preset's range rule ``percentile``, tiles use the ranges from
        `calibrate_adc` (calibrated on this batch if it was never called).
        """
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise InputError(f"input has shape {x.shape}; expected [batch, {self.n_in}]")
        rule = self.macro.spec.periphery.adc_range_rule
        if adc and rule == "percentile" and self.adc_ranges_ua is None:
            self.calibrate_adc(x)
        y = np.zeros((x.shape[0], self.n_out))
        for k, (t, pp) in enumerate(zip(self.tiles, self.prepared())):
            rng_ua = self.adc_ranges_ua[k] if (adc and rule == "percentile") else None
            xt = np.ascontiguousarray(x[:, t.in_lo:t.in_hi])
            y[:, t.out_lo:t.out_hi] += run_mvm(self.macro, xt, pp.gp, pp.gm, differential=True,
                                               noise=noise, adc=adc, ir_drop=ir_drop,
                                               adc_range_ua=rng_ua, prepared=pp)
        return y

    def tile_adcs(self) -> list[Adc]:
        p = self.macro.spec.periphery
        if self.adc_ranges_ua is None:
            raise InputError("ADC ranges not calibrated yet; call calibrate_adc(x) first")
        return [Adc(p.adc_bits, r, signed=True) for r in self.adc_ranges_ua]
