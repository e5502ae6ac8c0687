"""Analog MVM of the macro: ideal arithmetic, noise statistics, ADC, tiling, energy ledger."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar import Adc, DifferentialMatrix, Macro


@pytest.fixture(scope="module")
def formed(ideal_spec):
    m = Macro(ideal_spec, n_arrays=4, seed=21)
    m.form(3.6)
    return m


def _spikes(b, n, p, seed=0):
    return (np.random.default_rng(seed).random((b, n)) < p).astype(np.uint8)


def test_noise_free_mvm_equals_matrix_product(formed):
    v = formed.spec.read.v_read
    x = _spikes(32, 512, 0.1)
    y = formed.mvm(x, differential=True, noise="off", adc=False)
    g = formed.g_us[0]
    np.testing.assert_allclose(y, v * x @ (g[:, 0::2] - g[:, 1::2]), rtol=1e-12, atol=1e-9)
    # single-ended columns and multi-level inputs
    xm = np.random.default_rng(1).random((8, 512))
    y = formed.mvm(xm, differential=False, noise="off", adc=False)
    np.testing.assert_allclose(y, v * xm @ g, rtol=1e-12)


@pytest.mark.parametrize("mode", ["percell", "output"])
def test_read_noise_variance_matches_closed_form(formed, mode):
    spec = formed.spec
    v = spec.read.v_read
    x = np.zeros((4000, 512), np.uint8)
    x[:, :64] = 1  # the same input repeated: the spread is pure read noise
    reg = formed.region(0, None, (0, 16))
    ideal = formed.mvm(x[:1], reg, differential=True, noise="off", adc=False)[0]
    y = formed.mvm(x, reg, differential=True, noise=mode, adc=False)
    g = formed.g_us[0, :, :16]
    sig2 = (spec.read.noise_relative * g) ** 2 + spec.read.noise_floor_us**2
    var = v**2 * (sig2[:64, 0::2] + sig2[:64, 1::2]).sum(0)
    # sample variance of n normals: relative std sqrt(2/n)
    np.testing.assert_allclose(y.var(0), var, rtol=5 * np.sqrt(2 / 4000))
    np.testing.assert_allclose(y.mean(0), ideal, atol=5 * np.sqrt(var / 4000).max())


def test_adc_error_within_half_lsb_inside_range_and_clips_outside(formed):
    x = _spikes(256, 512, 0.1, seed=2)
    ideal = formed.mvm(x, differential=True, noise="off", adc=False)
    adc = Adc(bits=6, range_ua=float(np.percentile(np.abs(ideal), 90)), signed=True)
    q = formed.mvm(x, differential=True, noise="off", adc=adc)
    inside = np.abs(ideal) <= adc.range_ua
    assert np.all(np.abs(q[inside] - ideal[inside]) <= adc.lsb_ua / 2 + 1e-12)
    assert np.all(np.abs(q[~inside]) == pytest.approx(adc.code_max * adc.lsb_ua))
    assert np.all(np.sign(q[~inside]) == np.sign(ideal[~inside]))
    codes = np.rint(q / adc.lsb_ua)
    assert codes.min() >= -31 and codes.max() <= 31  # 6-bit sign-magnitude
    # unsigned ADC on single-ended columns: codes 0 .. 2^b - 1
    u = Adc(bits=4, range_ua=50.0, signed=False)
    qs = formed.mvm(x, differential=False, noise="off", adc=u)
    assert qs.min() >= 0 and qs.max() <= 15 * u.lsb_ua + 1e-12


def test_tiling_700x300_equals_one_big_array(ideal_spec):
    small = Macro(ideal_spec, n_arrays=4, seed=22)
    small.form(3.6)
    dm = DifferentialMatrix(small, 700, 300)
    assert len(dm.tiles) == 4 and dm.n_arrays_used == 4
    gp, gm = dm.conductances()
    big_spec = ideal_spec.with_overrides(geometry={"rows": 700, "cols": 600})
    g_big = np.empty((700, 600))
    g_big[:, 0::2], g_big[:, 1::2] = gp, gm
    big = Macro.from_conductances(big_spec, g_big)
    one = DifferentialMatrix(big, 700, 300)
    assert len(one.tiles) == 1
    x = _spikes(50, 700, 0.15, seed=3)
    y_tiled = dm.mvm(x, noise="off", adc=False)
    y_big = one.mvm(x, noise="off", adc=False)
    np.testing.assert_allclose(y_tiled, y_big, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(y_tiled, ideal_spec.read.v_read * x @ (gp - gm), rtol=1e-12,
                               atol=1e-9)


def test_tiling_refuses_when_arrays_run_out(ideal_spec):
    from crossbar import InputError

    m = Macro(ideal_spec, n_arrays=2, seed=0)
    with pytest.raises(InputError, match="needs 4 arrays"):
        DifferentialMatrix(m, 700, 300)


def test_ir_drop_attenuates_large_column_currents(ideal_spec):
    m = Macro(ideal_spec, seed=23)
    m.form(4.0)
    x = _spikes(16, 512, 0.5, seed=4)
    reg = m.region(0, None, (0, 32))
    ideal = m.mvm(x, reg, noise="off", adc=False, ir_drop=False)
    dropped = m.mvm(x, reg, noise="off", adc=False, ir_drop=True)
    v = ideal_spec.read.v_read
    r = ideal_spec.periphery.r_wire_ohm * (512 + 2 * 32) / 2
    s_us = ideal / v
    np.testing.assert_allclose(dropped, v * s_us / (1 + r * s_us * 1e-6), rtol=1e-12)
    assert np.all(dropped < ideal)


def test_energy_ledger_counts_one_mvm(ideal_spec):
    m = Macro(ideal_spec, seed=24)
    m.form(3.6)
    m.ledger.reset()
    x = _spikes(10, 512, 0.2, seed=5)
    reg = m.region(0, None, (0, 64))
    m.mvm(x, reg, differential=True, noise="off", adc=True)
    led = m.ledger
    e = ideal_spec.energy
    r = ideal_spec.read
    g = m.g_us[0, :, :64]
    active = x.sum()
    assert led.counts["vectors"] == 10
    assert led.counts["wordline_activations"] == active
    assert led.counts["cell_reads"] == active * 64
    assert led.counts["adc_conversions"] == 10 * 32
    e_cells = r.v_read**2 * (x @ g.sum(1)).sum() * 1e-6 * r.t_read_ns * 1e-9
    assert led.energy_j["cell_read"] == pytest.approx(e_cells, rel=1e-12)
    assert led.energy_j["adc"] == pytest.approx(320 * e.e_adc_j)
    assert led.energy_j["wordline"] == pytest.approx(active * e.e_wordline_j)
    assert led.total_energy_j == pytest.approx(e_cells + 320 * e.e_adc_j + active * e.e_wordline_j)
    t_vec = r.t_read_ns + np.ceil(32 / ideal_spec.periphery.adcs_per_array) * \
        ideal_spec.periphery.t_adc_ns
    assert led.time_s["mvm"] == pytest.approx(10 * t_vec * 1e-9)


def test_bad_inputs_raise_input_error(formed):
    from crossbar import InputError

    with pytest.raises(InputError, match="rows"):
        formed.mvm(np.ones((2, 100)))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        formed.mvm(np.full((2, 512), 2.0))
    with pytest.raises(InputError, match="IR drop"):
        formed.mvm(np.ones((1, 512)), noise="output", ir_drop=True)
    with pytest.raises(InputError, match="forming voltage"):
        formed.form(7.0)
