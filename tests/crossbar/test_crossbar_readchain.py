"""The read chain (`crossbar.readchain`): numba functions vs their numpy reference and the
closed forms, in float64 and float32; the ADC full-scale rule."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from crossbar import readchain as rc
from crossbar import readchain_ref as rcr
from crossbar.device import read_sigma


@njit(cache=False)
def _chain_jit(i_ua, s_us, g_us, lsb, cmin, cmax, scale, v_read, r_ohm, k, s0):
    """Every numba read-chain function over arrays (elementwise), in the arrays' dtype."""
    n = i_ua.shape[0]
    code = np.empty_like(i_ua)
    value = np.empty_like(i_ua)
    scaled = np.empty_like(i_ua)
    ir = np.empty_like(i_ua)
    sig = np.empty_like(i_ua)
    for q in range(n):
        code[q] = rc.adc_code(i_ua[q], lsb, cmin, cmax)
        value[q] = rc.adc_value(i_ua[q], lsb, cmin, cmax)
        scaled[q] = rc.adc_code_scaled(i_ua[q], lsb, cmin, cmax, scale)
        ir[q] = rc.ir_drop(s_us[q], v_read, r_ohm)
        sig[q] = rc.read_sigma(g_us[q], k, s0)
    return code, value, scaled, ir, sig


def _inputs(dtype, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    lsb = dtype(0.375)  # exact in both precisions: i = m * lsb / 2 hits the rounding ties
    i_ua = np.concatenate([rng.normal(0, 40, n), np.arange(-300, 301) * (0.375 / 2)])
    s_us = rng.uniform(0, 3000, i_ua.size)
    g_us = rng.uniform(0, 200, i_ua.size)
    return i_ua.astype(dtype), s_us.astype(dtype), g_us.astype(dtype), lsb


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("r_ohm", [0.0, 750.0])
def test_numba_read_chain_equals_numpy_reference_bitwise(dtype, r_ohm):
    i_ua, s_us, g_us, lsb = _inputs(dtype)
    cmin, cmax, scale = dtype(-127), dtype(127), dtype(0.375) / dtype(0.1)
    # the kernels pass the wire resistance in float64 (the IR division then runs in float64)
    v, r, k, s0 = dtype(0.1), np.float64(r_ohm), dtype(0.03), dtype(0.5)
    got = _chain_jit(i_ua, s_us, g_us, lsb, cmin, cmax, scale, v, r, k, s0)
    want = (rcr.adc_code(i_ua, lsb, cmin, cmax), rcr.adc_value(i_ua, lsb, cmin, cmax),
            rcr.adc_code_scaled(i_ua, lsb, cmin, cmax, scale), rcr.ir_drop(s_us, v, r),
            rcr.read_sigma(g_us, k, s0))
    for a, b in zip(got, want):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, np.asarray(b, dtype))


def test_read_chain_closed_forms():
    i_ua, s_us, g_us, lsb = _inputs(np.float64)
    code = rcr.adc_code(i_ua, lsb, -127, 127)
    # round half to even, then clip at the rails
    q = i_ua / lsb
    expect = np.floor(q + 0.5)
    ties = (q - np.floor(q)) == 0.5
    expect[ties] = np.where(np.floor(q[ties]) % 2 == 0, np.floor(q[ties]), np.floor(q[ties]) + 1)
    np.testing.assert_array_equal(code, np.clip(expect, -127, 127))
    inside = np.abs(i_ua) <= 127 * lsb
    assert np.all(np.abs(rcr.adc_value(i_ua, lsb, -127, 127) - i_ua)[inside] <= lsb / 2)
    np.testing.assert_allclose(rcr.ir_drop(s_us, 0.1, 1000.0), 0.1 * s_us / (1 + 1e-3 * s_us),
                               rtol=1e-15)
    np.testing.assert_array_equal(rcr.ir_drop(s_us, 0.1, 0.0), 0.1 * s_us)
    np.testing.assert_allclose(rcr.read_sigma(g_us, 0.03, 0.5),
                               np.hypot(0.03 * g_us, 0.5), rtol=1e-15)
    assert rc.wire_resistance_ohm(2.0, 512, 200) == pytest.approx(2.0 * (512 + 400) / 2)


def test_adc_read_ideal_and_quantised_match_reference():
    i_ua, *_ = _inputs(np.float64, n=50)
    for lsb in (0.0, -1.0, 0.375):
        for q in range(i_ua.size):
            v, c = rc.adc_read(i_ua[q], lsb, -7, 7)
            rv, rcode = rcr.adc_read(i_ua[q:q + 1], lsb, -7, 7)
            assert v == rv[0] and c == rcode[0]
    v, c = rcr.adc_read(i_ua, 0.0, -7, 7)
    np.testing.assert_array_equal(v, i_ua)
    assert not c.any()


def test_device_read_sigma_is_the_read_chain(spec):
    g = np.linspace(0, 250, 101)
    r = spec.read
    np.testing.assert_allclose(read_sigma(spec, g),
                               np.sqrt((r.noise_relative * g) ** 2 + r.noise_floor_us**2),
                               rtol=1e-15)


def test_full_scale_rules(spec):
    rng = np.random.default_rng(3)
    cur = rng.normal(0, 10, (200, 30))
    calls = []

    def ideal():
        calls.append(1)
        return cur

    pct = spec.with_overrides(periphery={"adc_range_rule": "percentile", "adc_percentile": 99.0})
    assert rc.adc_full_scale_ua(pct, 40, ideal) == pytest.approx(np.percentile(np.abs(cur), 99.0))
    assert rc.adc_full_scale_ua(pct, 40, ideal, percentile=50.0) == pytest.approx(
        np.median(np.abs(cur)))
    assert rc.adc_full_scale_ua(pct, 40, lambda: np.zeros(5)) == 1.0  # all-zero batch
    mx = spec.with_overrides(periphery={"adc_range_rule": "max"})
    g_top = max(spec.forming.g_formed_max_us, spec.switching.g_max_us)
    n_calls = len(calls)
    assert rc.adc_full_scale_ua(mx, 40, ideal) == pytest.approx(spec.read.v_read * g_top * 40)
    fx = spec.with_overrides(periphery={"adc_range_rule": "fixed", "adc_fixed_range_ua": 12.5})
    assert rc.adc_full_scale_ua(fx, 40, ideal) == 12.5
    assert len(calls) == n_calls  # the ideal currents are computed only for the percentile rule
