"""Plain numpy / python references of the kernels in `crossbar.kernels` (used by the tests).

They are written for clarity, not speed, and use the same counter-based random numbers
(`crossbar.rng.normals_ref`), so a kernel and its reference agree to float64 rounding.
"""

from __future__ import annotations

import numpy as np

from crossbar import kernels as K
from crossbar import readchain_ref as rcr
from crossbar.rng import normals_ref


def adc_quantize_ref(i_ua, lsb_ua, code_min, code_max):
    """Reference of `crossbar.kernels.adc_quantize`: (values uA, codes int32)."""
    return rcr.adc_read(i_ua, lsb_ua, code_min, code_max)


def mvm_percell_ref(x, gp, gm, sp, sm, differential, noise, seed, read):
    """Reference of `crossbar.kernels.mvm_percell` (same arguments but the normal table)."""
    v_read, r_ohm = read.v_read, read.r_ohm
    x = np.asarray(x, dtype=np.float64)
    b_n, r_n = x.shape
    c_n = gp.shape[1]
    nblk = (c_n + 3) // 4
    b_idx = np.arange(b_n)[:, None]
    i_idx = np.arange(r_n)[None, :]

    def column_sums(g, s, lane):
        if noise:
            base = ((b_idx * 2 + lane) * r_n + i_idx) * nblk  # [B, R]
            z = normals_ref(seed, base, c_n)  # [B, R, C]
            g_read = np.maximum(g[None] + s[None] * z, 0.0)
        else:
            g_read = np.broadcast_to(g[None], (b_n, r_n, c_n))
        return np.einsum("br,brc->bc", x, g_read)

    cur = rcr.ir_drop(column_sums(gp, sp, 0), v_read, r_ohm)
    if differential:
        cur = cur - rcr.ir_drop(column_sums(gm, sm, 1), v_read, r_ohm)
    return adc_quantize_ref(cur, read.lsb_ua, read.code_min, read.code_max)


def mvm_output_noise_ref(x, w, s2, noise, seed, read):
    """Reference of `crossbar.kernels.mvm_output_noise` (same arguments but the table)."""
    x = np.asarray(x, dtype=np.float64)
    b_n = x.shape[0]
    c_n = w.shape[1]
    mu = x @ w
    cur = mu
    if noise:
        z = normals_ref(seed, np.arange(b_n) * ((c_n + 3) // 4), c_n)
        cur = mu + np.sqrt((x * x) @ s2) * z
    return adc_quantize_ref(read.v_read * cur, read.lsb_ua, read.code_min, read.code_max)


def apply_pulses_ref(kind, cell, v_cell, t_ns, icc_ua, cond, lo_us, hi_us, z,
                     g_prog, t_prog, nu, vbd, g_latent, status, t_start_s, physics):
    """Line-by-line python version of `crossbar.kernels.apply_pulses` (same signature)."""
    p = physics
    t0_s, v_read, t_read_ns, noise_rel, noise_floor_us = (p.t0_s, p.v_read, p.t_read_ns,
                                                          p.noise_rel, p.noise_floor_us)
    g_min_us, g_max_us, v_set_th, v_reset_th = p.g_min_us, p.g_max_us, p.v_set_th, p.v_reset_th
    set_rate, reset_rate, t_ref_ns, c2c_std = p.set_rate, p.reset_rate, p.t_ref_ns, p.c2c_std
    icc_nominal_ua, e_write_overhead_j = p.icc_nominal_ua, p.e_write_overhead_j
    n = len(kind)
    reads = np.full(n, np.nan)
    applied = np.zeros(n, bool)
    last: dict[int, int] = {}
    t = t_start_s
    e_write = e_read = 0.0
    n_pulses = n_reads = 0

    def drifted(c):
        return g_prog[c] * ((t - t_prog[c] + t0_s) / t0_s) ** (-nu[c])

    for k in range(n):
        op, c = int(kind[k]), int(cell[k])
        if op == K.OP_WAIT:
            t += t_ns[k] * 1e-9
            applied[k] = True
            continue
        if last.get(c) == K.VERIFY_PASS:
            continue
        if op in (K.OP_READ, K.OP_VERIFY):
            g = drifted(c) if status[c] == K.FORMED else g_prog[c]
            r = g + rcr.read_sigma(g, noise_rel, noise_floor_us) * z[k]
            reads[k], applied[k] = r, True
            n_reads += 1
            e_read += v_read**2 * g * 1e-6 * t_read_ns * 1e-9
            t += t_read_ns * 1e-9
            if op == K.OP_VERIFY:
                last[c] = (K.VERIFY_BELOW if r < lo_us[k]
                           else K.VERIFY_ABOVE if r > hi_us[k] else K.VERIFY_PASS)
            continue
        if cond[k] == K.COND_IF_BELOW and last.get(c) != K.VERIFY_BELOW:
            continue
        if cond[k] == K.COND_IF_ABOVE and last.get(c) != K.VERIFY_ABOVE:
            continue
        v, w = v_cell[k], t_ns[k]
        applied[k] = True
        n_pulses += 1
        t += w * 1e-9
        e_write += v * v * g_prog[c] * 1e-6 * w * 1e-9 + e_write_overhead_j
        if status[c] in (K.STUCK_LOW, K.STUCK_HIGH):
            continue
        scale = icc_ua[k] / icc_nominal_ua
        if status[c] == K.PRISTINE:
            if op in (K.OP_FORM, K.OP_SET) and v >= vbd[c]:
                g_prog[c], status[c], t_prog[c] = g_latent[c] * scale, K.FORMED, t
            continue
        g = drifted(c)
        spread = max(0.0, 1.0 + c2c_std * z[k])
        if op == K.OP_SET and v > v_set_th:
            g_top = g_max_us * min(1.0, scale)
            if g < g_top:
                g += (g_top - g) * min(1.0, set_rate * (v - v_set_th) * (w / t_ref_ns) * spread)
            g_prog[c], t_prog[c] = g, t
        elif op == K.OP_RESET and v > v_reset_th:
            if g > g_min_us:
                g -= (g - g_min_us) * min(1.0, reset_rate * (v - v_reset_th) * (w / t_ref_ns) * spread)
            g_prog[c], t_prog[c] = g, t
    return reads, applied, t, e_write, n_pulses, n_reads, e_read
