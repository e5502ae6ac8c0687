"""Numba kernels of the macro: analog MVM (per-cell or output-referred noise, IR drop, ADC) and
the sequential pulse engine (FORM / SET / RESET / READ / VERIFY) used by forming, write-verify and
firmware replay.

Kernels are pure functions of arrays; `crossbar.reference` holds a plain numpy/python reference of
each one, and the tests check that both give the same numbers. Units: conductance uS, voltage V,
current uA (V * uS), time ns inside pulses, energy J.

Random numbers come from `crossbar.rng` (counter-based), so results do not depend on how
``prange`` schedules threads: noise of cell (b, lane, i, j) is value ``j`` of the row stream with
base counter ``((b * 2 + lane) * R + i) * ceil(C / 4)``; output noise of (b, j) is value ``j`` of
the row with base ``b * ceil(C / 4)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from crossbar import readchain as rc
from crossbar.rng import stream_word, table_normal

# Pulse-engine operation kinds and conditions (also the firmware opcodes).
OP_WAIT, OP_FORM, OP_SET, OP_RESET, OP_READ, OP_VERIFY = 0, 1, 2, 3, 4, 5
COND_ALWAYS, COND_IF_BELOW, COND_IF_ABOVE = 0, 1, 2
# Cell status codes.
PRISTINE, FORMED, STUCK_LOW, STUCK_HIGH = 0, 1, 2, 3
# Verify outcomes kept per cell during a pulse sequence.
VERIFY_NONE, VERIFY_BELOW, VERIFY_PASS, VERIFY_ABOVE = 0, 1, 2, 3


class ReadParams(NamedTuple):
    """Scalars of one analog read (all floats: numba compiles one signature for them).

    v_read (V) on an active word line; r_ohm lumped wire resistance of the region for the
    first-order IR drop (0: off); ADC lsb_ua (<= 0: ideal read-out) and code range
    [code_min, code_max] (see `crossbar.periphery.Adc`).
    """

    v_read: float
    r_ohm: float
    lsb_ua: float
    code_min: float
    code_max: float


class PulsePhysics(NamedTuple):
    """Scalars of the pulse engine `apply_pulses` (all floats; built from a preset by
    `crossbar.macro.pulse_physics`). Units: s, V, ns, uS, uA, J."""

    t0_s: float  # drift reference time
    v_read: float
    t_read_ns: float
    noise_rel: float  # read noise: sigma = sqrt((noise_rel G)^2 + noise_floor^2)
    noise_floor_us: float
    g_min_us: float  # RESET floor
    g_max_us: float  # SET ceiling at nominal compliance
    v_set_th: float
    v_reset_th: float
    set_rate: float  # per V over threshold, per t_ref
    reset_rate: float
    t_ref_ns: float
    c2c_std: float  # cycle-to-cycle spread of a pulse's step
    icc_nominal_ua: float
    e_write_overhead_j: float


@njit(cache=True, parallel=True)
def adc_quantize(i_ua, lsb_ua, code_min, code_max):  # pragma: no cover - compiled
    """Quantise currents [B, C] (uA) to codes in [code_min, code_max]; returns (values, codes)."""
    b_n, c_n = i_ua.shape
    out = np.empty((b_n, c_n), np.float64)
    codes = np.empty((b_n, c_n), np.int32)
    for b in prange(b_n):
        for j in range(c_n):
            v, c = rc.adc_read(i_ua[b, j], lsb_ua, code_min, code_max)
            out[b, j] = v
            codes[b, j] = c
    return out, codes


@njit(cache=True)
def _accumulate_percell(acc, xi, g_row, s_row, seed, base, table, noise):  # pragma: no cover
    c_n = g_row.shape[0]
    if not noise:
        for j in range(c_n):
            acc[j] += xi * g_row[j]
        return
    nblk = (c_n + 3) // 4
    for k in range(nblk):
        w = stream_word(seed, base + k)
        j0 = 4 * k
        for q in range(4):
            j = j0 + q
            if j >= c_n:
                break
            g = g_row[j] + s_row[j] * table_normal(w, q, table)
            if g < 0.0:  # a conductance cannot be negative
                g = 0.0
            acc[j] += xi * g


@njit(cache=True, parallel=True)
def mvm_percell(x, gp, gm, sp, sm, differential, noise, seed, table, read):  # pragma: no cover
    """Analog MVM with per-cell, per-read conductance noise.

    x: [B, R] input levels in [0, 1] (fraction of ``v_read`` on each row; spikes are 0/1).
    gp, gm: [R, C] conductances (uS) of the positive / negative cell of each column pair
    (``gm`` is ignored unless ``differential``). sp, sm: [R, C] per-cell read-noise std (uS).
    Each active cell's conductance is drawn afresh, clipped at 0, summed per column, passed
    through the first-order IR drop (``read.r_ohm`` > 0) and, for pairs, subtracted in analog;
    the difference current is quantised by the ADC (``read.lsb_ua`` <= 0: ideal).
    ``read``: a `ReadParams`. Returns (values [B, C] uA, codes [B, C] int32).
    """
    v_read, r_ohm = read.v_read, read.r_ohm
    lsb_ua, code_min, code_max = read.lsb_ua, read.code_min, read.code_max
    b_n, r_n = x.shape
    c_n = gp.shape[1]
    nblk = (c_n + 3) // 4
    seed = np.uint64(seed)
    out = np.empty((b_n, c_n), np.float64)
    codes = np.zeros((b_n, c_n), np.int32)
    for b in prange(b_n):
        accp = np.zeros(c_n, np.float64)
        accm = np.zeros(c_n, np.float64)
        for i in range(r_n):
            xi = np.float64(x[b, i])
            if xi == 0.0:
                continue
            _accumulate_percell(accp, xi, gp[i], sp[i], seed,
                                ((b * 2) * r_n + i) * nblk, table, noise)
            if differential:
                _accumulate_percell(accm, xi, gm[i], sm[i], seed,
                                    ((b * 2 + 1) * r_n + i) * nblk, table, noise)
        for j in range(c_n):
            cur = rc.ir_drop(accp[j], v_read, r_ohm)
            if differential:
                cur -= rc.ir_drop(accm[j], v_read, r_ohm)
            v, c = rc.adc_read(cur, lsb_ua, code_min, code_max)
            out[b, j] = v
            codes[b, j] = c
    return out, codes


@njit(cache=True, parallel=True)
def mvm_output_noise(x, w, s2, noise, seed, table, read):  # pragma: no cover - compiled
    """Analog MVM with the exact output-referred equivalent of per-cell Gaussian noise.

    Valid while IR drop and conductance clipping are negligible: for independent cell noise the
    column current is Gaussian with mean ``v * x . w`` and variance ``v^2 * (x^2) . s2``.
    x: [B, R] levels; w: [R, C] = G+ - G- (uS); s2: [R, C] = sigma+^2 + sigma-^2 (uS^2).
    Event-driven: only nonzero inputs add their weight rows. ``read``: a `ReadParams`
    (``r_ohm`` unused). Returns (values uA, codes).
    """
    v_read = read.v_read
    lsb_ua, code_min, code_max = read.lsb_ua, read.code_min, read.code_max
    b_n, r_n = x.shape
    c_n = w.shape[1]
    nblk = (c_n + 3) // 4
    seed = np.uint64(seed)
    out = np.empty((b_n, c_n), np.float64)
    codes = np.zeros((b_n, c_n), np.int32)
    for b in prange(b_n):
        mu = np.zeros(c_n, np.float64)
        var = np.zeros(c_n, np.float64)
        for i in range(r_n):
            xi = np.float64(x[b, i])
            if xi == 0.0:
                continue
            x2 = xi * xi
            for j in range(c_n):
                mu[j] += xi * w[i, j]
            if noise:
                for j in range(c_n):
                    var[j] += x2 * s2[i, j]
        base = b * nblk
        for k in range(nblk):
            wd = stream_word(seed, base + k)
            for q in range(4):
                j = 4 * k + q
                if j >= c_n:
                    break
                cur = mu[j]
                if noise:
                    cur += np.sqrt(var[j]) * table_normal(wd, q, table)
                v, c = rc.adc_read(v_read * cur, lsb_ua, code_min, code_max)
                out[b, j] = v
                codes[b, j] = c
    return out, codes


@njit(cache=True)
def apply_pulses(kind, cell, v_cell, t_ns, icc_ua, cond, lo_us, hi_us, z,
                 g_prog, t_prog, nu, vbd, g_latent, status, t_start_s,
                 physics):  # pragma: no cover - compiled
    """Run a sequence of cell operations in order (the macro's write/verify engine).

    Per op (arrays of length n_ops): ``kind`` (OP_*), flat ``cell`` index, cell voltage
    ``v_cell`` (V, |BL - SL|), pulse width ``t_ns``, compliance ``icc_ua``, condition ``cond``
    (COND_*: apply a pulse always, only if the cell's last verify read was below the window, or
    only if above), verify window [``lo_us``, ``hi_us``], and one standard normal ``z`` (the
    cycle-to-cycle draw of a pulse or the read noise of a READ/VERIFY).

    Cell state (arrays of length n_cells): ``g_prog``, ``t_prog``, ``nu``, ``vbd``, ``g_latent``,
    ``status`` (see `crossbar.device.CellArrays`); ``t_start_s`` the macro clock; ``physics`` a
    `PulsePhysics`.

    Physics (see the preset for values):
    * FORM or SET on a pristine cell with v >= its breakdown voltage forms it: G becomes its
      latent formed conductance scaled by icc / icc_nominal (G_LRS grows with compliance).
    * SET on a formed cell moves G toward g_top = g_max * min(1, icc / icc_nominal) by a
      fraction eta = set_rate * (v - v_set_th) * (t / t_ref) * max(0, 1 + c2c * z), eta <= 1.
    * RESET moves G toward g_min likewise. Stuck cells never change. FORM on a formed cell
      does nothing.
    * READ / VERIFY return G(t) + sigma(G) * z with sigma = sqrt((noise_rel G)^2 + floor^2),
      where G(t) includes drift; VERIFY stores below / pass / above for the cell, and a cell
      that passed skips all later ops of the sequence.
    * Time advances by each op's width (WAIT: ``t_ns``); a changed cell restarts its drift clock.

    Mutates g_prog, t_prog, status in place. Returns (reads [n_ops] uS (NaN where no read),
    applied [n_ops] bool, t_end_s, write_energy_j, n_pulses, n_reads, read_energy_j).
    """
    (t0_s, v_read, t_read_ns, noise_rel, noise_floor_us, g_min_us, g_max_us, v_set_th,
     v_reset_th, set_rate, reset_rate, t_ref_ns, c2c_std, icc_nominal_ua,
     e_write_overhead_j) = physics
    n = kind.shape[0]
    reads = np.full(n, np.nan)
    applied = np.zeros(n, np.bool_)
    # verify state per touched cell; cells are looked up densely
    last = np.zeros(g_prog.shape[0], np.int8)
    t = t_start_s
    e_write = 0.0
    e_read = 0.0
    n_pulses = 0
    n_reads = 0
    for k in range(n):
        op = kind[k]
        c = cell[k]
        if op == OP_WAIT:
            t += t_ns[k] * 1e-9
            applied[k] = True
            continue
        if last[c] == VERIFY_PASS:
            continue
        if op == OP_READ or op == OP_VERIFY:
            g = g_prog[c]
            if status[c] == FORMED:
                g = g * ((t - t_prog[c] + t0_s) / t0_s) ** (-nu[c])
            sig = rc.read_sigma(g, noise_rel, noise_floor_us)
            r = g + sig * z[k]
            reads[k] = r
            applied[k] = True
            n_reads += 1
            e_read += v_read * v_read * g * 1e-6 * t_read_ns * 1e-9
            t += t_read_ns * 1e-9
            if op == OP_VERIFY:
                if r < lo_us[k]:
                    last[c] = VERIFY_BELOW
                elif r > hi_us[k]:
                    last[c] = VERIFY_ABOVE
                else:
                    last[c] = VERIFY_PASS
            continue
        # a pulse
        cd = cond[k]
        if cd == COND_IF_BELOW and last[c] != VERIFY_BELOW:
            continue
        if cd == COND_IF_ABOVE and last[c] != VERIFY_ABOVE:
            continue
        v = v_cell[k]
        w = t_ns[k]
        applied[k] = True
        n_pulses += 1
        t += w * 1e-9
        st = status[c]
        g_before = g_prog[c]
        e_write += v * v * g_before * 1e-6 * w * 1e-9 + e_write_overhead_j
        if st == STUCK_LOW or st == STUCK_HIGH:
            continue
        scale = icc_ua[k] / icc_nominal_ua
        if st == PRISTINE:
            if (op == OP_FORM or op == OP_SET) and v >= vbd[c]:
                g_prog[c] = g_latent[c] * scale
                status[c] = FORMED
                t_prog[c] = t
            continue
        # formed cell: bring the stored value to "now" (drift) before moving it
        g = g_prog[c] * ((t - t_prog[c] + t0_s) / t0_s) ** (-nu[c])
        spread = 1.0 + c2c_std * z[k]
        if spread < 0.0:
            spread = 0.0
        if op == OP_SET and v > v_set_th:
            g_top = g_max_us * min(1.0, scale)
            if g < g_top:
                eta = min(1.0, set_rate * (v - v_set_th) * (w / t_ref_ns) * spread)
                g = g + (g_top - g) * eta
            g_prog[c] = g
            t_prog[c] = t
        elif op == OP_RESET and v > v_reset_th:
            if g > g_min_us:
                eta = min(1.0, reset_rate * (v - v_reset_th) * (w / t_ref_ns) * spread)
                g = g - (g - g_min_us) * eta
            g_prog[c] = g
            t_prog[c] = t
    return reads, applied, t, e_write, n_pulses, n_reads, e_read
