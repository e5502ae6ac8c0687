"""The analog read chain of a crossbar column, once: read noise, IR drop, ADC, full scale.

A column read goes: every active cell conducts G +- sigma(G) (read noise), the column's summed
conductance S passes through the first-order IR drop of the tile's wires, the pair's two
currents are subtracted in analog, and the ADC converts the difference to a code.

The numba functions here are small and scalar (``inline="always"`` where they sit in hot loops);
numba specialises them per argument type, so the same function serves the crossbar kernels
(float64 throughout) and the LSM kernels (the working dtype, float64 or float32, where the
caller passes scalars of that dtype). `crossbar.readchain_ref` is their numpy reference and
`rram_lsm.lsm.torch_readchain` their torch twin: a change of the read model is made in those
three places. Units: conductance uS, current uA (V * uS), resistance ohm.

The full-scale rule `adc_full_scale_ua` and the lumped wire resistance `wire_resistance_ohm`
are plain python (they run once per calibration / tile).

Caching: numba's on-disk cache of a kernel is keyed by the kernel's own source file only, so
after editing a function here delete the ``__pycache__`` folders of ``crossbar`` and
``rram_lsm/lsm`` (or point ``NUMBA_CACHE_DIR`` at a fresh folder) before running the kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from crossbar.spec import MacroSpec


@njit(cache=True, inline="always")
def read_sigma(g_us, noise_relative, noise_floor_us):  # pragma: no cover - compiled
    """Per-read noise std (uS) of a cell of conductance ``g_us``:
    sigma = sqrt((k G)^2 + sigma0^2) with k = ``noise_relative``, sigma0 = ``noise_floor_us``."""
    return np.sqrt((noise_relative * g_us) ** 2 + noise_floor_us ** 2)


@njit(cache=True, inline="always")
def ir_drop(s_us, v_read, r_ohm):  # pragma: no cover - compiled
    """Column current (uA) of summed conductance ``s_us`` read at ``v_read`` through a lumped
    wire resistance ``r_ohm`` (first order: I = V S / (1 + r S), S in siemens; r <= 0: off).

    The kernels pass ``r_ohm`` as float64, so with IR drop on the division runs in float64
    whatever the dtype of ``s_us``."""
    if r_ohm > 0.0:
        return v_read * s_us / (1.0 + r_ohm * s_us * 1e-6)
    return v_read * s_us


@njit(cache=True, inline="always")
def adc_code(i_ua, lsb_ua, code_min, code_max):  # pragma: no cover - compiled
    """ADC code of a current: rint(I / lsb) (half to even) clipped to [code_min, code_max].

    Branch-free (LLVM vectorises it); computed in the type of ``i_ua`` / ``lsb_ua``, so the
    caller chooses the precision. Needs ``lsb_ua`` > 0 (an ideal read-out skips the ADC)."""
    return min(max(np.rint(i_ua / lsb_ua), code_min), code_max)


@njit(cache=True, inline="always")
def adc_value(i_ua, lsb_ua, code_min, code_max):  # pragma: no cover - compiled
    """Dequantised ADC output (uA): ``adc_code * lsb``."""
    return adc_code(i_ua, lsb_ua, code_min, code_max) * lsb_ua


@njit(cache=True, inline="always")
def adc_code_scaled(i_ua, lsb_ua, code_min, code_max, scale):  # pragma: no cover - compiled
    """ADC code times ``scale`` (e.g. ``lsb / v_read``: the code as a weight sum in uS)."""
    return adc_code(i_ua, lsb_ua, code_min, code_max) * scale


@njit(cache=True, inline="always")
def adc_read(i_ua, lsb_ua, code_min, code_max):  # pragma: no cover - compiled
    """(value uA, int64 code) of the ADC; ``lsb_ua`` <= 0 is an ideal read-out (value = I,
    code 0)."""
    if lsb_ua <= 0.0:
        return i_ua, np.int64(0)
    code = adc_code(i_ua, lsb_ua, code_min, code_max)
    return code * lsb_ua, np.int64(code)


def wire_resistance_ohm(r_wire_ohm: float, rows: int, outputs: int) -> float:
    """Lumped wire resistance (ohm) of a tile of ``rows`` word lines x ``outputs`` columns
    (column pairs for a differential tile): ``r_wire * (rows + 2 * outputs) / 2``, the mean
    path of a cell's current along its word line and bit line in the first-order IR model."""
    return r_wire_ohm * (rows + 2 * outputs) / 2.0


def adc_full_scale_ua(spec: MacroSpec, n_rows: int,
                      ideal_ua: Callable[[], np.ndarray] | None = None,
                      percentile: float | None = None) -> float:
    """Full-scale current (uA) of a tile's ADC by the preset's ``periphery.adc_range_rule``.

    * ``fixed``: ``periphery.adc_fixed_range_ua``;
    * ``max``: every one of the ``n_rows`` rows at the largest conductance the preset can reach
      (``v_read * max(g_formed_max, g_max) * n_rows``);
    * ``percentile``: that percentile (``percentile`` or the preset's) of |ideal output| of a
      calibration batch; ``ideal_ua()`` returns those noise-free currents (uA, any shape) and is
      only called for this rule.
    """
    p = spec.periphery
    rule = p.adc_range_rule
    if rule == "fixed":
        return float(p.adc_fixed_range_ua)
    if rule == "max":
        g_top = max(spec.forming.g_formed_max_us, spec.switching.g_max_us)
        return float(spec.read.v_read * g_top * n_rows)
    if ideal_ua is None:
        raise ValueError("the percentile ADC range rule needs the ideal currents")
    return percentile_range(ideal_ua(), p.adc_percentile if percentile is None else percentile)


def percentile_range(ideal_ua: np.ndarray, percentile: float) -> float:
    """Full scale from the ``percentile``-th percentile of |ideal output| of a calibration batch."""
    mag = np.abs(np.asarray(ideal_ua, dtype=np.float64)).ravel()
    r = float(np.percentile(mag, percentile)) if mag.size else 0.0
    if r <= 0:  # all-zero calibration batch: fall back to the largest value seen, or 1 uA
        r = float(mag.max()) if mag.size and mag.max() > 0 else 1.0
    return r
