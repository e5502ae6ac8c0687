"""A 64-channel gammatone cochlea (scipy only): ERB-spaced 4th-order IIR gammatone filters.

Filtering, rectification and spike generation run in `rram_lsm.data.kernels.cochlea_spikes`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal


def erb_space(f_min_hz: float, f_max_hz: float, n: int) -> np.ndarray:
    """``n`` centre frequencies (Hz), equally spaced on the ERB-number scale (Glasberg & Moore)."""

    def to_erb(f):
        return 21.4 * np.log10(1.0 + 0.00437 * f)

    def from_erb(e):
        return (10.0 ** (e / 21.4) - 1.0) / 0.00437

    return from_erb(np.linspace(to_erb(f_min_hz), to_erb(f_max_hz), n))


@lru_cache(maxsize=8)
def gammatone_sos(fs_hz: float, f_min_hz: float, f_max_hz: float, n: int) -> np.ndarray:
    """Second-order sections of each channel's gammatone filter, float64 [n, n_sections, 6].

    Filters from ``scipy.signal.gammatone(fc, "iir", fs)`` (4th-order, unit gain at the centre
    frequency), converted to second-order sections: the 8th-order polynomials lose precision at
    low centre frequencies.
    """
    if f_max_hz >= fs_hz / 2:
        raise ValueError(f"f_max_hz = {f_max_hz} must be below the Nyquist frequency {fs_hz / 2}")
    sos = []
    for fc in erb_space(f_min_hz, f_max_hz, n):
        b, a = signal.gammatone(fc, "iir", fs=fs_hz)
        sos.append(signal.tf2sos(b, a))
    out = np.stack(sos)
    out.setflags(write=False)  # shared through the cache
    return out
