"""The numba kernels of `crossbar` equal their numpy references."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from crossbar import kernels as K
from crossbar import reference as R
from crossbar.rng import NORMAL_TABLE, normals_ref, stream_word, stream_words_ref, table_normal


@njit(cache=True)
def _words(seed, counters):
    out = np.empty(counters.shape[0], np.uint64)
    for k in range(counters.shape[0]):
        out[k] = stream_word(np.uint64(seed), counters[k])
    return out


@njit(cache=True)
def _normals(seed, base, n):
    out = np.empty(n)
    for j in range(n):
        out[j] = table_normal(stream_word(np.uint64(seed), base + j // 4), j % 4, NORMAL_TABLE)
    return out


def test_rng_stream_matches_reference_and_splitmix_known_value():
    counters = np.arange(0, 1000, 7, dtype=np.int64)
    np.testing.assert_array_equal(_words(987654321, counters), stream_words_ref(987654321, counters))
    # SplitMix64 with state 0: the first output is the published constant 0xE220A8397B1DCDAF
    assert int(stream_words_ref(0, np.array([0]))[0]) == 0xE220A8397B1DCDAF
    np.testing.assert_array_equal(_normals(5, 40, 23), normals_ref(5, np.array(40), 23))


def test_normal_table_is_standard_normal():
    z = normals_ref(11, np.arange(200) * 1000, 1000).ravel()
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1.0) < 0.01
    # fraction beyond 1 sigma of a standard normal is 0.3173
    assert abs(np.mean(np.abs(z) > 1) - 0.3173) < 0.005


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 9, 7), (16, 33, 17), (3, 64, 130)])
@pytest.mark.parametrize("differential", [True, False])
@pytest.mark.parametrize("noise", [True, False])
def test_mvm_percell_matches_reference(shape, differential, noise):
    rng = np.random.default_rng(hash(shape) % 2**32)
    b, r, c = shape
    x = rng.random((b, r)) * (rng.random((b, r)) < 0.4)
    gp, gm = rng.random((r, c)) * 150, rng.random((r, c)) * 150
    sp, sm = 0.03 * gp + 0.1, 0.03 * gm + 0.1
    for r_ohm, lsb in [(0.0, 0.0), (500.0, 0.37)]:
        read = K.ReadParams(0.1, r_ohm, lsb, -127.0 if differential else 0.0, 255.0)
        args = (x, gp, gm, sp, sm, differential, noise, 4242)
        got = K.mvm_percell(*args, NORMAL_TABLE, read)
        want = R.mvm_percell_ref(*args, read)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(got[1], want[1])


def test_mvm_percell_binary_uint8_input_equals_float_input():
    rng = np.random.default_rng(3)
    x = (rng.random((8, 20)) < 0.3).astype(np.uint8)
    g = rng.random((20, 6)) * 100
    s = 0.05 * g
    read = K.ReadParams(0.1, 0.0, 0.0, 0.0, 0.0)
    a = K.mvm_percell(x, g, g, s, s, True, True, 9, NORMAL_TABLE, read)[0]
    b = K.mvm_percell(x.astype(float), g, g, s, s, True, True, 9, NORMAL_TABLE, read)[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(1, 3, 1), (7, 40, 9), (32, 128, 66)])
@pytest.mark.parametrize("noise", [True, False])
def test_mvm_output_noise_matches_reference(shape, noise):
    rng = np.random.default_rng(sum(shape))
    b, r, c = shape
    x = (rng.random((b, r)) < 0.2).astype(np.float64)
    w = rng.normal(0, 50, (r, c))
    s2 = rng.random((r, c)) * 10
    for lsb in (0.0, 0.21):
        read = K.ReadParams(0.1, 0.0, lsb, -127.0, 127.0)
        got = K.mvm_output_noise(x, w, s2, noise, 77, NORMAL_TABLE, read)
        want = R.mvm_output_noise_ref(x, w, s2, noise, 77, read)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(got[1], want[1])


def test_adc_quantize_matches_reference():
    rng = np.random.default_rng(0)
    i = rng.normal(0, 30, (50, 40))
    for lsb, lo, hi in [(0.5, -127, 127), (0.1, 0, 255), (0.0, 0, 0)]:
        got = K.adc_quantize(i, lsb, lo, hi)
        want = R.adc_quantize_ref(i, lsb, lo, hi)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def _random_ops(rng, n_ops, n_cells):
    kind = rng.choice([K.OP_WAIT, K.OP_FORM, K.OP_SET, K.OP_RESET, K.OP_READ, K.OP_VERIFY],
                      size=n_ops, p=[0.05, 0.25, 0.25, 0.15, 0.1, 0.2])
    return dict(
        kind=kind.astype(np.int64),
        cell=rng.integers(0, n_cells, n_ops).astype(np.int64),
        v_cell=rng.uniform(0.0, 4.5, n_ops),
        t_ns=rng.uniform(10, 2000, n_ops),
        icc_ua=rng.uniform(50, 300, n_ops),
        cond=rng.integers(0, 3, n_ops).astype(np.int64),
        lo_us=rng.uniform(0, 100, n_ops),
        hi_us=rng.uniform(100, 250, n_ops),
        z=rng.standard_normal(n_ops),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_apply_pulses_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n_cells, n_ops = 40, 3000
    state = dict(
        g_prog=rng.uniform(0.05, 0.2, n_cells), t_prog=np.zeros(n_cells),
        nu=rng.normal(0.01, 0.005, n_cells), vbd=rng.normal(3.6, 0.3, n_cells),
        g_latent=rng.uniform(50, 200, n_cells),
        status=rng.choice([0, 0, 0, 2, 3], n_cells).astype(np.int8),
    )
    ops = _random_ops(rng, n_ops, n_cells)
    physics = K.PulsePhysics(1.0, 0.1, 10.0, 0.02, 0.05, 2.0, 200.0, 0.8, 0.8, 0.25, 0.25, 100.0,
                             0.3, 200.0, 1e-12)
    s1 = {k: v.copy() for k, v in state.items()}
    s2 = {k: v.copy() for k, v in state.items()}
    got = K.apply_pulses(*ops.values(), *s1.values(), 0.0, physics)
    want = R.apply_pulses_ref(*ops.values(), *s2.values(), 0.0, physics)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(got[1], want[1])
    for a, b in zip(got[2:], want[2:]):
        assert a == pytest.approx(b, rel=1e-12)
    for k in s1:
        np.testing.assert_allclose(s1[k], s2[k], rtol=1e-12)
    assert (s1["status"] == K.FORMED).any()  # the sequence did exercise forming
