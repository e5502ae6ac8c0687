"""The torch read chain (`rram_lsm.lsm.torch_readchain`) against the numpy reference
(`crossbar.readchain_ref`), with the dtypes the engines use."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crossbar import readchain_ref as rcr  # noqa: E402
from rram_lsm.lsm import torch_readchain as trc  # noqa: E402


def _cur(dtype, seed=0):
    rng = np.random.default_rng(seed)
    # normal currents plus every multiple of lsb / 2 (rounding ties) out past the rails
    return np.concatenate([rng.normal(0, 40, 3000),
                           np.arange(-300, 301) * (0.375 / 2)]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adc_in_the_working_dtype_equals_reference(dtype):
    cur = _cur(dtype)
    lsb, cmax, v = dtype(0.375), dtype(127), dtype(0.1)
    t = torch.from_numpy(cur)
    got = trc.adc_code(t, float(lsb), -float(cmax), float(cmax)).numpy()
    np.testing.assert_array_equal(got, rcr.adc_code(cur, lsb, -cmax, cmax))
    got = trc.adc_code_scaled(t, float(lsb), -float(cmax), float(cmax), float(lsb / v)).numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, rcr.adc_code_scaled(cur, lsb, -cmax, cmax, lsb / v))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adc_value_rounds_in_float64(dtype):
    cur = _cur(dtype, seed=1)
    got = trc.adc_value(torch.from_numpy(cur), 0.375, -31.0, 31.0).numpy()
    assert got.dtype == dtype
    want = rcr.adc_value(cur.astype(np.float64), 0.375, -31, 31).astype(dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("r_ohm", [0.0, 750.0])
def test_ir_drop_and_read_sigma_equal_reference(r_ohm):
    s = np.random.default_rng(2).uniform(0, 3000, 500)
    got = trc.ir_drop(torch.from_numpy(s), 0.1, r_ohm).numpy()
    np.testing.assert_allclose(got, rcr.ir_drop(s, 0.1, r_ohm), rtol=1e-15, atol=0)
    g = s / 10
    np.testing.assert_allclose(trc.read_sigma(torch.from_numpy(g), 0.03, 0.5).numpy(),
                               rcr.read_sigma(g, 0.03, 0.5), rtol=1e-15, atol=0)
