"""Device physics of the macro against closed-form expectations."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar import Macro
from crossbar import kernels as K
from crossbar.device import breakdown_cdf, formed_distribution


def _z_bound(p: float, n: int, z: float = 5.0) -> float:
    """z-sigma sampling bound of a binomial fraction."""
    return z * np.sqrt(p * (1 - p) / n) + 1e-12


@pytest.mark.parametrize("voltage", [3.3, 3.6, 3.9])
def test_formed_fraction_follows_breakdown_cdf(ideal_spec, voltage):
    m = Macro(ideal_spec, seed=1)
    frac = m.form(voltage)
    expected = float(breakdown_cdf(ideal_spec, voltage))
    assert abs(frac - expected) < _z_bound(expected, m.n_cells)


def test_formed_conductance_statistics_match_truncated_normal(ideal_spec):
    m = Macro(ideal_spec, seed=2)
    m.form(3.7)
    g = m.g_us[m.formed_mask()]
    dist = formed_distribution(ideal_spec)
    n = g.size
    assert abs(g.mean() - dist.mean()) < 5 * dist.std() / np.sqrt(n)
    # std of the sample std ~ sigma / sqrt(2n) for near-normal data
    assert abs(g.std() - dist.std()) < 5 * dist.std() / np.sqrt(2 * n)
    assert g.min() >= ideal_spec.forming.g_formed_threshold_us
    assert g.max() <= ideal_spec.forming.g_formed_max_us
    # pristine cells stay around 10 MOhm (log-normal median 0.1 uS)
    gp = m.g_us[~m.formed_mask()]
    assert np.median(gp) == pytest.approx(ideal_spec.pristine.g_median_us, rel=0.02)


def test_sparsity_decreases_monotonically_with_forming_voltage(ideal_spec):
    fractions = []
    for v in np.arange(3.0, 4.45, 0.1):
        m = Macro(ideal_spec, seed=3)  # same die each time
        fractions.append(m.form(float(v)))
    assert all(b > a for a, b in zip(fractions, fractions[1:]))


def test_incremental_forming_on_a_formed_die_only_adds_cells(ideal_spec):
    m = Macro(ideal_spec, seed=4)
    f1 = m.form(3.5)
    before = m.status == K.FORMED
    f2 = m.form(3.8)
    assert f2 > f1
    # formed cells stay formed (their conductance only relaxes slightly with time)
    assert np.all(m.status[before] == K.FORMED)


def test_form_sweep_stops_at_each_cells_breakdown_step(ideal_spec):
    m = Macro(ideal_spec, seed=5)
    region = m.region(0, (0, 32), (0, 32))
    v_form = m.form_sweep(4.0, region)
    cells = m.region_cells(region)
    vbd = m.cells.vbd[cells]
    f = ideal_spec.forming
    grid = np.arange(f.v_start, 4.0 + 1e-9, f.v_step)
    formed = ~np.isnan(v_form)
    # a cell forms at the first grid voltage >= its breakdown voltage
    expected = np.array([grid[np.searchsorted(grid, v - 1e-9)] if v <= grid[-1] else np.nan
                         for v in vbd])
    np.testing.assert_array_equal(formed, ~np.isnan(expected))
    # ... and the verify read sees it at once unless its conductance sits within read noise of
    # the 50 uS threshold (then a later verify catches it: one step late)
    clear = m.cells.g_latent[cells] > f.g_formed_threshold_us * 1.1
    np.testing.assert_allclose(v_form[formed & clear], expected[formed & clear], atol=1e-9)
    assert np.all(v_form[formed] >= expected[formed] - 1e-9)


def test_stuck_fractions_match_rates(spec):
    m = Macro(spec, seed=6)
    m.form(4.5)  # nearly everything forms, except stuck-low cells
    st = m.status
    n = m.n_cells
    p_low, p_high = spec.faults.stuck_low_rate, spec.faults.stuck_high_rate
    assert abs(np.mean(st == K.STUCK_LOW) - p_low) < _z_bound(p_low, n)
    assert abs(np.mean(st == K.STUCK_HIGH) - p_high) < _z_bound(p_high, n)
    g = m.g_us
    assert np.all(g[st == K.STUCK_LOW] == spec.faults.g_stuck_low_us)
    assert np.all(g[st == K.STUCK_HIGH] == spec.faults.g_stuck_high_us)


def test_drift_follows_power_law(ideal_spec):
    m = Macro(ideal_spec, seed=7)
    m.form(3.7)
    formed = m.status == K.FORMED
    t_prog = m.cells.t_prog.reshape(m.shape)[formed]
    g0 = m.g_us[formed].copy()
    dt = 1e4
    m.advance(dt)
    t0 = ideal_spec.drift.t0_s
    nu = m.cells.nu.reshape(m.shape)[formed]
    ratio = ((m.clock_s - t_prog + t0) / t0) / ((m.clock_s - dt - t_prog + t0) / t0)
    np.testing.assert_allclose(m.g_us[formed], g0 * ratio ** (-nu), rtol=1e-12)
    # the mean relative change matches E[r^-nu] for nu ~ N(mu, s^2): exp(-mu ln r + s^2 ln^2 r / 2)
    lr = np.log((dt + t0) / t0)
    mu, s = ideal_spec.drift.nu_mean, ideal_spec.drift.nu_std
    expect = np.exp(-mu * lr + 0.5 * (s * lr) ** 2)
    rel = m.g_us[formed] / m.cells.g_prog.reshape(m.shape)[formed]
    assert rel.mean() == pytest.approx(expect, abs=5 * rel.std() / np.sqrt(formed.sum()))
    # pristine cells do not drift
    pristine = m.status == K.PRISTINE
    assert np.all(m.g_us[pristine] == m.cells.g_prog.reshape(m.shape)[pristine])


def test_same_seed_same_state_different_seed_different_state(spec):
    a, b, c = Macro(spec, seed=11), Macro(spec, seed=11), Macro(spec, seed=12)
    for m in (a, b, c):
        m.form(3.6)
    np.testing.assert_array_equal(a.g_us, b.g_us)
    assert not np.array_equal(a.g_us, c.g_us)
    x = (np.random.default_rng(0).random((4, 512)) < 0.2).astype(np.uint8)
    np.testing.assert_array_equal(a.mvm(x, differential=True), b.mvm(x, differential=True))


def test_set_and_reset_pulses_move_conductance_within_bounds(ideal_spec):
    m = Macro(ideal_spec, seed=8)
    m.form(4.5)
    cells = np.flatnonzero(m.cells.status == K.FORMED)[:2000]
    g0 = m.g_us.reshape(-1)[cells].copy()
    sw = ideal_spec.switching
    m.apply_ops(np.full(cells.size, K.OP_RESET), cells, 1.5, t_ns=100.0)
    g1 = m.g_us.reshape(-1)[cells].copy()
    assert np.all(g1 <= g0 + 1e-9) and np.mean(g1 < g0) > 0.95
    assert np.all(g1 >= sw.g_min_us * 0.99)
    m.apply_ops(np.full(cells.size, K.OP_SET), cells, 1.2, t_ns=100.0)
    g2 = m.g_us.reshape(-1)[cells]
    assert np.all(g2 >= g1 - 1e-9) and np.mean(g2 > g1) > 0.95
    assert np.all(g2 <= sw.g_max_us * 1.01)
    # the mean RESET step equals the model's expectation: (g - g_min) * rate * (v - th) * E[spread]
    eta = sw.reset_rate_per_v * (1.5 - sw.v_reset_threshold) * 1.0
    np.testing.assert_allclose(np.mean((g0 - g1) / (g0 - sw.g_min_us)), eta, rtol=0.05)
    # sub-threshold pulses do nothing
    before = m.g_us.reshape(-1)[cells].copy()
    m.apply_ops(np.full(cells.size, K.OP_SET), cells, 0.5, t_ns=100.0)
    np.testing.assert_allclose(m.g_us.reshape(-1)[cells], before, rtol=1e-4)


def test_read_noise_statistics(ideal_spec):
    m = Macro(ideal_spec, seed=9)
    m.form(3.6)
    reg = m.region(0, (0, 8), (0, 8))
    reads = np.stack([m.read(reg) for _ in range(3000)])
    g = m.g_us[0, :8, :8]
    sigma = np.sqrt((ideal_spec.read.noise_relative * g) ** 2 + ideal_spec.read.noise_floor_us**2)
    np.testing.assert_allclose(reads.mean(0), g, atol=(5 * sigma / np.sqrt(3000)).max())
    np.testing.assert_allclose(reads.std(0), sigma, rtol=0.1)


def test_state_save_load_round_trip(tmp_path, spec):
    m = Macro(spec, n_arrays=2, seed=10)
    m.form(3.6)
    m.advance(100.0)
    p = m.save(tmp_path / "state.npz")
    m2 = Macro.load(p)
    np.testing.assert_array_equal(m.g_us, m2.g_us)
    assert m2.clock_s == m.clock_s
    x = (np.random.default_rng(1).random((3, 512)) < 0.3).astype(np.uint8)
    np.testing.assert_array_equal(m.mvm(x), m2.mvm(x))
