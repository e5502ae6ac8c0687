"""The engines compute one function: numba, torch (CPU/CUDA) and the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rram_lsm.lsm import LiquidStateMachine, LSMConfig


def frames(n=24, t=25, n_in=30, p=0.15, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, t, n_in)) < p).astype(np.uint8)


def cfg(**kw):
    base = {"n_inputs": 30, "n_neurons": 20, "n_steps": 25, "decay": 0.9, "v_th": 5.0,
            "const": 0.02, "dtype": "float64", "seed": 5, "features": ["rate", "final_mem"]}
    base.update(kw)
    return LSMConfig.from_dict(base)


CASES = {
    "gaussian": {"weights": {"source": "gaussian"}},
    "macro-ideal": {"analog": {"noise": "off", "adc": False}},
    "macro-adc": {"analog": {"noise": "off", "adc": True, "adc_bits": 6}},
    "two-constants-adc": {"const_rec": 0.01, "analog": {"noise": "off", "adc": True}},
    "subtract-windows": {"reset": "subtract", "features": ["windows"], "n_windows": 5,
                         "analog": {"noise": "off", "adc": True}},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engines_identical_with_noise_off_float64(case):
    lsm = LiquidStateMachine(cfg(**CASES[case]))
    x = frames()
    lsm.calibrate(x)
    out = {e: lsm.encode(x, engine=e, batch_size=10, record_raster=True)
           for e in ("numba", "torch", "reference")}
    r = out["numba"].raster
    assert 0 < r.mean() < 0.9
    for e in ("torch", "reference"):
        np.testing.assert_array_equal(out[e].raster, r, err_msg=e)
        np.testing.assert_allclose(out[e].final_mem, out["numba"].final_mem, rtol=1e-9,
                                   atol=1e-9)
        np.testing.assert_array_equal(out[e].window_counts, out["numba"].window_counts)
    lt, ln = out["torch"].ledger, out["numba"].ledger
    if case == "gaussian":
        assert lt == ln == {}
    else:
        assert lt["counts"] == ln["counts"]
        assert lt["total_energy_j"] == pytest.approx(ln["total_energy_j"], rel=1e-12)


def test_reference_engine_equals_numba_with_noise_bitwise():
    lsm = LiquidStateMachine(cfg(analog={"noise": "output", "adc": True}))
    x = frames(n=8)
    a = lsm.encode(x, engine="numba", record_raster=True)
    b = lsm.encode(x, engine="reference", record_raster=True)
    np.testing.assert_array_equal(a.raster, b.raster)
    np.testing.assert_array_equal(a.final_mem, b.final_mem)


@pytest.mark.parametrize("noise", ["output", "percell"])
def test_torch_matches_numba_statistics_with_noise(noise):
    # large relative noise so that it matters; many samples for the statistics
    spec_over = {"noise": noise, "adc": True}
    c = cfg(n_inputs=40, n_neurons=40, const=0.01, analog=spec_over)
    lsm = LiquidStateMachine(c)
    if noise == "percell":
        lsm.synapses.__dict__["sigmas"] = tuple(0.3 * g + 0.5 for g in
                                                (lsm.synapses.gp, lsm.synapses.gm))
    else:
        lsm.synapses.__dict__["s2"] = (0.3 * lsm.synapses.gp + 0.5) ** 2 \
            + (0.3 * lsm.synapses.gm + 0.5) ** 2
    x = frames(n=300, n_in=40, p=0.2)
    lsm.calibrate(x)
    a = lsm.encode(x, engine="numba", record_raster=True)
    b = lsm.encode(x, engine="torch", record_raster=True)
    ideal = lsm.with_constant(0.01)
    ideal.synapses.noise = "off"
    ideal.calibrate(x)
    c_ = ideal.encode(x, record_raster=True)
    ra, rb, rc = (e.rates.mean(axis=0) for e in (a, b, c_))
    # noise changes individual spikes ...
    assert np.mean(a.raster != c_.raster) > 0.01
    assert np.mean(a.raster != b.raster) > 0.01
    # ... but both noisy engines agree on the statistics, closer than either to the ideal
    assert abs(ra.mean() - rb.mean()) < 0.01
    assert np.abs(ra - rb).mean() < 0.5 * np.abs(ra - rc).mean() + 0.005
    np.testing.assert_allclose(ra, rb, atol=0.05)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_engine_on_cuda_matches_cpu():
    lsm = LiquidStateMachine(cfg(analog={"noise": "off", "adc": True}))
    x = frames()
    a = lsm.encode(x, engine="torch", device="cpu", record_raster=True)
    b = lsm.encode(x, engine="torch", device="cuda", record_raster=True)
    np.testing.assert_array_equal(a.raster, b.raster)


def test_cuda_request_without_cuda_is_a_config_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    from rram_lsm.errors import ConfigError

    lsm = LiquidStateMachine(cfg(weights={"source": "gaussian"}))
    with pytest.raises(ConfigError, match="CUDA"):
        lsm.encode(frames(), engine="torch", device="cuda")
