"""The read chain of `crossbar.readchain` on torch tensors (the torch engine's copy, once).

Same expressions as the numba functions and their numpy reference `crossbar.readchain_ref`;
the tests compare the three. Units: conductance uS, current uA, resistance ohm.
"""

from __future__ import annotations

import torch


def read_sigma(g_us: torch.Tensor, noise_relative: float, noise_floor_us: float) -> torch.Tensor:
    """sigma(G) = sqrt((k G)^2 + sigma0^2) (uS), elementwise."""
    return torch.sqrt((noise_relative * g_us) ** 2 + noise_floor_us**2)


def ir_drop(s_us: torch.Tensor, v_read: float, r_ohm: float) -> torch.Tensor:
    """First-order IR drop: I = V S / (1 + r S) (uA; S in uS); ``r_ohm`` <= 0: I = V S."""
    if r_ohm > 0:
        return v_read * s_us / (1.0 + r_ohm * s_us * 1e-6)
    return v_read * s_us


def adc_code(cur: torch.Tensor, lsb: float, code_min: float, code_max: float) -> torch.Tensor:
    """ADC code rint(I / lsb) (half to even) clipped to [code_min, code_max], in the dtype of
    ``cur`` (needs lsb > 0)."""
    return torch.clamp(torch.round(cur / lsb), code_min, code_max)


def adc_code_scaled(cur: torch.Tensor, lsb: float, code_min: float, code_max: float,
                    scale: float) -> torch.Tensor:
    """ADC code times ``scale``, in the working dtype (as the numba LSM kernel's noise-off and
    output-noise paths)."""
    return adc_code(cur, lsb, code_min, code_max).mul_(scale)


def adc_value(cur: torch.Tensor, lsb: float, code_min: float, code_max: float) -> torch.Tensor:
    """Dequantised ADC output code * lsb (uA), rounded in float64 (as the numba LSM kernel's
    per-cell path) and returned in the dtype of ``cur``."""
    c64 = cur.to(torch.float64)
    return (adc_code(c64, lsb, code_min, code_max) * lsb).to(cur.dtype)
