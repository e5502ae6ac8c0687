"""Periphery of the array: ADC resolution and the rule that sets its full-scale range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossbar.errors import InputError


@dataclass(frozen=True)
class Adc:
    """A uniform ADC on [-range, +range] (signed, for differential pairs) or [0, range].

    Signed ADCs use the symmetric sign-magnitude code set -(2^(b-1) - 1) .. 2^(b-1) - 1 so that
    zero current is a code; unsigned ones use 0 .. 2^b - 1. Values round to the nearest code and
    clip at the rails: inside the range the error is at most half an LSB.
    """

    bits: int
    range_ua: float
    signed: bool = True

    def __post_init__(self) -> None:
        if not (1 <= self.bits <= 24):
            raise InputError(f"ADC bits must be in 1..24, got {self.bits}")
        if not (self.range_ua > 0 and np.isfinite(self.range_ua)):
            raise InputError(f"ADC range must be a positive finite current, got {self.range_ua}")

    @property
    def code_max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def code_min(self) -> int:
        return -self.code_max if self.signed else 0

    @property
    def lsb_ua(self) -> float:
        return self.range_ua / self.code_max if self.code_max > 0 else self.range_ua

    def tia_gain_ohm(self, v_fullscale: float) -> float:
        """Transimpedance that maps the full-scale current onto the ADC's input swing."""
        return v_fullscale / (self.range_ua * 1e-6)


def percentile_range(ideal_ua: np.ndarray, percentile: float) -> float:
    """Full scale from the ``percentile``-th percentile of |ideal output| of a calibration batch."""
    mag = np.abs(np.asarray(ideal_ua, dtype=np.float64)).ravel()
    r = float(np.percentile(mag, percentile)) if mag.size else 0.0
    if r <= 0:  # all-zero calibration batch: fall back to the largest value seen, or 1 uA
        r = float(mag.max()) if mag.size and mag.max() > 0 else 1.0
    return r
