"""LSM kernels: numba engine against the plain numpy reference and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar.rng import NORMAL_TABLE, NORMAL_TABLE_4096
from rram_lsm.lsm import kernels as K
from rram_lsm.lsm.reference import lif_dense_ref, lif_encode_ref


def _frames(rng, b, t, n_in, p=0.2):
    return (rng.random((b, t, n_in)) < p).astype(np.uint8)


def _case(seed=0, b=6, t=12, n_in=7, n=9):
    rng = np.random.default_rng(seed)
    x = _frames(rng, b, t, n_in)
    r = n_in + n
    gp = rng.uniform(0.1, 150, (r, n)) * (rng.random((r, n)) < 0.6)
    gm = rng.uniform(0.1, 150, (r, n)) * (rng.random((r, n)) < 0.6)
    sp = 0.02 * gp + 0.05
    sm = 0.02 * gm + 0.05
    return x, gp, gm, sp, sm


def _params(w, tiles, lsb, cmax, consts, decay, v_th, v_read, reset_zero, row_g):
    tp = K.tile_params(tiles, lsb, cmax, consts, row_g=row_g, n_rows=w.shape[0], dtype=w.dtype)
    return tp, K.lif_params(w.dtype, decay, v_th, v_read, reset_zero)


def _numba(x, w, s2, tiles, lsb, cmax, consts, decay=0.9, v_th=5.0, v_read=0.1,
           reset_zero=True, noise=False, seed=7, offset=0, k=1, record=True, row_g=None):
    tp, lif = _params(w, tiles, lsb, cmax, consts, decay, v_th, v_read, reset_zero, row_g)
    return K.lif_encode(x, w, s2, tp, lif, noise, np.uint64(seed), offset,
                        NORMAL_TABLE_4096.astype(w.dtype), k, record)


def _ref(x, w, s2, tiles, lsb, cmax, consts, decay=0.9, v_th=5.0, v_read=0.1,
         reset_zero=True, noise="off", seed=7, offset=0, k=1, row_g=None):
    tp, lif = _params(w, tiles, lsb, cmax, consts, decay, v_th, v_read, reset_zero, row_g)
    return lif_encode_ref(x, tp, lif, noise, seed, offset, k, w=w, s2=s2)


def test_single_neuron_by_hand():
    # one input (weight 3 uS), one neuron (self weight -1 uS), const 1, decay 0.5, Vth 2.5
    x = np.array([[[1], [1], [0], [1]]], np.uint8)
    w = np.array([[3.0], [-1.0]])
    tiles = [[0, 2, 0, 1, 0]]
    counts, mem, raster, _ = _numba(x, w, np.zeros_like(w), tiles, [0.0], [0.0], [1.0],
                                    decay=0.5, v_th=2.5)
    # t0: u = 3 > 2.5 spike; t1: hard reset -> u = 3 - 1 = 2; t2: u = 1; t3: u = 0.5 + 3 = 3.5
    assert raster[0, :, 0].tolist() == [1, 0, 0, 1]
    assert mem[0, 0] == pytest.approx(3.5)
    assert counts[0, 0, 0] == 2
    # subtract reset: t1: 0.5*3 + 3 - 1 - 2.5 = 1.0; t2: 0.5 + 0 = 0.5; t3: 0.25 + 3 = 3.25
    _, mem_s, raster_s, _ = _numba(x, w, np.zeros_like(w), tiles, [0.0], [0.0], [1.0],
                                   decay=0.5, v_th=2.5, reset_zero=False)
    assert raster_s[0, :, 0].tolist() == [1, 0, 0, 1]
    assert mem_s[0, 0] == pytest.approx(3.25)


@pytest.mark.parametrize("reset_zero", [True, False])
def test_ideal_equals_dense_textbook_form(reset_zero):
    x, gp, gm, _, _ = _case(1, b=5, t=20, n_in=11, n=13)
    w = gp - gm
    counts, mem, raster, _ = _numba(x, w, np.zeros_like(w), [[0, 24, 0, 13, 0]], [0.0], [0.0],
                                    [0.04], reset_zero=reset_zero, k=4)
    r_dense, u_dense = lif_dense_ref(x, w[:11], w[11:], 0.04, 0.04, 0.9, 5.0, reset_zero)
    assert raster.any() and not raster.all()
    np.testing.assert_array_equal(raster.astype(bool), r_dense)
    np.testing.assert_allclose(mem, u_dense, rtol=1e-12, atol=1e-12)
    # window counts: t * K // T windows, summing to the total
    for kk in range(4):
        sl = [t for t in range(20) if t * 4 // 20 == kk]
        np.testing.assert_array_equal(counts[:, kk], raster[:, sl].sum(axis=1))


def test_separate_constants_equal_dense_form():
    x, gp, gm, _, _ = _case(2, b=4, t=15, n_in=6, n=8)
    w = gp - gm
    tiles = [[0, 6, 0, 8, 0], [6, 14, 0, 8, 1]]
    _, mem, raster, _ = _numba(x, w, np.zeros_like(w), tiles, [0, 0], [0, 0], [0.05, 0.02])
    r_dense, u_dense = lif_dense_ref(x, w[:6], w[6:], 0.05, 0.02, 0.9, 5.0)
    np.testing.assert_array_equal(raster.astype(bool), r_dense)
    np.testing.assert_allclose(mem, u_dense, rtol=1e-12, atol=1e-12)


TILINGS = {
    "one": [[0, 16, 0, 9, 0]],
    "rows": [[0, 10, 0, 9, 0], [10, 16, 0, 9, 0]],
    "grid": [[0, 10, 0, 5, 0], [0, 10, 5, 9, 0], [10, 16, 0, 5, 0], [10, 16, 5, 9, 0]],
    "groups": [[0, 7, 0, 6, 0], [0, 7, 6, 9, 0], [7, 16, 0, 9, 1]],
}


@pytest.mark.parametrize("tiling", sorted(TILINGS))
@pytest.mark.parametrize("noise,adc", [(False, False), (False, True), (True, False),
                                       (True, True)])
def test_numba_matches_reference_bitwise(tiling, noise, adc):
    x, gp, gm, sp, sm = _case(3)
    w = gp - gm
    s2 = sp**2 + sm**2
    tiles = TILINGS[tiling]
    n_t = len(tiles)
    lsb = [0.4 + 0.1 * i if adc else 0.0 for i in range(n_t)]
    cmax = [31.0] * n_t
    consts = [0.03, 0.02]
    row_g = np.abs(np.random.default_rng(5).normal(size=(n_t, 16)))
    got = _numba(x, w, s2, tiles, lsb, cmax, consts, noise=noise, k=3, row_g=row_g, offset=4)
    ref = _ref(x, w, s2, tiles, lsb, cmax, consts, noise="output" if noise else "off", k=3,
               row_g=row_g, offset=4)
    assert got[2].any()
    for a, b in zip(got[:3], ref[:3]):
        np.testing.assert_array_equal(a, b)
    # ledger: the kernel books the read energy per sample (another order of float additions)
    np.testing.assert_array_equal(got[3][..., 0], ref[3][..., 0])
    np.testing.assert_allclose(got[3][..., 1], ref[3][..., 1], rtol=1e-12)


@pytest.mark.parametrize("ir", [0.0, 2000.0])
@pytest.mark.parametrize("adc", [False, True])
def test_percell_matches_reference_bitwise(ir, adc):
    x, gp, gm, sp, sm = _case(4, b=4, t=8, n_in=5, n=7)
    tiles = np.array([[0, 8, 0, 4, 0], [0, 8, 4, 7, 0], [8, 12, 0, 7, 0]], np.int64)
    lsb = np.array([0.5, 0.6, 0.3]) * adc
    cmax = np.array([31.0, 31.0, 31.0])
    rohm = np.full(3, ir)
    row_g = np.ones((3, 12))
    consts = np.array([0.05])
    tp = K.tile_params(tiles, lsb, cmax, consts, rohm=rohm, row_g=row_g)
    lif = K.LifParams(0.9, 5.0, 0.1, True)
    got = K.lif_encode_percell(x, gp, gm, sp, sm, tp, lif, np.uint64(11), 2, NORMAL_TABLE, 2,
                               True)
    ref = lif_encode_ref(x, tp, lif, "percell", 11, 2, 2, gp=gp, gm=gm, sp=sp, sm=sm)
    assert got[2].any()
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)


def test_percell_without_noise_equals_ideal_differential_sum():
    x, gp, gm, _, _ = _case(5, b=3, t=10, n_in=5, n=6)
    tiles = np.array([[0, 11, 0, 6, 0]], np.int64)
    z = np.zeros_like(gp)
    tp = K.tile_params(tiles, np.zeros(1), np.zeros(1), np.array([0.04]), n_rows=11)
    got = K.lif_encode_percell(x, gp, gm, z, z, tp, K.LifParams(0.9, 5.0, 0.1, True),
                               np.uint64(1), 0, NORMAL_TABLE, 1, True)
    r_dense, u_dense = lif_dense_ref(x, (gp - gm)[:5], (gp - gm)[5:], 0.04, 0.04, 0.9, 5.0)
    np.testing.assert_array_equal(got[2].astype(bool), r_dense)
    np.testing.assert_allclose(got[1], u_dense, rtol=1e-9, atol=1e-9)


def test_results_independent_of_batching_and_keyed_by_global_index():
    x, gp, gm, sp, sm = _case(6, b=8)
    w, s2 = gp - gm, sp**2 + sm**2
    tiles = [[0, 16, 0, 9, 0]]
    args = (s2, tiles, [0.5], [31.0], [0.03])
    full = _numba(x, w, *args, noise=True)
    part = _numba(x[5:], w, *args, noise=True, offset=5)
    np.testing.assert_array_equal(full[2][5:], part[2])
    shifted = _numba(x[5:], w, *args, noise=True, offset=0)
    assert not np.array_equal(full[1][5:], shifted[1])  # other noise draws
    other_seed = _numba(x, w, *args, noise=True, seed=8)
    assert not np.array_equal(full[1], other_seed[1])


def test_ledger_counts_active_rows():
    x, gp, gm, _, _ = _case(7, b=3, t=9)
    w = gp - gm
    row_g = np.arange(16, dtype=float)[None] + 1.0
    _, _, raster, led = _numba(x, w, np.zeros_like(w), [[0, 16, 0, 9, 0]], [0.0], [0.0],
                               [0.05], row_g=row_g)
    prev = np.concatenate([np.zeros((3, 1, 9), np.uint8), raster[:, :-1]], axis=1)
    z = np.concatenate([x, prev], axis=2)
    np.testing.assert_array_equal(led[:, 0, 0], z.sum(axis=(1, 2)))
    np.testing.assert_allclose(led[:, 0, 1], (z * row_g[0]).sum(axis=(1, 2)))


def test_float32_close_to_float64():
    x, gp, gm, sp, sm = _case(8, b=16, t=30, n_in=20, n=30)
    w = gp - gm
    tiles = [[0, 50, 0, 30, 0]]
    c64, *_ = _numba(x, w, np.zeros_like(w), tiles, [0.0], [0.0], [0.01])
    w32 = w.astype(np.float32)
    c32, *_ = _numba(x, w32, np.zeros_like(w32), tiles, [0.0], [0.0], [0.01])
    assert c64.sum() > 0
    assert np.mean(c64 == c32) > 0.98


def test_run_threaded_equals_one_call():
    x, gp, gm, sp, sm = _case(9, b=11)
    w, s2 = gp - gm, sp**2 + sm**2
    tiles = np.array([[0, 16, 0, 9, 0]], np.int64)

    tp = K.tile_params(tiles, [0.5], [31.0], [0.03], n_rows=16)
    lif = K.LifParams(0.9, 5.0, 0.1, True)

    def make(fr, off):
        return (fr, w, s2, tp, lif, True, np.uint64(3), off, NORMAL_TABLE_4096, 2, True)

    one = K.run_threaded(K.lif_encode, x, 4, make, threads=1)
    many = K.run_threaded(K.lif_encode, x, 4, make, threads=3)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
