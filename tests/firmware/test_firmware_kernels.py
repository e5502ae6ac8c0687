"""The numba kernels of `firmware` equal their numpy references."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbar import load_preset
from firmware.isa import FLOAT_FIELDS, RECORD_DTYPE, Limits
from firmware.kernels import (
    BASE_RULES,
    N_BASE,
    N_RATING,
    engine_inputs,
    engine_inputs_ref,
    op_stats,
    op_stats_ref,
    scan_records,
    scan_records_ref,
)
from firmware.programs import IsppSettings, write_verify

_PRESET_LIMITS = Limits.from_spec(load_preset())
_SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.1, 2.5, 3.0, 5.0, 200.0, 1e5, np.inf, -np.inf,
                     np.nan], np.float32)


def _random_records(seed: int, n: int) -> np.ndarray:
    """Records that hit every rule: small integers, special and random floats."""
    rng = np.random.default_rng(seed)
    r = np.zeros(n, RECORD_DTYPE)
    r["op"] = rng.integers(0, 8, n)
    r["cond"] = rng.integers(0, 4, n)
    r["flags"] = rng.choice([0, 0, 1, 2, 3], n)
    r["reserved0"] = rng.random(n) < 0.05
    r["reserved1"] = rng.random(n) < 0.05
    for f, hi in (("array", 3), ("row", 20), ("col", 20)):
        r[f] = rng.integers(0, hi, n) * (rng.random(n) < 0.7)
    for f in FLOAT_FIELDS:
        special = rng.random(n) < 0.5
        r[f] = np.where(special, rng.choice(_SPECIAL, n), rng.uniform(-1, 6, n)).astype(
            np.float32)
        r[f] = np.where(rng.random(n) < 0.3, 0, r[f])
    return r


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), two=st.booleans())
def test_scan_records_matches_reference(seed, n, two):
    r = _random_records(seed, n)
    lim = [_PRESET_LIMITS]
    if two:
        lim.append(Limits(4.0, 2.0, 2.0, 3.0, 0.2, 1e4, 300.0))
    got = scan_records(r, (2, 16, 18), np.array(lim))
    want = scan_records_ref(r, (2, 16, 18), np.array(lim))
    assert got[0].shape == (N_BASE + N_RATING * len(lim),)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_scan_hits_every_rule():
    r = _random_records(7, 20_000)
    lim = np.array([Limits(4.0, 2.0, 2.0, 3.0, 0.2, 1e4, 300.0)])
    first, count = scan_records(r, (2, 16, 18), lim)
    names = [n for n, _ in BASE_RULES] + ["rating"] * N_RATING
    assert all(count > 0), [n for n, c in zip(names, count) if c == 0]


def test_valid_program_breaks_no_rule():
    spec = load_preset().with_overrides(geometry={"rows": 16, "cols": 16})
    p = write_verify(spec, np.full((4, 4), 60.0), 2.0, settings=IsppSettings(max_iterations=3))
    first, count = scan_records(p.records, (1, 16, 16),
                                np.array([Limits.from_spec(spec)] * 2))
    assert not count.any() and np.all(first == -1)
    got, want = op_stats(p.records), op_stats_ref(p.records)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 200))
def test_op_stats_and_engine_inputs_match_reference(seed, n):
    r = _random_records(seed, n)
    for f in FLOAT_FIELDS:  # op_stats is used on validated programs: finite values
        r[f] = np.nan_to_num(r[f], nan=0.5, posinf=7.0, neginf=-7.0)
    r["op"] %= 6
    for a, b in zip(op_stats(r), op_stats_ref(r)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(engine_inputs(r, 20, 20), engine_inputs_ref(r, 20, 20)):
        np.testing.assert_array_equal(a, b)
