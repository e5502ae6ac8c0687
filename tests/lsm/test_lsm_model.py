"""LiquidStateMachine: weight sources, layout on the macro, ADC calibration, ledger, features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossbar import DifferentialMatrix, Macro
from crossbar.ledger import Ledger
from crossbar.macro import book_mvm
from rram_lsm.errors import ConfigError, DataError, InputError
from rram_lsm.lsm import LiquidStateMachine, LSMConfig, firing_stats, load_lsm_config
from rram_lsm.lsm.reference import lif_dense_ref

ROOT = Path(__file__).resolve().parents[2]


def frames(n=12, t=20, n_in=24, p=0.15, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, t, n_in)) < p).astype(np.uint8)


def cfg(**kw):
    base = {"n_inputs": 24, "n_neurons": 16, "n_steps": 20, "decay": 0.9, "v_th": 5.0,
            "const": 0.02, "dtype": "float64", "seed": 3}
    base.update(kw)
    return LSMConfig.from_dict(base)


IDEAL = {"noise": "off", "adc": False, "faults": False}


@pytest.fixture(scope="module")
def small_preset(small_preset_file) -> str:
    """The default preset with 32 x 32 arrays (forces tiling), as a YAML file."""
    return small_preset_file(32, 32, "small-test")


def test_gaussian_source_is_dense_textbook_lif():
    lsm = LiquidStateMachine(cfg(weights={"source": "gaussian"}))
    x = frames()
    enc = lsm.encode(x, record_raster=True)
    r, u = lif_dense_ref(x, lsm.w_in, lsm.w_rec, 0.02, 0.02, 0.9, 5.0)
    np.testing.assert_array_equal(enc.raster.astype(bool), r)
    np.testing.assert_allclose(enc.final_mem, u, rtol=1e-6, atol=1e-5)
    assert enc.ledger == {}


def test_gaussian_statistics_fitted_to_the_macro():
    c = cfg(weights={"source": "gaussian"}, n_inputs=256, n_neurons=200)
    lsm = LiquidStateMachine(c)
    m = Macro("rram-40nm-256kb", n_arrays=1, seed=3)
    m.form(m.spec.forming.v_default)
    w = m.g_us[0, :, 0::2] - m.g_us[0, :, 1::2]
    info = lsm.synapses.info
    assert info["gaussian_mean_us"] == pytest.approx(w.mean())
    assert info["gaussian_std_us"] == pytest.approx(w.std())
    assert lsm.synapses.w.std() == pytest.approx(w.std(), rel=0.02)
    given = LiquidStateMachine(cfg(weights={"source": "gaussian", "gaussian_mean_us": 1.0,
                                            "gaussian_std_us": 2.0}))
    assert given.synapses.w.mean() == pytest.approx(1.0, abs=0.3)
    assert given.synapses.w.std() == pytest.approx(2.0, rel=0.15)


def test_macro_without_nonidealities_equals_ideal_arithmetic_on_same_weights():
    lsm = LiquidStateMachine(cfg(analog=IDEAL))
    m = lsm.macro
    dm = DifferentialMatrix(m, 40, 16)
    np.testing.assert_array_equal(lsm.synapses.w, dm.weights_us())  # W_in above W_rec
    x = frames()
    enc = lsm.encode(x, record_raster=True)
    r, u = lif_dense_ref(x, lsm.w_in, lsm.w_rec, 0.02, 0.02, 0.9, 5.0)
    assert enc.raster.any()
    np.testing.assert_array_equal(enc.raster.astype(bool), r)
    np.testing.assert_allclose(enc.final_mem, u, rtol=1e-9, atol=1e-9)


def test_paper_layout_fits_one_array():
    lsm = LiquidStateMachine(LSMConfig.for_modality("image", seed=1))
    syn = lsm.synapses
    assert lsm.macro.n_arrays == 1 and len(syn.tiles) == 1
    t = syn.tiles[0]
    assert (t.in_lo, t.in_hi, t.out_lo, t.out_hi) == (0, 456, 0, 200)
    two = LiquidStateMachine(LSMConfig.for_modality("image", seed=1, const_rec=0.004))
    assert two.macro.n_arrays == 1
    assert [(t.in_lo, t.in_hi, t.group) for t in two.synapses.tiles] == [(0, 256, 0),
                                                                          (256, 456, 1)]
    np.testing.assert_array_equal(two.synapses.w, syn.w)  # same cells, two read phases


def test_tiling_over_arrays_matches_ideal_and_crossbar_mvm(small_preset):
    c = cfg(n_inputs=40, n_neurons=20, weights={"preset": small_preset}, analog=IDEAL)
    lsm = LiquidStateMachine(c)
    syn = lsm.synapses
    assert lsm.macro.n_arrays == 4  # 60 rows over 32-row arrays x 20 outputs over 16 pairs
    assert sorted((t.in_lo, t.in_hi, t.out_lo, t.out_hi) for t in syn.tiles) == [
        (0, 32, 0, 16), (0, 32, 16, 20), (32, 60, 0, 16), (32, 60, 16, 20)]
    x = frames(n_in=40)
    enc = lsm.encode(x, record_raster=True)
    r, _ = lif_dense_ref(x, lsm.w_in, lsm.w_rec, 0.02, 0.02, 0.9, 5.0)
    np.testing.assert_array_equal(enc.raster.astype(bool), r)


def test_one_step_with_adc_equals_crossbar_differential_mvm(small_preset):
    c = cfg(n_inputs=40, n_neurons=20, n_steps=1, weights={"preset": small_preset},
            analog={"noise": "off", "adc": True, "faults": False})
    lsm = LiquidStateMachine(c)
    x = frames(n=30, t=1, n_in=40, p=0.4)
    ranges = lsm.calibrate(x)
    enc = lsm.encode(x)
    dm = DifferentialMatrix(lsm.macro, 60, 20)
    dm.adc_ranges_ua = ranges  # the same tile order (rows, then outputs)
    z = np.concatenate([x[:, 0], np.zeros((30, 20), np.uint8)], axis=1)
    cur = dm.mvm(z, noise="off", adc=True)
    expect = 0.02 * cur / lsm.macro.spec.read.v_read
    np.testing.assert_allclose(enc.final_mem, expect, rtol=1e-9, atol=1e-9)
    # the ADC quantises: the result differs from the ideal product
    assert not np.allclose(enc.final_mem, 0.02 * (z @ dm.weights_us()), rtol=1e-6)


def test_calibration_is_a_percentile_of_ideal_currents():
    c = cfg(analog={"noise": "output", "adc": True, "calibration_samples": 5})
    lsm = LiquidStateMachine(c)
    x = frames()
    (rng_ua,) = lsm.calibrate(x)
    ideal = LiquidStateMachine(cfg(analog={"noise": "off", "adc": False}))
    rast = ideal.encode(x[:5], record_raster=True).raster
    prev = np.concatenate([np.zeros_like(rast[:, :1]), rast[:, :-1]], axis=1)
    z = np.concatenate([x[:5], prev], axis=2).astype(float)
    cur = 0.1 * (z @ lsm.synapses.w_cal)
    assert rng_ua == pytest.approx(np.percentile(np.abs(cur), 99.9))
    cal = lsm.adc_calibration
    assert cal.code_max[0] == 127 and cal.lsb_ua[0] == pytest.approx(rng_ua / 127)


def test_ledger_books_every_step_like_book_mvm():
    lsm = LiquidStateMachine(cfg(analog={"noise": "output", "adc": True}))
    x = frames()
    before = lsm.macro.ledger.report()
    enc = lsm.encode(x, batch_size=5, record_raster=True)
    prev = np.concatenate([np.zeros_like(enc.raster[:, :1]), enc.raster[:, :-1]], axis=1)
    z = np.concatenate([x, prev], axis=2)
    gp, gm = lsm.synapses.gp, lsm.synapses.gm
    expect = Ledger()
    for t in range(x.shape[1]):
        book_mvm(lsm.macro.spec, expect, z[:, t], gp, gm, n_out=16, adc_used=True)
    got = enc.ledger
    exp = expect.report()
    assert got["counts"] == exp["counts"]
    for k in exp["energy_j"]:
        assert got["energy_j"][k] == pytest.approx(exp["energy_j"][k], rel=1e-9, abs=1e-30)
    assert got["total_time_s"] == pytest.approx(exp["total_time_s"], rel=1e-12)
    after = lsm.macro.ledger.report()  # the macro's own ledger counts the encode too
    assert after["counts"]["adc_conversions"] - before["counts"]["adc_conversions"] == \
        12 * 20 * 16


def test_drift_changes_weights_not_the_adc_range():
    c = cfg(analog={"noise": "off", "adc": True, "drift_s": 1e6})
    lsm = LiquidStateMachine(c)
    syn = lsm.synapses
    assert lsm.macro.clock_s > 1e6
    dm = DifferentialMatrix(lsm.macro, 40, 16)
    np.testing.assert_allclose(syn.w, dm.weights_us())
    assert np.abs(syn.w).sum() < np.abs(syn.w_cal).sum()  # relaxation lowers |G+ - G-|
    fresh = LiquidStateMachine(cfg(analog={"noise": "off", "adc": True}))
    np.testing.assert_array_equal(syn.w_cal, fresh.synapses.w)
    assert lsm.calibrate(frames()) == fresh.calibrate(frames())


def test_faults_switch():
    with_f = LiquidStateMachine(cfg(n_inputs=256, n_neurons=200))
    without = LiquidStateMachine(cfg(n_inputs=256, n_neurons=200, analog={"faults": False}))
    from crossbar import kernels as CK

    assert np.any(with_f.macro.status >= CK.STUCK_LOW)
    assert not np.any(without.macro.status >= CK.STUCK_LOW)


def test_form_voltage_sets_sparsity():
    lo = LiquidStateMachine(cfg(weights={"form_voltage": 3.3}))
    hi = LiquidStateMachine(cfg(weights={"form_voltage": 3.9}))
    assert lo.synapses.info["formed_fraction"] < 0.2 < 0.8 < hi.synapses.info["formed_fraction"]


def _saved_map(tmp_path, lsm, kind):
    g = np.array(lsm.macro.g_us)
    if kind == "npy":
        p = tmp_path / "g.npy"
        np.save(p, g)
    elif kind == "csv":
        p = tmp_path / "g.csv"
        np.savetxt(p, g[0, :40, :32], delimiter=",")  # just the logical block
    else:
        p = tmp_path / "state.npz"
        lsm.macro.save(p)
    return p


@pytest.mark.parametrize("kind", ["npy", "csv", "npz"])
def test_measured_map_reproduces_macro_weights(tmp_path, kind):
    lsm = LiquidStateMachine(cfg(analog=IDEAL))
    p = _saved_map(tmp_path, lsm, kind)
    meas = LiquidStateMachine(cfg(analog=IDEAL, weights={"source": "measured", "path": str(p)}))
    np.testing.assert_allclose(meas.synapses.w, lsm.synapses.w, rtol=1e-12, atol=1e-12)
    x = frames()
    np.testing.assert_array_equal(meas.encode(x).window_counts, lsm.encode(x).window_counts)


def test_measured_map_errors(tmp_path):
    small = tmp_path / "small.npy"
    np.save(small, np.ones((10, 10)))
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\nx,y\n")
    neg = tmp_path / "neg.npy"
    np.save(neg, -np.ones((40, 32)))
    ohms = tmp_path / "ohms.npy"  # a full-geometry readback in the wrong unit
    np.save(ohms, np.full((512, 512), 1e5))
    for p in (small, bad, neg, ohms, tmp_path / "missing.npy"):
        with pytest.raises(DataError):
            LiquidStateMachine(cfg(weights={"source": "measured", "path": str(p)}))
    with pytest.raises(ConfigError, match="weights.path"):
        cfg(weights={"source": "measured"})


def test_features_layout_and_consistency():
    c = cfg(features=["rate", "windows", "count", "final_mem"], n_windows=4,
            weights={"source": "gaussian"})
    enc = LiquidStateMachine(c).encode(frames(), record_raster=True)
    n = 16
    assert enc.layout == [("rate", n), ("windows", 4 * n), ("count", n), ("final_mem", n)]
    f = enc.features
    assert f.shape == (12, 7 * n) and f.dtype == np.float32
    counts = enc.raster.sum(axis=1)
    np.testing.assert_allclose(f[:, :n], counts / 20, rtol=1e-6)
    np.testing.assert_array_equal(f[:, n:5 * n].reshape(12, 4, n).sum(axis=1), counts)
    np.testing.assert_array_equal(f[:, 5 * n:6 * n], counts)
    np.testing.assert_allclose(f[:, 6 * n:], enc.final_mem)
    np.testing.assert_array_equal(enc.raster[:, 5:10].sum(axis=1), enc.window_counts[:, 1])


def test_firing_stats_by_hand():
    rates = np.array([[0.0, 0.5, 1.0, 0.0], [0.0, 0.1, 0.95, 0.0]])
    st = firing_stats(rates)
    assert st["mean_rate"] == pytest.approx(rates.mean())
    assert st["silent_fraction"] == 0.5
    assert st["saturated_fraction"] == 0.25
    assert st["silent_sample_fraction"] == 0.0


def test_batching_seeds_and_noise_keys():
    lsm = LiquidStateMachine(cfg())
    x = frames(n=20)
    a = lsm.encode(x, batch_size=20).window_counts
    b = lsm.encode(x, batch_size=3).window_counts
    np.testing.assert_array_equal(a, b)
    again = LiquidStateMachine(cfg()).encode(x).final_mem
    np.testing.assert_array_equal(again, lsm.encode(x).final_mem)
    other_key = lsm.encode(x, noise_key=1).final_mem
    assert not np.array_equal(other_key, again)
    other_seed = LiquidStateMachine(cfg(), seed=4)
    assert not np.array_equal(other_seed.synapses.w, lsm.synapses.w)
    np.testing.assert_array_equal(lsm.raster(x, 7), lsm.encode(x, record_raster=True).raster[7])


def test_with_constant_shares_weights_and_recalibrates():
    lsm = LiquidStateMachine(cfg())
    x = frames()
    r1 = lsm.calibrate(x)
    hi = lsm.with_constant(0.06)
    assert hi.synapses.w is lsm.synapses.w
    assert lsm.calibrated and not hi.calibrated  # the calibration belongs to the LSM
    assert hi.adc_calibration is None and lsm.adc_calibration is not None
    assert hi.encode(x).firing_stats()["mean_rate"] > lsm.encode(x).firing_stats()["mean_rate"]
    assert hi.calibrate(x) != r1  # other dynamics, other currents
    assert lsm.calibrate(x) == r1


def test_input_and_config_errors():
    lsm = LiquidStateMachine(cfg(weights={"source": "gaussian"}))
    with pytest.raises(InputError, match="inputs"):
        lsm.encode(np.zeros((2, 20, 5), np.uint8))
    with pytest.raises(InputError, match="steps"):
        lsm.encode(np.zeros((2, 7, 24), np.uint8))
    with pytest.raises(InputError, match="binary"):
        lsm.encode(np.zeros((2, 20, 24), np.float32))
    with pytest.raises(ConfigError, match="unknown key"):
        LSMConfig.from_dict({"n_neurons": 5, "bogus": 1})
    with pytest.raises(ConfigError, match="decay"):
        LSMConfig.from_dict({"decay": 1.5})
    with pytest.raises(ConfigError, match="ir_drop"):
        LSMConfig.from_dict({"analog": {"ir_drop": True}})
    with pytest.raises(ConfigError, match="features"):
        LSMConfig.from_dict({"features": ["rate", "spikes"]})


def test_shipped_configs_load():
    img = load_lsm_config(ROOT / "configs" / "lsm" / "image.yaml")
    aud = load_lsm_config(ROOT / "configs" / "lsm" / "audio.yaml")
    assert (img.n_inputs, img.n_neurons, img.n_steps, img.decay, img.v_th) == \
        (256, 200, 50, 0.9, 5.0)
    assert (aud.n_inputs, aud.n_neurons, aud.n_steps, aud.decay, aud.v_th) == \
        (64, 200, 129, 0.97, 5.3)
    assert img == LSMConfig.for_modality("image", weights=img.weights.model_dump(),
                                         analog=img.analog.model_dump(), seed=10)
