"""Periphery of the array: ADC resolution and the rule that sets its full-scale range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossbar.errors import InputError
from crossbar.readchain import adc_full_scale_ua, percentile_range

__all__ = ["Adc", "adc_full_scale_ua", "percentile_range"]


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


@dataclass(frozen=True)
class AdcCalibration:
    """Calibrated full scales of a set of tiles' ADCs (immutable: recalibrating makes a new one).

    ``ranges_ua[k]`` is the full-scale current of tile k's ADC (uA); every ADC has ``bits`` bits
    and the same signedness. `lsb_ua` / `code_max` give the kernels' per-tile arrays.
    """

    ranges_ua: tuple[float, ...]
    bits: int
    signed: bool = True
    rule: str = ""
    samples: int = 0

    @property
    def adcs(self) -> tuple[Adc, ...]:
        return tuple(Adc(self.bits, float(r), signed=self.signed) for r in self.ranges_ua)

    @property
    def lsb_ua(self) -> np.ndarray:
        """[n_tiles] float64 LSB per tile (uA)."""
        return np.array([a.lsb_ua for a in self.adcs], np.float64)

    @property
    def code_max(self) -> np.ndarray:
        """[n_tiles] float64 largest code magnitude per tile."""
        return np.array([float(a.code_max) for a in self.adcs], np.float64)
