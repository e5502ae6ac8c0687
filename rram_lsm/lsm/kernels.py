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
``code * lsb``; ``lsb <= 0`` is an ideal read-out. With noise and ADC off the synaptic input is
exactly ``const * sum w`` (no ``v_read`` round trip).

Random numbers are counter-based (`crossbar.rng`), keyed by the global sample index
``g = sample_offset + b``, so results depend neither on batching nor on thread scheduling.
Output noise of (g, t, tile k, output j) is slot ``j % 4`` of word
``((g * T + t) * n_tiles + k) * nblk + j // 4``; per-cell noise of (g, t, lane, row i, output j)
is slot ``j % 4`` of word ``(((g * T + t) * 2 + lane) * R + i) * nblk + j // 4``
(``nblk = ceil(N / 4)``, lane 0 = G+, lane 1 = G-). `rram_lsm.lsm.reference` computes the same
numbers in plain numpy.

Dtype: the weight arrays' dtype (float64 or float32) is the working precision of the sums and
membranes (the ADC rounds in float64); pass the normal table in the same dtype.

Implementation note: inner loops index with unsigned offsets (``u0 + uint64(q)``) so that numba
drops its negative-index wraparound check and LLVM vectorises them (an order of magnitude), and
no array views are taken in the loops (their reference counting is atomic).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

from crossbar.rng import stream_word

_POOL: tuple[ThreadPoolExecutor, int] | None = None  # (pool, its size)

NOISE_OFF, NOISE_OUTPUT, NOISE_PERCELL = 0, 1, 2
_MASK16 = np.uint64(0xFFFF)
_TWO = np.uint64(2)
_THREE = np.uint64(3)
_SIXTEEN = np.uint64(16)


@njit(cache=True)
def _adc_code(i_ua, lsb, cmax):  # pragma: no cover - compiled
    """ADC code of a current (uA): rint(I / lsb) clipped to [-cmax, cmax] (branch-free)."""
    return min(max(np.rint(i_ua / lsb), -cmax), cmax)


@njit(cache=True)
def _adc(i_ua, lsb, cmax):  # pragma: no cover - compiled
    return _adc_code(i_ua, lsb, cmax) * lsb


@njit(cache=True)
def _ir(s_us, v_read, r_ohm):  # pragma: no cover - compiled
    if r_ohm > 0.0:
        return v_read * s_us / (1.0 + r_ohm * s_us * 1e-6)
    return v_read * s_us


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
    # Branch-free forms of the update; for finite u they equal the written-out cases exactly:
    # zero:     s = 1 -> decay * u * 0 + I = I;          s = 0 -> decay * u + I
    # subtract: s = 1 -> (decay * u + I) - v_th;         s = 0 -> (decay * u + I) - 0
    n = u.shape[0]
    one = decay - decay + 1
    for j in range(n):
        sj = spk[j] * one
        if reset_zero:
            m = decay * u[j] * (one - sj) + syn[j]
        else:
            m = decay * u[j] + syn[j] - v_th * sj
        u[j] = m
        spk[j] = m > v_th
    for j in range(n):
        counts[b, w_idx, j] += spk[j]
    if record:
        for j in range(n):
            raster[b, t, j] = spk[j]


