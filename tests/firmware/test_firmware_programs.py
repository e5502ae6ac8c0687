"""Programs: forming-voltage choice, write-verify / prune structure, and that nothing outside the
absolute-maximum ratings or the geometry can be emitted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from crossbar import DifferentialMatrix, Macro
from firmware import errors as E
from firmware.isa import (
    COND_IF_ABOVE,
    COND_IF_BELOW,
    FLAG_CHECK,
    OP_FORM,
    OP_READ,
    OP_RESET,
    OP_SET,
    OP_VERIFY,
)
from firmware.programs import (
    IsppSettings,
    expected_formed_fraction,
    forming_sweep,
    forming_voltage,
    pair_layout,
    parse_region,
    prune_mask,
    prune_pairs,
    reset_prune,
    sweep_voltages,
    write_verify,
    write_verify_cells,
    write_verify_weights,
)


@pytest.fixture(scope="module")
def small(small_spec):
    return small_spec(32, 32)


def _formed(spec, v):
    """Independent expectation: breakdown CDF of fault-free cells plus shorted cells."""
    f, fl = spec.forming, spec.faults
    return (norm.cdf(v, f.breakdown_mean_v, f.breakdown_std_v)
            * (1 - fl.stuck_low_rate - fl.stuck_high_rate) + fl.stuck_high_rate)


@pytest.mark.parametrize("sparsity", [0.05, 0.3, 0.5, 0.77, 0.95])
def test_forming_voltage_hits_target_within_one_millivolt(small, sparsity):
    v = forming_voltage(small, sparsity)
    want = 1 - sparsity
    assert abs(expected_formed_fraction(small, v) - _formed(small, v)) < 1e-12
    assert _formed(small, v) >= want - 1e-12
    assert _formed(small, v - 0.001) < want
    assert round(v * 1000) == pytest.approx(v * 1000, abs=1e-6)


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.9])
def test_forming_voltage_snapped_to_grid(small, sparsity):
    f = small.forming
    v = forming_voltage(small, sparsity, snap_to_grid=True)
    k = (v - f.v_start) / f.v_step
    assert k == pytest.approx(round(k), abs=1e-6)
    assert _formed(small, v) >= 1 - sparsity - 1e-12 > _formed(small, v - f.v_step)


def test_unreachable_targets_say_what_is_reachable(small):
    with pytest.raises(E.UnreachableTargetError, match=r"choose a sparsity in \[0.00"):
        forming_voltage(small, 0.0)  # stuck-low cells never form
    with pytest.raises(E.UnreachableTargetError, match="v_start"):
        forming_voltage(small, 0.999)  # needs a voltage below the first step
    tight = small.with_overrides(ratings={"v_form_max": 3.5})
    with pytest.raises(E.UnreachableTargetError, match="v_form_max = 3.5"):
        forming_sweep(tight, target_sparsity=0.2)


def test_sweep_voltages_end_with_partial_step():
    v = sweep_voltages(3.0, 0.05, 3.612)
    np.testing.assert_allclose(v, [3.0 + 0.05 * k for k in range(13)] + [3.612])
    np.testing.assert_allclose(sweep_voltages(3.0, 0.05, 3.6), 3.0 + 0.05 * np.arange(13))
    np.testing.assert_allclose(sweep_voltages(3.0, 0.05, 3.0), [3.0])


def test_forming_sweep_structure(small):
    region = parse_region("2:5,4:8", small)
    p = forming_sweep(small, v_max=3.2, region=region)
    volts = sweep_voltages(3.0, 0.05, 3.2)
    k = 1 + 2 * volts.size
    r = p.records.reshape(12, k)
    assert np.all(r["op"][:, 0] == OP_VERIFY) and np.all(r["op"][:, 1::2] == OP_FORM)
    assert np.all(r["op"][:, 2::2] == OP_VERIFY)
    np.testing.assert_allclose(r["v_bl"][0, 1::2], volts, rtol=1e-6)
    assert np.all(r["lo_us"][:, 0::2] == small.forming.g_formed_threshold_us)
    assert np.all(np.isposinf(r["hi_us"][:, 0::2]))
    assert np.all(r["flags"] == 0)  # unformed cells are the intended sparsity, not failures
    assert set(zip(r["row"][:, 0], r["col"][:, 0])) == {(i, j) for i in range(2, 5)
                                                          for j in range(4, 8)}
    assert p.info["ops_per_cell"] == k


@pytest.mark.parametrize("kwargs,rating", [
    ({"v_max": 5.01}, "v_form_max"), ({"target_sparsity": 0.5, "v_wl": 3.4}, "v_wl_max"),
    ({"target_sparsity": 0.5, "compliance_ua": 501}, "compliance_max_ua"),
    ({"target_sparsity": 0.5, "t_pulse_ns": 2e5}, "t_pulse_max_ns"),
    ({"v_max": 4.0, "v_start": 5.5}, "v_form_max"),
])
def test_forming_refuses_over_ratings(small, kwargs, rating):
    with pytest.raises(E.RatingsError, match=f"ratings.{rating}"):
        forming_sweep(small, **kwargs)


@pytest.mark.parametrize("kwargs,rating", [
    ({"v_set_max": 2.6}, "v_set_max"), ({"v_reset_start": 3.1}, "v_reset_max"),
    ({"v_wl": 3.31}, "v_wl_max"), ({"compliance_ua": 600}, "compliance_max_ua"),
    ({"t_pulse_ns": 1e6}, "t_pulse_max_ns"),
])
def test_write_verify_refuses_over_ratings(small, kwargs, rating):
    with pytest.raises(E.RatingsError, match=f"ratings.{rating}"):
        write_verify(small, np.full((2, 2), 50.0), 2.0, settings=IsppSettings(**kwargs))


def test_write_verify_refuses_bad_targets_and_addresses(small):
    with pytest.raises(E.UnreachableTargetError, match="250 uS"):
        write_verify(small, np.array([[50.0, 250.0]]), 2.0)
    with pytest.raises(E.AddressError, match="row outside 0..31"):
        write_verify(small, np.full((4, 4), 50.0), 2.0, origin=(30, 0))
    with pytest.raises(E.AddressError, match="more than once"):
        write_verify_cells(small, [0, 0], [1, 1], [2, 2], [50.0, 60.0], 2.0)
    with pytest.raises(E.FirmwareError, match="no window"):
        write_verify(small, np.full((1, 1), 150.0), 0.5,
                     settings=IsppSettings(guard_sigma=3.0))


def test_write_verify_structure(small):
    t = np.array([[20.0, np.nan], [150.0, 2.0]])
    s = IsppSettings(max_iterations=4)
    p = write_verify(small, t, 1.5, origin=(3, 7), settings=s)
    k = 3 * 4 + 1
    r = p.records.reshape(3, k)  # the NaN target is skipped
    assert [(a, b) for a, b in zip(r["row"][:, 0], r["col"][:, 0])] == [(3, 7), (4, 7), (4, 8)]
    assert np.all(r["op"][:, 0::3] == OP_VERIFY) and np.all(r["flags"][:, 0::3] == FLAG_CHECK)
    assert np.all((r["op"][:, 1::3] == OP_SET) & (r["cond"][:, 1::3] == COND_IF_BELOW))
    assert np.all((r["op"][:, 2::3] == OP_RESET) & (r["cond"][:, 2::3] == COND_IF_ABOVE))
    np.testing.assert_allclose((r["lo_us"][:, 0] + r["hi_us"][:, 0]) / 2, [20, 150, 2],
                               atol=1e-4)
    np.testing.assert_allclose(r["hi_us"][:, 0] - r["lo_us"][:, 0], 3.0, atol=1e-4)
    # amplitudes ramp by the step and never exceed the ratings
    vs, vr = r["v_bl"][:, 1::3], r["v_sl"][:, 2::3]
    assert np.all(np.diff(vs, axis=1) >= -1e-7) and np.all(np.diff(vr, axis=1) >= -1e-7)
    assert vs.max() <= 2.5 and vr.max() <= 3.0


def test_pair_layout_matches_differential_matrix(small):
    macro = Macro(small, n_arrays=9, seed=0)
    for (n_in, n_out, ro, co) in [(10, 5, 0, 0), (40, 7, 3, 4), (70, 33, 0, 2)]:
        dm = DifferentialMatrix(macro, n_in, n_out, row_offset=ro, col_offset=co)
        tiles = pair_layout(small, n_in, n_out, row_offset=ro, col_offset=co)
        assert len(tiles) == len(dm.tiles)
        for t, d in zip(tiles, dm.tiles):
            assert (t.array, t.in_lo, t.in_hi, t.out_lo, t.out_hi) == (
                d.region.array, d.in_lo, d.in_hi, d.out_lo, d.out_hi)
            assert (t.row0, t.col0) == (d.region.r0, d.region.c0)


def test_weights_become_differential_targets(small):
    w = np.array([[5.0, -3.0, 0.0], [0.5, 12.0, -7.25]])
    p = write_verify_weights(small, w, 1.0, row_offset=2, col_offset=4,
                             settings=IsppSettings(max_iterations=2))
    r = p.records[p.records["op"] == OP_VERIFY]
    first = np.unique(r[["row", "col"]], return_index=True)[1]
    g = np.full((small.geometry.rows, small.geometry.cols), np.nan)
    rr = r[first]
    g[rr["row"], rr["col"]] = (rr["lo_us"].astype(float) + rr["hi_us"]) / 2
    gp, gm = g[2:4, 4:10:2], g[2:4, 5:11:2]
    np.testing.assert_allclose(gp - gm, w, atol=1e-4)
    np.testing.assert_allclose(np.minimum(gp, gm), small.switching.g_min_us, atol=1e-5)


def test_prune_structure(small):
    m = np.zeros((32, 32), bool)
    m[1, 2] = m[5, 9] = True
    p = prune_mask(small, m, max_iterations=3)
    r = p.records.reshape(2, 7)
    assert np.all(np.isneginf(r["lo_us"][:, 0::2]))
    assert np.all(r["hi_us"][:, 0::2] == 2 * small.switching.g_min_us)
    assert np.all((r["op"][:, 1::2] == OP_RESET) & (r["cond"][:, 1::2] == COND_IF_ABOVE))
    pp = prune_pairs(small, np.array([[False, True]]), row_offset=4)
    assert set(zip(pp.records["row"], pp.records["col"])) == {(4, 2), (4, 3)}


# --- nothing over the ratings can be emitted --------------------------------------------------

# optional voltages: None (the default) or a value up to ~20 % over the largest rating
_V = st.one_of(st.none(), st.floats(min_value=0.0, max_value=6.0))


def _within_ratings(spec, prog) -> None:
    """Independent check of every record against the preset (not via firmware.validate)."""
    r, ra = prog.records, spec.ratings
    op = r["op"]
    line = np.maximum(r["v_bl"], r["v_sl"]).astype(np.float64)
    lim = np.select([op == OP_FORM, op == OP_SET, op == OP_RESET, (op == OP_READ)
                     | (op == OP_VERIFY)],
                    [ra.v_form_max, ra.v_set_max, ra.v_reset_max, ra.v_read_max], np.inf)
    assert np.all(line <= lim)
    assert np.all(r["v_wl"].astype(np.float64) <= ra.v_wl_max)
    assert np.all(r["t_ns"].astype(np.float64) <= ra.t_pulse_max_ns)
    assert np.all(r["icc_ua"].astype(np.float64) <= ra.compliance_max_ua)
    assert np.all(r["row"] < spec.geometry.rows) and np.all(r["col"] < spec.geometry.cols)
    assert np.all(np.isfinite(r["v_bl"])) and np.all(np.isfinite(r["v_sl"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sparsity=st.floats(-0.1, 1.1), v_max=_V, v_start=_V,
       v_step=st.one_of(st.none(), st.floats(0.001, 1.0)), v_wl=_V,
       icc=st.one_of(st.none(), st.floats(1.0, 600.0)),
       t_ns=st.one_of(st.none(), st.floats(1.0, 2e5)), snap=st.booleans())
def test_no_forming_parameters_emit_over_ratings(small, sparsity, v_max, v_start, v_step,
                                                 v_wl, icc, t_ns, snap):
    region = parse_region("0:2,0:3", small)
    try:
        p = forming_sweep(small, target_sparsity=None if v_max is not None else sparsity,
                          v_max=v_max, region=region, v_start=v_start, v_step=v_step,
                          v_wl=v_wl, compliance_ua=icc, t_pulse_ns=t_ns, snap_to_grid=snap)
    except E.FirmwareError:
        return
    _within_ratings(small, p)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.floats(0.0, 260.0), tol=st.floats(0.01, 20.0),
       vs0=_V, vs_step=st.floats(-0.1, 1.0), vs_max=_V, vr0=_V, vr_max=_V, v_wl=_V,
       n=st.integers(0, 30), alpha=st.floats(0.0, 5.0))
def test_no_write_verify_parameters_emit_over_ratings(small, target, tol, vs0, vs_step, vs_max,
                                                      vr0, vr_max, v_wl, n, alpha):
    s = IsppSettings(max_iterations=n, v_set_start=vs0, v_set_step=vs_step, v_set_max=vs_max,
                     v_reset_start=vr0, v_reset_max=vr_max, v_wl=v_wl, step_fraction=alpha)
    try:
        p = write_verify(small, np.full((1, 2), target), tol, settings=s)
    except E.FirmwareError:
        return
    _within_ratings(small, p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v0=_V, step=st.floats(0.0, 2.0), vmax=_V,
       n=st.integers(1, 40), g_off=st.floats(0.1, 50.0))
def test_no_prune_parameters_emit_over_ratings(small, v0, step, vmax, n, g_off):
    try:
        p = reset_prune(small, [0], [1], [2], v_start=v0, v_step=step, v_max=vmax,
                        max_iterations=n, g_off_us=g_off)
    except E.FirmwareError:
        return
    _within_ratings(small, p)
