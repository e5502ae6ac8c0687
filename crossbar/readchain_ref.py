"""Numpy reference of `crossbar.readchain` (the read chain's numba functions), on arrays.

Used by the plain references of the crossbar kernels (`crossbar.reference`), of the LSM kernels
(`rram_lsm.lsm.reference`) and by code that needs the read chain on whole arrays
(`crossbar.device.read_sigma`). Each function computes in the type of its arguments (numpy's
promotion rules), exactly the expression of its numba twin.
"""

from __future__ import annotations

import numpy as np


def read_sigma(g_us, noise_relative: float, noise_floor_us: float):
    """sigma(G) = sqrt((k G)^2 + sigma0^2) (uS), elementwise."""
    return np.sqrt((noise_relative * g_us) ** 2 + noise_floor_us**2)


def ir_drop(s_us, v_read: float, r_ohm: float):
    """I = V S / (1 + r S) (uA; S in uS converted to siemens); r <= 0: I = V S."""
    if r_ohm > 0:
        return v_read * s_us / (1.0 + r_ohm * s_us * 1e-6)
    return v_read * s_us


def adc_code(i_ua, lsb_ua, code_min, code_max):
    """clip(rint(I / lsb), code_min, code_max) (needs lsb > 0)."""
    return np.clip(np.rint(i_ua / lsb_ua), code_min, code_max)


def adc_value(i_ua, lsb_ua, code_min, code_max):
    """adc_code * lsb (uA)."""
    return adc_code(i_ua, lsb_ua, code_min, code_max) * lsb_ua


def adc_code_scaled(i_ua, lsb_ua, code_min, code_max, scale):
    """adc_code * scale."""
    return adc_code(i_ua, lsb_ua, code_min, code_max) * scale


def adc_read(i_ua, lsb_ua: float, code_min: int, code_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(values float64 uA, codes int32) of currents; ``lsb_ua`` <= 0: ideal (codes 0)."""
    i_ua = np.asarray(i_ua, dtype=np.float64)
    if lsb_ua <= 0:
        return i_ua.copy(), np.zeros(i_ua.shape, np.int32)
    codes = adc_code(i_ua, lsb_ua, code_min, code_max)
    return codes * lsb_ua, codes.astype(np.int32)