@njit(cache=True, nogil=True)
def lif_encode(frames, w, s2, tiles, tile_lsb, tile_cmax, row_g, consts, decay, v_th, v_read,
               reset_zero, noise, seed, sample_offset, table, n_windows,
               record):  # pragma: no cover - compiled
    """Run the reservoir on a batch with noise off (``noise=False``) or output-referred.

    Args:
        frames: [B, T, n_in] uint8 binary input frames.
        w: [R, N] logical weights (uS), R = n_in + N (input rows, then recurrent rows).
        s2: [R, N] sigma+^2 + sigma-^2 per weight (uS^2); read only if ``noise``.
        tiles: [n_tiles, 5] int64 rows (r0, r1, o0, o1, group); tiles of one group partition
            its rows x outputs. tile_lsb [n_tiles] float64 ADC LSB in uA (<= 0: ideal);
            tile_cmax [n_tiles] float64 largest code magnitude.
        row_g: [n_tiles, R] float64, sum of G+ + G- of each row over the tile's columns (uS),
            for the ledger's read energy.
        consts: [n_groups] weight constants; decay, v_th, v_read: scalars; all in the dtype of
            ``w``. reset_zero: hard reset (else subtract). seed: uint64 stream seed.
        sample_offset: global index of sample 0 (keys the noise). table: normal table.
        n_windows: K; spikes are counted per window (window of step t: ``t * K // T``).
        record: also fill the raster [B, T, N] (else a [0, T, N] array is returned).
    Returns:
        counts [B, K, N] int32, final membrane [B, N], raster uint8, ledger [B, n_tiles, 2]
        float64 (active rows summed over steps; sum of their row_g).
    """
    b_n, t_n, n_in = frames.shape
    r_n, n = w.shape
    n_tiles = tiles.shape[0]
    nblk = (n + 3) // 4
    seed = np.uint64(seed)
    dt = w.dtype
    counts = np.zeros((b_n, n_windows, n), np.int32)
    mem_out = np.zeros((b_n, n), dt)
    raster = np.zeros((b_n if record else 0, t_n, n), np.uint8)
    led = np.zeros((b_n, n_tiles, 2), np.float64)
    for b in range(b_n):
        u = np.zeros(n, dt)
        syn = np.zeros(n, dt)
        mu = np.zeros(n, dt)
        var = np.zeros(n, dt)
        z = np.zeros(n, dt)
        words = np.zeros(nblk, np.uint64)
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
                m_o = tiles[k, 3] - o0
                u0 = np.uint64(o0)
                c = consts[tiles[k, 4]]
                lsb = tile_lsb[k]
                cmax = tile_cmax[k]
                for q in range(m_o):
                    j = u0 + np.uint64(q)
                    mu[j] = 0
                    var[j] = 0
                n_act = 0
                e_rows = 0.0
                for a in range(na):
                    i = active[a]
                    if i < r0 or i >= r1:
                        continue
                    n_act += 1
                    e_rows += row_g[k, i]
                    for q in range(m_o):
                        j = u0 + np.uint64(q)
                        mu[j] += w[i, j]
                    if noise:
                        for q in range(m_o):
                            j = u0 + np.uint64(q)
                            var[j] += s2[i, j]
                led[b, k, 0] += n_act
                led[b, k, 1] += e_rows
                if noise:
                    kbase = (step_key * n_tiles + k) * nblk
                    for kb in range(o0 >> 2, (o0 + m_o + 3) >> 2):
                        words[kb] = stream_word(seed, kbase + kb)
                    for q in range(m_o):
                        j = u0 + np.uint64(q)
                        wd = words[j >> _TWO]
                        z[j] = table[(wd >> ((j & _THREE) * _SIXTEEN)) & _MASK16]
                    if lsb > 0.0:
                        lsb_v = lsb / v_read
                        for q in range(m_o):
                            j = u0 + np.uint64(q)
                            cur = v_read * (mu[j] + np.sqrt(var[j]) * z[j])
                            syn[j] += c * (_adc_code(cur, lsb, cmax) * lsb_v)
                    else:
                        for q in range(m_o):
                            j = u0 + np.uint64(q)
                            cur = v_read * (mu[j] + np.sqrt(var[j]) * z[j])
                            syn[j] += c * (cur / v_read)
                elif lsb > 0.0:
                    lsb_v = lsb / v_read
                    for q in range(m_o):
                        j = u0 + np.uint64(q)
                        syn[j] += c * (_adc_code(v_read * mu[j], lsb, cmax) * lsb_v)
                else:
                    for q in range(m_o):
                        j = u0 + np.uint64(q)
                        syn[j] += c * mu[j]
            _lif_step(u, spk, syn, decay, v_th, reset_zero, counts, b, t * n_windows // t_n,
                      raster, t, record)
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
def lif_encode_percell(frames, gp, gm, sp, sm, tiles, tile_lsb, tile_cmax, tile_rohm, row_g,
                       consts, decay, v_th, v_read, reset_zero, seed, sample_offset, table,
                       n_windows, record):  # pragma: no cover - compiled
    """As `lif_encode` with per-cell noise: every active cell is re-drawn at every step.

    gp, gm: [R, N] conductances of the G+ / G- cell of each weight (uS); sp, sm: their per-read
    noise std (uS); tile_rohm [n_tiles]: lumped wire resistance of the tile for the first-order
    IR drop (0: off). Column sums of G+ and G- pass through the IR drop separately and are
    subtracted in analog before the ADC. Returns the same tuple as `lif_encode`.
    """
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
                    cur = _ir(accp[j], v_read, rohm) - _ir(accm[j], v_read, rohm)
                    if lsb > 0.0:
                        cur = _adc(cur, lsb, cmax)
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
