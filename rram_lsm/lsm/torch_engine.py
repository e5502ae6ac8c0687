"""The ``torch`` engine: batched dense tensors on CPU or CUDA, the function of `kernels`.

Per tile the input part of the MVM, ``x[:, t] @ W[in rows]``, is computed for all steps at once
(one GEMM); the recurrent part ``s[t-1] @ W[rec rows]`` runs in the time loop. Noise, ADC and the
LIF update follow `rram_lsm.lsm.kernels` exactly, except that the normals come from a
`torch.Generator` seeded with (seed, sample_offset): with noise on, spikes match the numba engine
in distribution, not bit for bit. With noise off (float64) they are identical up to summation
order. Per-cell noise draws a [B, rows, cols] tensor per tile and step (memory-bound; chunked over
the batch): use it on a GPU.
"""

from __future__ import annotations

import numpy as np
import torch

from rram_lsm.lsm import torch_readchain as trc

_PERCELL_CHUNK = 16_000_000  # elements of one [b, rows, cols] draw


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.float64 if np.dtype(dtype) == np.float64 else torch.float32


def resolve_device(device: str) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from rram_lsm.errors import ConfigError

        raise ConfigError(f"device '{device}' requested but CUDA is not available")
    return dev


def lif_encode_torch(frames, tiles, lif, noise, seed, sample_offset, n_windows, record, *,
                     w=None, s2=None, gp=None, gm=None, sp=None, sm=None, device="cpu"):
    """Same arguments and returns as `reference.lif_encode_ref` (numpy in, numpy out), plus
    ``device``; the working dtype is that of ``w`` (or ``gp`` for per-cell noise)."""
    dev = resolve_device(device)
    base = gp if noise == "percell" else w
    dt = _torch_dtype(base.dtype)
    b_n, t_n, n_in = frames.shape
    r_n, n = base.shape
    tile_lsb, tile_cmax, tile_rohm, row_g, consts = (tiles.lsb, tiles.cmax, tiles.rohm,
                                                     tiles.row_g, tiles.consts)
    decay, v_th, v_read, reset_zero = lif
    tiles = np.asarray(tiles.bounds, np.int64)
    n_tiles = len(tiles)

    def T(a):
        return torch.as_tensor(np.ascontiguousarray(a), device=dev, dtype=dt)

    # time-major binary inputs [T, B, n_in] (frames are 0/1, see model.check_frames)
    xt = torch.as_tensor(np.ascontiguousarray(frames), device=dev).permute(1, 0, 2)
    xt = xt.contiguous().to(dt)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(np.random.default_rng([int(seed), int(sample_offset)]).integers(2**62)))
    if noise == "percell":
        Gp, Gm, Sp, Sm = T(gp), T(gm), T(sp), T(sm)
    else:
        W = T(w)
        S2 = T(s2) if noise == "output" else None
    rg = torch.as_tensor(row_g, device=dev, dtype=dt)
    decay_t = torch.tensor(decay, dtype=dt, device=dev)
    consts = [float(np.asarray(c, dtype=base.dtype)) for c in consts]

    # per tile: the input rows' contribution for all steps ([T, B, m], one GEMM), the
    # recurrent row range, and the ledger's input-row counts
    pre = []
    led = torch.zeros((b_n, n_tiles, 2), dtype=torch.float64, device=dev)
    for k, (r0, r1, o0, o1, _g) in enumerate(tiles):
        i0, i1 = min(r0, n_in), min(r1, n_in)
        j0, j1 = max(r0, n_in) - n_in, max(r1, n_in) - n_in
        xi = xt[:, :, i0:i1]
        led[:, k, 0] += xi.sum(dim=(0, 2)).to(torch.float64)
        led[:, k, 1] += (xi @ rg[k, i0:i1]).sum(dim=0).to(torch.float64)
        mu_in = var_in = None
        if noise != "percell" and i1 > i0:
            mu_in = xi @ W[i0:i1, o0:o1]
            if noise == "output":
                var_in = xi @ S2[i0:i1, o0:o1]
        w_rec = s2_rec = None
        if noise != "percell" and j1 > j0:
            w_rec = W[n_in + j0:n_in + j1, o0:o1]
            if noise == "output":
                s2_rec = S2[n_in + j0:n_in + j1, o0:o1]
        pre.append((i0, i1, j0, j1, mu_in, var_in, w_rec, s2_rec))

    full = n_tiles == 1 and tiles[0][2] == 0 and tiles[0][3] == n
    u = torch.zeros((b_n, n), dtype=dt, device=dev)
    sf = torch.zeros((b_n, n), dtype=dt, device=dev)
    counts = torch.zeros((n_windows, b_n, n), dtype=dt, device=dev)
    raster = torch.zeros((t_n if record else 0, b_n, n), dtype=torch.uint8, device=dev)
    for t in range(t_n):
        syn = None if full else torch.zeros((b_n, n), dtype=dt, device=dev)
        for k, (r0, r1, o0, o1, grp) in enumerate(tiles):
            i0, i1, j0, j1, mu_in, var_in, w_rec, s2_rec = pre[k]
            sr = sf[:, j0:j1]
            c, lsb, cmax = consts[grp], float(tile_lsb[k]), float(tile_cmax[k])
            if noise == "percell":
                z = torch.cat([xt[t, :, i0:i1], sr], dim=1)  # [B, rows]
                rows = slice(r0, r1)
                accp = _percell_sum(z, Gp[rows, o0:o1], Sp[rows, o0:o1], gen)
                accm = _percell_sum(z, Gm[rows, o0:o1], Sm[rows, o0:o1], gen)
                rohm = float(tile_rohm[k])
                cur = trc.ir_drop(accp, v_read, rohm) - trc.ir_drop(accm, v_read, rohm)
                if lsb > 0:
                    cur = trc.adc_value(cur, lsb, -cmax, cmax)
                part = c * (cur / v_read)
            else:
                mu = _affine(mu_in, t, sr, w_rec, b_n, o1 - o0, dt, dev)
                if noise == "output":
                    var = _affine(var_in, t, sr, s2_rec, b_n, o1 - o0, dt, dev)
                    zn = torch.randn(mu.shape, generator=gen, device=dev, dtype=dt)
                    cur = v_read * (mu + torch.sqrt(var) * zn)
                    if lsb > 0:
                        part = c * trc.adc_code_scaled(cur, lsb, -cmax, cmax, lsb / v_read)
                    else:
                        part = c * (cur / v_read)
                elif lsb > 0:
                    part = c * trc.adc_code_scaled(v_read * mu, lsb, -cmax, cmax,
                                                   lsb / v_read)
                else:
                    part = c * mu
            if full:
                syn = part
            else:
                syn[:, o0:o1] += part
        # the kernels' branch-free forms, same operation order
        if reset_zero:
            u = torch.addcmul(syn, decay_t * u, 1.0 - sf)
        else:
            u = decay_t * u + syn - v_th * sf
        s = u > v_th
        sf = s.to(dt)
        counts[t * n_windows // t_n] += sf
        if record:
            raster[t] = s
    # recurrent rows read: the spikes of steps 0..T-2 (all spikes but the last step's)
    total = counts.sum(dim=0)
    prev = (total - sf).to(torch.float64)
    for k in range(n_tiles):
        j0, j1 = pre[k][2], pre[k][3]
        if j1 > j0:
            led[:, k, 0] += prev[:, j0:j1].sum(dim=1)
            led[:, k, 1] += prev[:, j0:j1] @ rg[k, n_in + j0:n_in + j1].to(torch.float64)
    counts = counts.transpose(0, 1).to(torch.int32)
    return (counts.cpu().numpy(), u.cpu().numpy(), raster.transpose(0, 1).cpu().numpy(),
            led.cpu().numpy())


def _affine(pre_in, t, sr, w_rec, b_n, m, dt, dev):
    """pre_in[t] + sr @ w_rec, with either part possibly absent."""
    if pre_in is not None and w_rec is not None:
        return torch.addmm(pre_in[t], sr, w_rec)
    if pre_in is not None:
        return pre_in[t]
    if w_rec is not None:
        return sr @ w_rec
    return torch.zeros((b_n, m), dtype=dt, device=dev)


def _percell_sum(z: torch.Tensor, g: torch.Tensor, sd: torch.Tensor,
                 gen: torch.Generator) -> torch.Tensor:
    """sum_i z[b, i] * max(g[i, j] + sd[i, j] * N(0, 1), 0), a fresh draw per (b, i, j)."""
    b_n = z.shape[0]
    rows, cols = g.shape
    out = torch.empty((b_n, cols), dtype=g.dtype, device=g.device)
    step = max(1, _PERCELL_CHUNK // max(1, rows * cols))
    for b0 in range(0, b_n, step):
        b1 = min(b_n, b0 + step)
        noise = torch.randn((b1 - b0, rows, cols), generator=gen, device=g.device, dtype=g.dtype)
        cells = torch.clamp(g + sd * noise, min=0.0)
        out[b0:b1] = torch.einsum("bi,bij->bj", z[b0:b1], cells)
    return out
