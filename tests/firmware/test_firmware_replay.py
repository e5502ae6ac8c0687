"""Replay of vector programs on a simulated macro: forming reaches the requested sparsity, each
cell forms at the first step above its breakdown voltage, write-verify reaches its targets except
for the reported failures, and chunked replay keeps the verify-and-branch semantics."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar import Macro
from crossbar import kernels as K
from crossbar.device import read_sigma
from firmware import errors as E
from firmware.isa import OP_VERIFY, OP_WAIT, RECORD_DTYPE, Program, VectorHeader, make_records
from firmware.programs import (
    IsppSettings,
    forming_sweep,
    pair_targets,
    parse_region,
    prune_mask,
    sweep_voltages,
    write_verify,
    write_verify_weights,
)
from firmware.replay import replay, write_cell_log


@pytest.fixture(scope="module")
def small(small_spec):
    return small_spec(64, 64)


@pytest.fixture(scope="module")
def quiet(small):
    """No read noise, no cycle-to-cycle spread, no drift: outcomes are deterministic."""
    return small.with_overrides(read={"noise_relative": 0.0, "noise_floor_us": 0.0},
                                switching={"c2c_std": 0.0}, drift={"nu_mean": 0.0, "nu_std": 0.0})


def _formed_macro(spec, seed=5):
    m = Macro(spec, seed=seed)
    m.form(4.6)  # 3.6 sigma above the breakdown mean: all fault-free cells form
    return m


@pytest.mark.parametrize("sparsity", [0.2, 0.5, 0.85])
def test_forming_sweep_reaches_target_sparsity(small, sparsity):
    prog = forming_sweep(small, target_sparsity=sparsity)
    res = replay(prog, Macro(small, seed=11))
    n = res.cells.size
    assert n == 64 * 64
    want = 1 - sparsity
    assert abs(res.formed_fraction - want) < 4 * np.sqrt(want * (1 - want) / n) + 1e-3
    s = res.summary()
    assert s["failed_cells"] == 0 and s["checked_cells"] == 0
    assert s["energy_j"] > 0 and s["time_s"] > 0


def test_each_cell_forms_at_first_step_above_its_breakdown_voltage(small):
    region = parse_region("0:32,0:64", small)
    prog = forming_sweep(small, target_sparsity=0.4, region=region)
    volts = sweep_voltages(3.0, 0.05, prog.info["v_max"]).astype(np.float32).astype(float)
    m = Macro(small, seed=3)
    vbd = m.cells.vbd.copy()
    status0 = m.cells.status.copy()
    res = replay(prog, m)
    c = res.cells
    idx = (c["row"].astype(int) * 64 + c["col"])
    live = status0[idx] == K.PRISTINE
    # independent expectation from the hidden breakdown voltages
    will_form = vbd[idx] <= volts[-1]
    first_step = np.searchsorted(volts, vbd[idx], side="left") + 1  # pulses until formed
    assert np.array_equal(c["status"][live] == K.FORMED, will_form[live])
    agree = c["pulses"][live & will_form] == first_step[live & will_form]
    assert agree.mean() > 0.99  # a formed cell that reads just below 50 uS pulses once more
    assert np.all(c["pulses"][live & ~will_form] == volts.size)
    # shorted cells read formed at the pre-check and get no pulse; stuck-low never form
    assert np.all(c["pulses"][status0[idx] == K.STUCK_HIGH] == 0)
    assert not np.any(c["formed"][status0[idx] == K.STUCK_LOW])


def test_write_verify_reaches_targets_exactly_without_noise(quiet):
    rng = np.random.default_rng(0)
    t = rng.uniform(5.0, 190.0, (32, 32))
    m = _formed_macro(quiet)
    status0 = m.cells.status.reshape(64, 64)[:32, :32].copy()
    res = replay(write_verify(quiet, t, 2.0), m)
    c = res.cells
    tt = t[c["row"], c["col"]]
    err = np.abs(c["final_g_us"] - tt)
    assert np.all(err[~c["failed"]] <= 2.0 + 1e-4)
    # the failures are exactly the stuck cells whose fixed conductance misses the window
    st = status0[c["row"], c["col"]]
    g_stuck = np.where(st == K.STUCK_LOW, quiet.faults.g_stuck_low_us,
                       quiet.faults.g_stuck_high_us)
    expect_fail = (st >= K.STUCK_LOW) & (np.abs(g_stuck - tt) > 2.0)
    assert np.array_equal(c["failed"], expect_fail)


def test_write_verify_with_read_noise(small):
    rng = np.random.default_rng(1)
    w = rng.normal(0.0, 6.6, (64, 32))
    prog = write_verify_weights(small, w, 2.0)
    res = replay(prog, _formed_macro(small))
    c = res.cells
    gp, gm = pair_targets(w, small.switching.g_min_us)
    target = np.stack([gp, gm], axis=-1).reshape(64, 64)[c["row"], c["col"]]
    ok = ~c["failed"]
    # verified on a noisy read: the true value is within tolerance + a few read-noise sigma
    bound = 2.0 + 4.5 * read_sigma(small, target + 2.0)
    assert np.all(np.abs(c["final_g_us"] - target)[ok] <= bound[ok])
    assert np.all(np.abs(c["last_read_us"] - target)[ok] <= 2.0 + 1e-4)
    assert c["failed"].mean() < 0.01
    assert res.summary()["pulses_per_cell_mean"] < 20


def test_stuck_and_unformed_cells_are_reported_failed(small):
    m = _formed_macro(small)
    # make cell (0, 2, 3) stuck low, and leave (0, 4, 5) pristine (it never formed)
    for (r, col), st, g in (((2, 3), K.STUCK_LOW, 0.1), ((4, 5), K.PRISTINE, 0.1)):
        k = r * 64 + col
        m.cells.status[k] = st
        m.cells.g_prog[k] = g
    m._touch()
    t = np.full((8, 8), 80.0)
    res = replay(write_verify(small, t, 3.0), m)
    failed = {(int(r["row"]), int(r["col"])) for r in res.failed}
    assert {(2, 3), (4, 5)} <= failed
    assert res.summary()["failed_cells"] == len(failed)
    assert [0, 2, 3] in res.summary()["failed_examples"]
    log = write_cell_log(res)
    assert "0,2,3," in log and ",stuck_low,1,0,1,0" in log


def test_prune_resets_cells(small):
    m = _formed_macro(small)
    mask = np.zeros((64, 64), bool)
    mask[10:14, 20:30] = True
    res = replay(prune_mask(small, mask), m)
    c = res.cells
    live = c["status"] == K.FORMED
    assert np.all(c["final_g_us"][live & ~c["failed"]] < 4.0 + 0.5)
    assert not np.any(c["failed"] & live)
    stuck_high = c["status"] == K.STUCK_HIGH
    assert np.all(c["failed"][stuck_high])


def test_chunked_replay_equals_single_call(quiet):
    """Chunk boundaries inside cells' sequences (conditional pulses before the first VERIFY of
    a chunk, cells that passed in an earlier chunk) give the same result as one call."""
    t = np.random.default_rng(2).uniform(5.0, 190.0, (6, 6))
    prog = write_verify(quiet, t, 1.0, settings=IsppSettings(max_iterations=12))
    a = replay(prog, _formed_macro(quiet, seed=9))
    for chunk in (7, 37, 100):
        b = replay(prog, _formed_macro(quiet, seed=9), chunk_ops=chunk)
        np.testing.assert_array_equal(a.g_us, b.g_us)
        assert a.cells.tobytes() == b.cells.tobytes()
        assert (a.pulses, a.reads, a.ops_applied) == (b.pulses, b.reads, b.ops_applied)


def test_replay_checks_the_target(small):
    prog = forming_sweep(small, v_max=3.2, region=parse_region("0:2,0:2", small), n_arrays=2)
    with pytest.raises(E.PresetMismatchError, match="2 array"):
        replay(prog, Macro(small, seed=0))
    prog = forming_sweep(small, v_max=3.2, region=parse_region("0:2,0:2", small), chip_id="A1")
    with pytest.raises(E.ChipIdMismatchError):
        replay(prog, Macro(small, seed=0), chip_id="B2")
    other = small.with_overrides(ratings={"v_form_max": 3.1})
    with pytest.raises(E.PresetMismatchError):
        replay(prog, Macro(other, seed=0))
    with pytest.raises(E.RatingsError, match="v_form_max = 3.1"):
        replay(prog, Macro(other, seed=0), allow_other_preset=True)


def test_energy_and_time_come_from_the_ledger(small):
    m = Macro(small, seed=0)
    res = replay(forming_sweep(small, target_sparsity=0.5, region=parse_region("0:8,0:8", small)),
                 m)
    assert res.energy_j == pytest.approx(m.ledger.total_energy_j)
    assert res.time_s == pytest.approx(m.ledger.time_s["write"])
    assert m.ledger.counts["write_pulses"] == res.pulses


def test_wait_advances_time_and_empty_program(small):
    h = VectorHeader.from_spec(small)
    rec = np.concatenate([
        make_records(OP_WAIT, t_ns=2e9),
        make_records(OP_VERIFY, row=1, col=1, v_wl=1.8, v_bl=0.1, t_ns=10, lo_us=0, hi_us=1e3)])
    m = Macro(small, seed=0)
    res = replay(Program(h, rec), m)
    assert res.time_s == pytest.approx(2.0 + small.read.t_read_ns * 1e-9)
    assert m.clock_s == pytest.approx(res.time_s)
    assert res.cells.size == 1 and res.cells["verified"][0] and not res.cells["failed"][0]
    empty = replay(Program(h, np.zeros(0, RECORD_DTYPE)), Macro(small, seed=0))
    assert empty.cells.size == 0 and empty.summary()["ops"] == 0
