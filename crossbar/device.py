"""Device physics that is sampled once per cell: the hidden, per-cell properties of a fresh die.

A fresh macro's cells are pristine (about 10 MOhm). Each cell has its own dielectric-breakdown
voltage (quasi-normal across the array [ESGNN]), the conductance it will take when it forms
(truncated normal between the "formed" threshold and the compliance-limited maximum), its drift
exponent, and whether it is a fabrication fault (stuck low: never forms; stuck high: shorted).
The pulse engine (`crossbar.kernels.apply_pulses`) acts on these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from crossbar import readchain_ref
from crossbar.kernels import FORMED, PRISTINE, STUCK_HIGH, STUCK_LOW
from crossbar.spec import MacroSpec


@dataclass
class CellArrays:
    """Flat per-cell state of ``n`` cells (all float64 except ``status`` int8)."""

    g_prog: np.ndarray  # conductance at the time of the last programming event (uS)
    t_prog: np.ndarray  # time of that event (s, on the macro clock)
    nu: np.ndarray  # drift exponent
    vbd: np.ndarray  # breakdown (forming) voltage (V)
    g_latent: np.ndarray  # conductance the cell takes when it forms at nominal compliance (uS)
    status: np.ndarray  # PRISTINE / FORMED / STUCK_LOW / STUCK_HIGH

    def copy(self) -> CellArrays:
        return CellArrays(*(a.copy() for a in (self.g_prog, self.t_prog, self.nu, self.vbd,
                                                self.g_latent, self.status)))


def formed_distribution(spec: MacroSpec) -> stats.rv_continuous:
    """The truncated normal of formed conductance (uS) on [threshold, g_formed_max]."""
    f = spec.forming
    if f.g_formed_std_us == 0:
        return stats.uniform(loc=f.g_formed_mean_us, scale=0.0)
    a = (f.g_formed_threshold_us - f.g_formed_mean_us) / f.g_formed_std_us
    b = (f.g_formed_max_us - f.g_formed_mean_us) / f.g_formed_std_us
    return stats.truncnorm(a, b, loc=f.g_formed_mean_us, scale=f.g_formed_std_us)


def breakdown_cdf(spec: MacroSpec, v: float | np.ndarray) -> float | np.ndarray:
    """P(breakdown voltage <= v): the formed fraction of fault-free cells after a pulse of v."""
    f = spec.forming
    if f.breakdown_std_v == 0:
        return np.asarray(v >= f.breakdown_mean_v, dtype=float)
    return stats.norm.cdf(v, loc=f.breakdown_mean_v, scale=f.breakdown_std_v)


def breakdown_quantile(spec: MacroSpec, fraction: float) -> float:
    """Forming voltage at which ``fraction`` of fault-free cells have broken down."""
    f = spec.forming
    return float(stats.norm.ppf(fraction, loc=f.breakdown_mean_v, scale=f.breakdown_std_v))


def sample_cells(spec: MacroSpec, n: int, rng: np.random.Generator) -> CellArrays:
    """Draw the hidden per-cell properties of ``n`` fresh cells."""
    p, f, d, fl = spec.pristine, spec.forming, spec.drift, spec.faults
    g_pristine = p.g_median_us * np.exp(p.g_sigma_log * rng.standard_normal(n))
    vbd = f.breakdown_mean_v + f.breakdown_std_v * rng.standard_normal(n)
    g_latent = formed_distribution(spec).rvs(size=n, random_state=rng)
    nu = d.nu_mean + d.nu_std * rng.standard_normal(n)
    u = rng.random(n)
    status = np.full(n, PRISTINE, np.int8)
    stuck_low = u < fl.stuck_low_rate
    stuck_high = (u >= fl.stuck_low_rate) & (u < fl.stuck_low_rate + fl.stuck_high_rate)
    status[stuck_low] = STUCK_LOW
    status[stuck_high] = STUCK_HIGH
    g_prog = g_pristine
    g_prog[stuck_low] = fl.g_stuck_low_us
    g_prog[stuck_high] = fl.g_stuck_high_us
    return CellArrays(g_prog=g_prog, t_prog=np.zeros(n), nu=nu, vbd=vbd,
                      g_latent=np.asarray(g_latent, dtype=np.float64), status=status)


def drifted(cells: CellArrays, t_s: float, t0_s: float) -> np.ndarray:
    """Conductance of every cell at macro time ``t_s``: formed cells relax as
    G(t) = G_prog * ((t - t_prog + t0) / t0) ** -nu; other cells do not drift."""
    g = cells.g_prog.copy()
    m = cells.status == FORMED
    if np.any(m):
        g[m] = g[m] * ((t_s - cells.t_prog[m] + t0_s) / t0_s) ** (-cells.nu[m])
    return g


def read_sigma(spec: MacroSpec, g_us: np.ndarray) -> np.ndarray:
    """Per-read noise std (uS) of cells of conductance ``g_us`` (any shape; the read chain's
    sigma(G) = sqrt((k G)^2 + sigma0^2) with the preset's k and sigma0)."""
    r = spec.read
    return readchain_ref.read_sigma(g_us, r.noise_relative, r.noise_floor_us)
