"""The SIMD row sums (`rram_lsm.lsm.simd`) and the padded float32 kernel against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar.rng import NORMAL_TABLE_4096
from rram_lsm.lsm import kernels as K
from rram_lsm.lsm import simd
from rram_lsm.lsm.reference import lif_encode_ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pair", [False, True])
def test_gather_equals_sequential_numpy_sums(dtype, pair):
    rng = np.random.default_rng(0)
    lanes = simd.lanes_of(np.dtype(dtype).itemsize)
    nv, col = 7, 3  # 4 + 1 + 1 + 1 vectors, an unaligned start column
    width = col + nv * lanes
    w = K._pad_cols(rng.normal(size=(40, width - 2)).astype(dtype), width)
    w2 = K._pad_cols(rng.random((40, width - 2)).astype(dtype), width)
    rows = np.array([5, 0, 39, 12, 12, 7, 30], np.int64)  # any order, repeats allowed
    out0 = rng.normal(size=nv * lanes).astype(dtype)
    out, out2 = out0.copy(), out0[::-1].copy()
    simd.sum_rows(out, out2, w, w2, col, nv, rows, 1, 6, pair)
    exp, exp2 = out0.copy(), out0[::-1].copy()
    for i in rows[1:6]:  # sequential adds in list order: equal to the last bit
        exp += w[i, col:col + nv * lanes]
        exp2 += w2[i, col:col + nv * lanes]
    np.testing.assert_array_equal(out, exp)
    np.testing.assert_array_equal(out2, exp2 if pair else out0[::-1])
    untouched = out0.copy()
    simd.sum_rows(untouched, untouched, w, w2, col, nv, rows, 3, 3, False)  # empty range
    np.testing.assert_array_equal(untouched, out0)


def test_padding_is_whole_vectors_and_aligned():
    tiles = np.array([[0, 10, 0, 37, 0], [0, 10, 37, 83, 0]], np.int64)
    assert K.padded_columns(tiles, 4) == 37 + 48  # 46 columns -> 3 vectors of 16
    assert K.padded_columns(tiles, 8) == 37 + 48  # 6 vectors of 8
    a = np.arange(30.0).reshape(3, 10)
    p = K._pad_cols(a, 16)
    assert p.ctypes.data % simd.VECTOR_BYTES == 0 and p.flags.c_contiguous
    np.testing.assert_array_equal(p[:, :10], a)
    assert not p[:, 10:].any()


@pytest.mark.parametrize("noise,adc,half", [(False, True, False), (True, True, False),
                                            (True, False, False), (True, True, True)])
def test_float32_kernel_matches_reference_bitwise_on_wide_tiles(noise, adc, half):
    # wide, ragged tiles: 4-vector and single-vector blocks, an unaligned second tile
    rng = np.random.default_rng(4)
    b, t, n_in, n = 5, 16, 40, 83
    x = (rng.random((b, t, n_in)) < 0.15).astype(np.uint8)
    r = n_in + n
    gp = rng.uniform(0.1, 150, (r, n)) * (rng.random((r, n)) < 0.5)
    gm = rng.uniform(0.1, 150, (r, n)) * (rng.random((r, n)) < 0.5)
    w = (gp - gm).astype(np.float32)
    s2 = ((0.02 * gp + 0.05) ** 2 + (0.02 * gm + 0.05) ** 2).astype(np.float32)
    if half:  # as Synapses.s2: the kernel streams these as half-precision bits
        s2 = s2.astype(np.float16).astype(np.float32)
        assert K._half_bits(s2) is not None
    tiles = np.array([[0, 70, 0, 37, 0], [0, 70, 37, 83, 0], [70, r, 0, 83, 0]], np.int64)
    lsb = np.array([0.3, 0.35, 0.4] if adc else [0.0] * 3)
    cmax = np.full(3, 127.0)
    consts = np.array([0.004], np.float32)
    row_g = np.abs(rng.normal(size=(3, r)))
    f32 = np.float32
    tp = K.tile_params(tiles, lsb, cmax, consts, row_g=row_g)
    lif = K.LifParams(f32(0.9), f32(5.0), f32(0.1), True)
    got = K.lif_encode(x, w, s2, tp, lif, noise, np.uint64(11), 2,
                       NORMAL_TABLE_4096.astype(np.float32), 4, True)
    ref = lif_encode_ref(x, tp, lif, "output" if noise else "off", 11, 2, 4, w=w, s2=s2)
    assert got[2].any() and not got[2].all()
    for a, e in zip(got[:3], ref[:3]):
        np.testing.assert_array_equal(a, e)
    np.testing.assert_allclose(got[3], ref[3], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_widens_half_precision_second_operand_exactly(dtype):
    rng = np.random.default_rng(1)
    lanes = simd.lanes_of(np.dtype(dtype).itemsize)
    nv = 5
    width = nv * lanes
    w = K._pad_cols(rng.normal(size=(20, width)).astype(dtype), width)
    half = rng.uniform(0.005, 30.0, (20, width)).astype(np.float16)
    w2 = K._pad_cols(half.view(np.uint16), width)
    rows = np.array([19, 2, 2, 11], np.int64)
    out, out2 = np.zeros(width, dtype), np.full(width, 0.5, dtype)
    simd.sum_rows(out, out2, w, w2, 0, nv, rows, 0, 4, True)
    exp = np.full(width, 0.5, dtype)
    for i in rows:
        exp += half[i].astype(dtype)
    np.testing.assert_array_equal(out2, exp)
    np.testing.assert_array_equal(out, ((w[19] + w[2]) + w[2]) + w[11])


def test_half_bits_only_for_exact_values():
    exact = np.array([[0.5, 3.25], [0.0, 1e-3]], np.float16).astype(np.float32)
    assert K._half_bits(exact) is not None
    np.testing.assert_array_equal(K._half_bits(exact).view(np.float16).astype(np.float32),
                                  exact)
    assert K._half_bits(exact + np.float32(1e-6)) is None


def test_round_to_half_error_and_range():
    from rram_lsm.lsm.synapses import round_to_half

    a = np.random.default_rng(2).uniform(0.005, 40.0, 1000)
    r = round_to_half(a)
    assert np.all(np.abs(r - a) <= a * 2.0**-11)
    assert np.array_equal(r.astype(np.float16).astype(np.float64), r)
    big = np.array([1.0, 1e5])  # outside the half range: left alone
    np.testing.assert_array_equal(round_to_half(big), big)
