"""Plain numpy reference of the LSM kernels (`rram_lsm.lsm.kernels`), for the tests.

Written for clarity: one sample and one step at a time, the same counter-based normals
(`crossbar.rng.normals_ref`) and the same order of additions (active rows in ascending order,
inputs before neurons), so that in float64 it agrees with the numba kernels to the last bit.
"""

from __future__ import annotations

import numpy as np

from crossbar import readchain_ref as rcr
from crossbar.rng import normals_ref, short_normals_ref


def lif_encode_ref(frames, tiles, lif, noise, seed, sample_offset, n_windows, record=True, *,
                   w=None, s2=None, gp=None, gm=None, sp=None, sm=None):
    """Reference of `kernels.lif_encode` / `kernels.lif_encode_percell`.

    ``tiles``: a `kernels.TileParams`; ``lif``: a `kernels.LifParams`. ``noise``: "off",
    "output" (needs ``w``, ``s2``) or "percell" (needs gp, gm, sp, sm). Other arguments as in
    the kernels. Returns (counts [B, K, N], final membrane [B, N], raster [B, T, N] (empty
    [0, T, N] unless ``record``), ledger [B, n_tiles, 2]).
    """
    frames = np.asarray(frames)
    b_n, t_n, n_in = frames.shape
    r_n, n = (gp if noise == "percell" else w).shape
    dt = (gp if noise == "percell" else w).dtype
    nblk = (n + 3) // 4
    tile_lsb, tile_cmax, tile_rohm, row_g, consts = (tiles.lsb, tiles.cmax, tiles.rohm,
                                                     tiles.row_g, tiles.consts)
    decay, v_th, v_read, reset_zero = lif
    tiles = np.asarray(tiles.bounds, np.int64)
    n_tiles = tiles.shape[0]
    counts = np.zeros((b_n, n_windows, n), np.int32)
    mem = np.zeros((b_n, n), dt)
    raster = np.zeros((b_n, t_n, n), np.uint8)
    led = np.zeros((b_n, n_tiles, 2))
    for b in range(b_n):
        u = np.zeros(n, dt)
        spk = np.zeros(n, bool)
        for t in range(t_n):
            active = np.concatenate([np.flatnonzero(frames[b, t]), n_in + np.flatnonzero(spk)])
            syn = np.zeros(n, dt)
            step_key = (sample_offset + b) * t_n + t
            for k, (r0, r1, o0, o1, grp) in enumerate(tiles):
                rows = active[(active >= r0) & (active < r1)]
                led[b, k, 0] += rows.size
                led[b, k, 1] += float(np.sum(row_g[k, rows])) if rows.size else 0.0
                c, lsb, cmax = consts[grp], tile_lsb[k], tile_cmax[k]
                if noise == "percell":
                    accp = np.zeros(o1 - o0, dt)
                    accm = np.zeros(o1 - o0, dt)
                    for i in rows:
                        zp = normals_ref(seed, ((step_key * 2) * r_n + i) * nblk, n)[o0:o1]
                        zm = normals_ref(seed, ((step_key * 2 + 1) * r_n + i) * nblk, n)[o0:o1]
                        accp += np.maximum(gp[i, o0:o1] + sp[i, o0:o1] * zp.astype(dt), 0)
                        accm += np.maximum(gm[i, o0:o1] + sm[i, o0:o1] * zm.astype(dt), 0)
                    cur = rcr.ir_drop(accp, v_read, tile_rohm[k]) \
                        - rcr.ir_drop(accm, v_read, tile_rohm[k])
                    if lsb > 0:  # the per-cell kernel rounds in float64
                        cur = rcr.adc_value(np.asarray(cur, np.float64), lsb, -cmax, cmax)
                    syn[o0:o1] += c * (cur / v_read)
                    continue
                mu = np.zeros(o1 - o0, dt)
                var = np.zeros(o1 - o0, dt)
                for i in rows:
                    mu += w[i, o0:o1]
                    if noise == "output":
                        var += s2[i, o0:o1]
                # ADC in the working dtype (as the kernel and the torch engine)
                lsb_d, cmax_d, v_d = dt.type(lsb), dt.type(cmax), dt.type(v_read)
                if noise == "output":
                    z = short_normals_ref(seed, (step_key * n_tiles + k) * nblk, n)[o0:o1]
                    cur = v_d * (mu + np.sqrt(var) * z.astype(dt))
                    if lsb > 0:
                        syn[o0:o1] += c * rcr.adc_code_scaled(cur, lsb_d, -cmax_d, cmax_d,
                                                              lsb_d / v_d)
                    else:
                        syn[o0:o1] += c * (cur / v_d)
                elif lsb > 0:
                    syn[o0:o1] += c * rcr.adc_code_scaled(v_d * mu, lsb_d, -cmax_d, cmax_d,
                                                          lsb_d / v_d)
                else:
                    syn[o0:o1] += c * mu
            if reset_zero:
                m = np.where(spk, syn, decay * u + syn)
            else:
                m = decay * u + syn
                m = np.where(spk, m - v_th, m)
            u = m.astype(dt)
            spk = u > v_th
            counts[b, t * n_windows // t_n] += spk
            raster[b, t] = spk
        mem[b] = u
    return counts, mem, (raster if record else raster[:0]), led


def lif_dense_ref(frames, w_in, w_rec, const_in, const_rec, decay, v_th, reset_zero=True):
    """The textbook dense form (the paper's code as inferred), no tiles, no noise, no ADC:
    ``u = decay * u * (1 - s) + const_in * x @ W_in + const_rec * s @ W_rec``. Returns the
    raster [B, T, N] (bool) and the final membrane [B, N]."""
    frames = np.asarray(frames, np.float64)
    b_n, t_n, _ = frames.shape
    n = w_in.shape[1]
    u = np.zeros((b_n, n))
    s = np.zeros((b_n, n))
    raster = np.zeros((b_n, t_n, n), bool)
    for t in range(t_n):
        syn = const_in * (frames[:, t] @ w_in) + const_rec * (s @ w_rec)
        if reset_zero:
            u = decay * u * (1 - s) + syn
        else:
            u = decay * u + syn - v_th * s
        s = (u > v_th).astype(np.float64)
        raster[:, t] = s > 0
    return raster, u
