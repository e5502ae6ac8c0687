"""Numba kernels of the LSM: the whole LIF time loop with its analog synaptic MVMs inside.

One call runs ``B`` samples for ``T`` steps. The kernels release the GIL (``nogil``): `run_threaded`
splits a batch over a thread pool (parallel over the batch; serial kernels compile in a
fraction of the time of ``parallel=True`` ones and run as fast). Per sample and step:

1. the *active rows* are listed: inputs with ``x[t, i] = 1`` (rows ``0..n_in-1``) and neurons
   that spiked at ``t - 1`` (rows ``n_in..n_in+N-1``) -- event-driven: only these rows are read;
2. every tile (logical rows ``[r0, r1)`` x outputs ``[o0, o1)`` on one array, see
   `rram_lsm.lsm.synapses`) sums the weights of its active rows, adds read noise, converts the
   column current ``v_read * sum`` (uA) with its ADC, and adds ``const[group] * current / v_read``
   to the neurons' synaptic input ``I[t]`` (so ``const`` multiplies weights in uS);
3. the LIF update (snnTorch-style)::

       reset="zero":     u[t] = decay * u[t-1] * (1 - s[t-1]) + I[t]
       reset="subtract": u[t] = decay * u[t-1] + I[t] - v_th * s[t-1]
       s[t] = u[t] > v_th

Noise modes (semantics of `crossbar.kernels`): 0 off; 1 output-referred (column current Gaussian
with mean ``sum w`` and variance ``sum (sigma+^2 + sigma-^2)`` over the active rows, exact for
independent per-cell noise without IR drop); 2 per cell (`lif_encode_percell`: each active
cell's conductance re-drawn, clipped at 0, first-order IR drop per tile). ADC (as
`crossbar.periphery.Adc`, signed): ``code = clip(rint(I / lsb), -cmax, cmax)``, value
``code * lsb``; ``lsb <= 0`` is an ideal read-out. IR drop and ADC are the read chain's
functions (`crossbar.readchain`), shared with the crossbar kernels. With noise and ADC off the
synaptic input is exactly ``const * sum w`` (no ``v_read`` round trip).

Random numbers are counter-based (`crossbar.rng`), keyed by the global sample index
``g = sample_offset + b``, so results depend neither on batching nor on thread scheduling.
Output noise of (g, t, tile k, output j) is slot ``j % 4`` of word
``((g * T + t) * n_tiles + k) * nblk + j // 4``, read through the 4,096-level table
(`crossbar.rng.NORMAL_TABLE_4096`, which stays in L1); per-cell noise of (g, t, lane, row i, output j)
is slot ``j % 4`` of word ``(((g * T + t) * 2 + lane) * R + i) * nblk + j // 4``
(``nblk = ceil(N / 4)``, lane 0 = G+, lane 1 = G-). `rram_lsm.lsm.reference` computes the same
numbers in plain numpy.

Dtype: the weight arrays' dtype (float64 or float32) is the working precision of the sums,
the membranes and, in `lif_encode`, of the ADC (``lsb`` and ``cmax`` are cast to it, as in the
torch engine; `lif_encode_percell` rounds in float64); pass the normal table in the same dtype.

Implementation notes: in `lif_encode` (noise off / output-referred) each tile's sums of the
active rows run in `rram_lsm.lsm.simd` -- register-blocked 512-bit vectors with the next rows
prefetched, in the same order of additions as a plain loop (so the float64 and float32 results
equal `rram_lsm.lsm.reference` bit for bit); the weights are copied once per call into 64-byte
aligned arrays padded to whole vectors. The LIF update runs as a separate branch-free loop that
LLVM vectorises, and the spike list is a branch-free compaction. Other inner loops index with
unsigned offsets (``u0 + uint64(q)``) so that numba drops its negative-index wraparound check
and LLVM vectorises them, and no array views are taken in the loops (their reference counting
is atomic).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from crossbar import readchain as rc
from crossbar.rng import SHORT_SHIFT, stream_word
from rram_lsm.lsm import simd

_POOL: tuple[ThreadPoolExecutor, int] | None = None  # (pool, its size)

NOISE_OFF, NOISE_OUTPUT, NOISE_PERCELL = 0, 1, 2
_MASK16 = np.uint64(0xFFFF)
_TWO = np.uint64(2)
_THREE = np.uint64(3)
_SIXTEEN = np.uint64(16)
_ONE = np.uint64(1)
_MASK_SHORT = np.uint64(0xFFFF >> SHORT_SHIFT)
_SLOT_SHIFT = (np.uint64(SHORT_SHIFT), np.uint64(16 + SHORT_SHIFT), np.uint64(32 + SHORT_SHIFT),
               np.uint64(48 + SHORT_SHIFT))


class LifParams(NamedTuple):
    """Scalars of the LIF update and the read (see the module doc); decay, v_th and v_read in
    the working dtype (`lif_params` casts). Shared by the numba kernels, the numpy reference
    and the torch engine."""

    decay: float
    v_th: float
    v_read: float  # V
    reset_zero: bool  # hard reset (else subtract)


class TileParams(NamedTuple):
    """The analog MVM regions (tiles) of the stacked weight matrix [R, N] and their read-out.

    bounds: [n_tiles, 5] int64 rows (r0, r1, o0, o1, group): logical rows [r0, r1) x outputs
    [o0, o1); the tiles of one group partition its rows x outputs. lsb: [n_tiles] ADC LSB (uA,
    <= 0: ideal); cmax: [n_tiles] largest code magnitude; rohm: [n_tiles] lumped wire
    resistance (ohm) for the first-order IR drop of per-cell noise (0: off); row_g:
    [n_tiles, R] float64 sum of G+ + G- of each row over the tile's columns (uS, for the
    ledger's read energy); consts: [n_groups] weight constants in the working dtype.
    """

    bounds: np.ndarray
    lsb: np.ndarray
    cmax: np.ndarray
    rohm: np.ndarray
    row_g: np.ndarray
    consts: np.ndarray


def lif_params(dtype, decay: float, v_th: float, v_read: float, reset_zero: bool) -> LifParams:
    """`LifParams` with the scalars cast to ``dtype`` (the working precision)."""
    t = np.dtype(dtype).type
    return LifParams(t(decay), t(v_th), t(v_read), bool(reset_zero))


def tile_params(bounds, lsb, cmax, consts, *, rohm=None, row_g=None, n_rows: int | None = None,
                dtype=None) -> TileParams:
    """`TileParams` with contiguous arrays of the kernels' dtypes: bounds int64, lsb / cmax /
    rohm / row_g float64 (zeros when None; ``row_g`` then needs ``n_rows``), consts in
    ``dtype`` (default: its own)."""
    bounds = np.ascontiguousarray(bounds, np.int64).reshape(-1, 5)
    n_t = bounds.shape[0]
    rohm = np.zeros(n_t) if rohm is None else rohm
    if row_g is None:
        if n_rows is None:
            raise ValueError("tile_params needs row_g or n_rows")
        row_g = np.zeros((n_t, int(n_rows)))
    consts = np.asarray(consts) if dtype is None else np.asarray(consts, dtype)
    return TileParams(bounds, np.ascontiguousarray(lsb, np.float64),
                      np.ascontiguousarray(cmax, np.float64), np.ascontiguousarray(rohm, np.float64),
                      np.ascontiguousarray(row_g, np.float64), np.ascontiguousarray(consts))


@njit(cache=True)
def _active_rows(frames, b, t, spk, active):  # pragma: no cover - compiled
    """Fill ``active`` with the input rows on at step t, then n_in + j for neurons that spiked."""
    n_in = frames.shape[2]
    na = 0
    for i in range(n_in):  # branch-free compaction
        active[na] = i
        na += frames[b, t, i] != 0
    for j in range(spk.shape[0]):
        active[na] = n_in + j
        na += spk[j] != 0
    return na


@njit(cache=True)
def _lif_step(u, spk, syn, decay, v_th, reset_zero, counts, b, w_idx, raster, t, record):  # pragma: no cover
    """`_lif_update`, then count the spikes in window ``w_idx`` and record them."""
    n = u.shape[0]
    _lif_update(u, spk, syn, decay, v_th, reset_zero, n)
    for j in range(n):
        counts[b, w_idx, j] += spk[j]
    if record:
        for j in range(n):
            raster[b, t, j] = spk[j]


def padded_columns(tiles: np.ndarray, itemsize: int) -> int:
    """Columns the weight arrays need so that every tile's outputs ``[o0, o1)`` are covered by
    whole SIMD vectors starting at ``o0`` (`rram_lsm.lsm.simd`)."""
    lanes = simd.lanes_of(itemsize)
    tiles = np.asarray(tiles)
    return int(max(o0 + -(-(o1 - o0) // lanes) * lanes for o0, o1 in tiles[:, 2:4]))


def _pad_cols(a: np.ndarray, width: int) -> np.ndarray:
    """Copy of 2-D ``a`` with ``width`` columns (zeros appended), 64-byte aligned (so that a
    SIMD vector never straddles two cache lines when the row stride is a multiple of 64 bytes)."""
    nbytes = a.shape[0] * width * a.itemsize
    buf = np.zeros(nbytes + simd.VECTOR_BYTES, np.uint8)
    off = (-buf.ctypes.data) % simd.VECTOR_BYTES
    out = buf[off:off + nbytes].view(a.dtype).reshape(a.shape[0], width)
    out[:, : a.shape[1]] = a
    return out


def _half_bits(a: np.ndarray) -> np.ndarray | None:
    """``a`` as IEEE half-precision bits (uint16) if every value is exactly representable in
    half precision (`rram_lsm.lsm.synapses.Synapses.s2` is rounded so), else None."""
    h = a.astype(np.float16)
    return h.view(np.uint16) if np.array_equal(h.astype(a.dtype), a) else None


def lif_encode(frames, w, s2, tiles, lif, noise, seed, sample_offset, table, n_windows, record):
    """Run the reservoir on a batch with noise off (``noise=False``) or output-referred.

    Args:
        frames: [B, T, n_in] uint8 binary input frames.
        w: [R, N] logical weights (uS), R = n_in + N (input rows, then recurrent rows).
        s2: [R, N] sigma+^2 + sigma-^2 per weight (uS^2); read only if ``noise``.
        tiles: `TileParams` (``rohm`` unused: no IR drop with output-referred noise).
        lif: `LifParams` in the dtype of ``w``. seed: uint64 stream seed.
        sample_offset: global index of sample 0 (keys the noise). table:
            `crossbar.rng.NORMAL_TABLE_4096` in the dtype of ``w``.
        n_windows: K; spikes are counted per window (window of step t: ``t * K // T``).
        record: also fill the raster [B, T, N] (else a [0, T, N] array is returned).
    Returns:
        counts [B, K, N] int32, final membrane [B, N], raster uint8, ledger [B, n_tiles, 2]
        float64 (active rows summed over steps; sum of their row_g).

    A thin wrapper: pads the weight columns to whole SIMD vectors (64-byte aligned), casts the
    ADC's lsb and cmax to the working dtype (the ADC arithmetic runs in it), then runs
    `_lif_encode_events` (which releases the GIL). Variances that are exactly representable in
    half precision travel as half-precision bits (a quarter less memory traffic in the row
    sums; widening is exact, so the result is the same).
    """
    n = w.shape[1]
    bounds = np.ascontiguousarray(tiles.bounds, np.int64)
    width = padded_columns(bounds, w.dtype.itemsize)
    wp = _pad_cols(w, width)
    s2p = wp
    if noise:
        s2 = np.asarray(s2, w.dtype)
        half = _half_bits(s2)
        s2p = _pad_cols(s2 if half is None else half, width)
    tp = tiles._replace(bounds=bounds, lsb=np.asarray(tiles.lsb).astype(w.dtype),
                        cmax=np.asarray(tiles.cmax).astype(w.dtype))
    return _lif_encode_events(frames, wp, s2p, n, tp, lif, noise, seed, sample_offset, table,
                              n_windows, record)


@njit(cache=True)
def _input_rows(frames, b, t, active):  # pragma: no cover - compiled
    """Write the inputs on at step t (ascending) to ``active``; return their number
    (branch-free compaction: cheaper than skipping zeros when 1 input in 10 is on)."""
    na = 0
    for i in range(frames.shape[2]):
        active[na] = i
        na += frames[b, t, i] != 0
    return na


@njit(cache=True)
def _lif_update(u, spk, syn, decay, v_th, reset_zero, n):  # pragma: no cover - compiled
    """The LIF update of the first ``n`` neurons, a branch-free loop that LLVM vectorises;
    spk uint8 holds s[t-1] on entry and s[t] on exit."""
    # Branch-free forms of the update; for finite u they equal the written-out cases exactly:
    # zero:     s = 1 -> decay * u * 0 + I = I;          s = 0 -> decay * u + I
    # subtract: s = 1 -> (decay * u + I) - v_th;         s = 0 -> (decay * u + I) - 0
    one = decay - decay + 1
    for q in range(n):
        j = np.uint64(q)
        sj = spk[j] * one
        if reset_zero:
            m = decay * u[j] * (one - sj) + syn[j]
        else:
            m = decay * u[j] + syn[j] - v_th * sj
        u[j] = m
        spk[j] = m > v_th


@njit(cache=True)
def _spike_rows(spk, n, n_in, rec, counts, b, w_idx, raster, t, record):  # pragma: no cover
    """List the rows ``n_in + j`` of the neurons that spiked (ascending) in ``rec``, count
    them in window ``w_idx`` and record them; returns their number."""
    nr = 0
    for j in range(n):  # branch-free compaction
        rec[nr] = n_in + j
        nr += spk[j]
    for a in range(nr):
        j = rec[a] - n_in
        counts[b, w_idx, j] += 1
        if record:
            raster[b, t, j] = 1
    return nr


@njit(cache=True, nogil=True)
def _lif_encode_events(frames, w, s2, n, tp, lif, noise, seed, sample_offset, table,
                       n_windows, record):  # pragma: no cover - compiled
    """`lif_encode` on weights whose columns are padded to whole vectors (`padded_columns`);
    ``n`` neurons; ``tp.lsb`` and ``tp.cmax`` in the working dtype."""
    tiles, tile_lsb, tile_cmax, row_g, consts = tp.bounds, tp.lsb, tp.cmax, tp.row_g, tp.consts
    decay, v_th, v_read, reset_zero = lif
    b_n, t_n, n_in = frames.shape
    n_tiles = tiles.shape[0]
    nblk = (n + 3) // 4
    seed = np.uint64(seed)
    dt = w.dtype
    lanes = 64 // w.itemsize
    mp = 0
    for k in range(n_tiles):
        mp = max(mp, -(-(tiles[k, 3] - tiles[k, 2]) // lanes) * lanes)
    counts = np.zeros((b_n, n_windows, n), np.int32)
    mem_out = np.zeros((b_n, n), dt)
    raster = np.zeros((b_n if record else 0, t_n, n), np.uint8)
    led = np.zeros((b_n, n_tiles, 2), np.float64)
    u = np.zeros(n, dt)
    syn = np.zeros(n, dt)
    mu = np.zeros(mp, dt)  # column sums of one tile (local columns)
    var = np.zeros(mp, dt)
    z = np.zeros(4 * nblk, dt)  # whole words of normals
    spk = np.zeros(n, np.uint8)
    rec = np.zeros(n, np.int64)  # rows of the neurons that spiked at t - 1, ascending
    active = np.zeros(n_in + n, np.int64)
    row_uses = np.zeros((n_tiles, n_in + n), np.int64)  # steps each row was active, per tile
    for b in range(b_n):
        for j in range(n):
            u[j] = 0
            spk[j] = 0
        nr = 0
        for t in range(t_n):
            # active rows, ascending: inputs on at t, then n_in + j for neurons spiking at t - 1
            na = _input_rows(frames, b, t, active)
            for a in range(nr):
                active[na + a] = rec[a]
            na += nr
            for j in range(n):
                syn[j] = 0
            step_key = (sample_offset + b) * t_n + t
            for k in range(n_tiles):
                r0 = tiles[k, 0]
                r1 = tiles[k, 1]
                o0 = tiles[k, 2]
                m_o = tiles[k, 3] - o0
                nv = -(-m_o // lanes)
                c = consts[tiles[k, 4]]
                lsb = tile_lsb[k]  # in the working dtype: the ADC arithmetic is done in it
                lsb_d = lsb
                cmax_d = tile_cmax[k]
                lsb_v = lsb_d / v_read
                a0 = 0
                while a0 < na and active[a0] < r0:
                    a0 += 1
                a1 = a0
                while a1 < na and active[a1] < r1:
                    row_uses[k, active[a1]] += 1  # read energy booked once per sample, below
                    a1 += 1
                led[b, k, 0] += a1 - a0
                for q in range(nv * lanes):
                    mu[q] = 0
                    var[q] = 0
                simd.sum_rows(mu, var, w, s2, o0, nv, active, a0, a1, noise)
                u0 = np.uint64(o0)
                if noise:
                    kbase = (step_key * n_tiles + k) * nblk
                    for kb in range(o0 >> 2, (o0 + m_o + 3) >> 2):
                        # slot s of the word -> table index (wd >> 16 s) & 0xFFFF >> SHORT_SHIFT
                        wd = stream_word(seed, kbase + kb)
                        ub = np.uint64(4 * kb)
                        z[ub] = table[(wd >> _SLOT_SHIFT[0]) & _MASK_SHORT]
                        z[ub + _ONE] = table[(wd >> _SLOT_SHIFT[1]) & _MASK_SHORT]
                        z[ub + _TWO] = table[(wd >> _SLOT_SHIFT[2]) & _MASK_SHORT]
                        z[ub + _THREE] = table[(wd >> _SLOT_SHIFT[3]) & _MASK_SHORT]
                    if lsb > 0.0:
                        for q in range(m_o):
                            uq = np.uint64(q)
                            j = u0 + uq
                            cur = v_read * (mu[uq] + np.sqrt(var[uq]) * z[j])
                            syn[j] += c * rc.adc_code_scaled(cur, lsb_d, -cmax_d, cmax_d, lsb_v)
                    else:
                        for q in range(m_o):
                            uq = np.uint64(q)
                            j = u0 + uq
                            cur = v_read * (mu[uq] + np.sqrt(var[uq]) * z[j])
                            syn[j] += c * (cur / v_read)
                elif lsb > 0.0:
                    for q in range(m_o):
                        uq = np.uint64(q)
                        j = u0 + uq
                        syn[j] += c * rc.adc_code_scaled(v_read * mu[uq], lsb_d, -cmax_d, cmax_d,
                                                         lsb_v)
                else:
                    for q in range(m_o):
                        uq = np.uint64(q)
                        syn[u0 + uq] += c * mu[uq]
            _lif_update(u, spk, syn, decay, v_th, reset_zero, n)
            nr = _spike_rows(spk, n, n_in, rec, counts, b, t * n_windows // t_n, raster, t,
                             record)
        for k in range(n_tiles):
            e_rows = 0.0
            for i in range(row_uses.shape[1]):
                e_rows += row_uses[k, i] * row_g[k, i]
                row_uses[k, i] = 0
            led[b, k, 1] = e_rows
        for j in range(n):
            mem_out[b, j] = u[j]
    return counts, mem_out, raster, led


@njit(cache=True)
def _percell_row(acc, g_row_idx, g, s, o0, o1, seed, base, table):  # pragma: no cover
    # adds max(g + s * z, 0) of cells o0..o1-1 of row g_row_idx; z: slot j % 4 of word
    # base + j // 4 (the layout of crossbar.kernels.mvm_percell)
    for kb in range(o0 >> 2, (o1 + 3) >> 2):
        wd = stream_word(seed, base + kb)
        for q in range(4):
            j = 4 * kb + q
            if j < o0:
                continue
            if j >= o1:
                break
            x = g[g_row_idx, j] + s[g_row_idx, j] * table[
                np.int64((wd >> np.uint64(16 * q)) & _MASK16)]
            if x < 0.0:
                x = 0.0
            acc[j] += x


@njit(cache=True, nogil=True)
def lif_encode_percell(frames, gp, gm, sp, sm, tiles, lif, seed, sample_offset, table,
                       n_windows, record):  # pragma: no cover - compiled
    """As `lif_encode` with per-cell noise: every active cell is re-drawn at every step.

    gp, gm: [R, N] conductances of the G+ / G- cell of each weight (uS); sp, sm: their per-read
    noise std (uS); ``tiles.rohm``: lumped wire resistance of each tile for the first-order IR
    drop (0: off). Column sums of G+ and G- pass through the IR drop separately and are
    subtracted in analog before the ADC, which rounds in float64 (``tiles.lsb`` float64).
    Returns the same tuple as `lif_encode`.
    """
    tp = tiles
    tiles, tile_lsb, tile_cmax, tile_rohm = tp.bounds, tp.lsb, tp.cmax, tp.rohm
    row_g, consts = tp.row_g, tp.consts
    decay, v_th, v_read, reset_zero = lif
    b_n, t_n, n_in = frames.shape
    r_n, n = gp.shape
    n_tiles = tiles.shape[0]
    nblk = (n + 3) // 4
    seed = np.uint64(seed)
    dt = gp.dtype
    counts = np.zeros((b_n, n_windows, n), np.int32)
    mem_out = np.zeros((b_n, n), dt)
    raster = np.zeros((b_n if record else 0, t_n, n), np.uint8)
    led = np.zeros((b_n, n_tiles, 2), np.float64)
    for b in range(b_n):
        u = np.zeros(n, dt)
        syn = np.zeros(n, dt)
        accp = np.zeros(n, dt)
        accm = np.zeros(n, dt)
        spk = np.zeros(n, np.uint8)
        active = np.empty(r_n, np.int64)
        for t in range(t_n):
            na = _active_rows(frames, b, t, spk, active)
            for j in range(n):
                syn[j] = 0
            step_key = (sample_offset + b) * t_n + t
            for k in range(n_tiles):
                r0 = tiles[k, 0]
                r1 = tiles[k, 1]
                o0 = tiles[k, 2]
                o1 = tiles[k, 3]
                c = consts[tiles[k, 4]]
                lsb = tile_lsb[k]
                cmax = tile_cmax[k]
                rohm = tile_rohm[k]
                for j in range(o0, o1):
                    accp[j] = 0
                    accm[j] = 0
                n_act = 0
                e_rows = 0.0
                for a in range(na):
                    i = active[a]
                    if i < r0 or i >= r1:
                        continue
                    n_act += 1
                    e_rows += row_g[k, i]
                    _percell_row(accp, i, gp, sp, o0, o1, seed,
                                 ((step_key * 2) * r_n + i) * nblk, table)
                    _percell_row(accm, i, gm, sm, o0, o1, seed,
                                 ((step_key * 2 + 1) * r_n + i) * nblk, table)
                led[b, k, 0] += n_act
                led[b, k, 1] += e_rows
                for j in range(o0, o1):
                    cur = rc.ir_drop(accp[j], v_read, rohm) - rc.ir_drop(accm[j], v_read, rohm)
                    if lsb > 0.0:
                        cur = rc.adc_value(cur, lsb, -cmax, cmax)
                    syn[j] += c * (cur / v_read)
            _lif_step(u, spk, syn, decay, v_th, reset_zero, counts, b, t * n_windows // t_n,
                      raster, t, record)
        for j in range(n):
            mem_out[b, j] = u[j]
    return counts, mem_out, raster, led


def n_threads() -> int:
    """Threads used by `run_threaded`: numba's setting (``NUMBA_NUM_THREADS``,
    `numba.set_num_threads`)."""
    return max(1, int(numba.get_num_threads()))


def run_threaded(kernel, frames: np.ndarray, sample_offset: int, make_args,
                 threads: int | None = None):
    """Run ``kernel(*make_args(frames_chunk, offset_of_chunk))`` on contiguous chunks of the
    batch in a thread pool and concatenate the returned arrays along the batch axis.

    Results equal one call on the whole batch (the noise is keyed by the global sample index).
    """
    global _POOL
    threads = n_threads() if threads is None else threads
    b_n = frames.shape[0]
    if threads <= 1 or b_n < 2:
        return kernel(*make_args(frames, sample_offset))
    n_chunks = min(b_n, threads)
    edges = np.linspace(0, b_n, n_chunks + 1).astype(np.int64)
    if _POOL is None or _POOL[1] < threads:
        size = max(threads, os.cpu_count() or 1)
        _POOL = (ThreadPoolExecutor(max_workers=size, thread_name_prefix="lsm"), size)
    futures = [_POOL[0].submit(kernel, *make_args(frames[a:b], sample_offset + int(a)))
               for a, b in zip(edges[:-1], edges[1:])]
    parts = [f.result() for f in futures]
    return tuple(np.concatenate([p[i] for p in parts], axis=0) for i in range(len(parts[0])))
