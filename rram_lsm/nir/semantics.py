"""How the LSM's discrete-time LIF maps onto NIR's continuous-time neurons.

NIR's ``LIF`` node is the ODE ``tau dv/dt = (v_leak - v) + r I`` with a spike and a reset to
``v_reset`` whenever ``v > v_threshold``. NIR stores no time step: an importer integrates the ODE
with forward Euler at a step ``dt`` of its own choosing (snnTorch, Norse and this package use
``dt = 1e-4`` s), which gives per step::

    v[t] = (1 - dt / tau) v[t-1] + (dt / tau) v_leak + (r dt / tau) I[t]

The LSM (`rram_lsm.lsm.config`) runs::

    I[t] = const (W_in^T x[t]) + const_rec (W_rec^T s[t-1])     (W in uS)
    u[t] = decay u[t-1] (1 - s[t-1]) + I[t]                      (reset="zero")
    s[t] = u[t] > v_th

so an exported reservoir uses ``tau = dt / (1 - decay)``, ``r = tau / dt`` (input gain
``r dt / tau = 1``), ``v_leak = 0``, ``v_threshold = v_th``, ``v_reset = 0``, and the constants
folded into the dense weights (``Linear`` weight = ``const * W_in^T``, recurrent ``Linear`` weight
= ``const_rec * W_rec^T``, NIR's [out, in] layout). Reset to zero *is* NIR's reset: after a spike
the membrane restarts from 0 at the next step in both (the LSM multiplies the old membrane by
``1 - s[t-1]``; NIR / snnTorch set it to ``v_reset = 0`` right away), so the spikes are the same.

What NIR cannot carry: ``reset="subtract"`` (``u[t] = decay u[t-1] + I[t] - v_th s[t-1]``): NIR
neurons always reset *to* ``v_reset``; a subtract-reset reservoir is exported with the same
parameters (and ``reset: subtract`` in the metadata), but every NIR consumer runs it with reset
to zero. ``decay = 1`` (no leak) has ``tau = inf`` and is exported as NIR's ``IF`` node instead.
``decay = 0`` gives ``tau = dt``. Read noise, the ADC and drift are not NIR semantics: they are
described in the node metadata only (the weights are the ideal ones at inference time).

Checked (tests/lsm/test_nir_export.py): `snntorch.import_from_nir` of an exported reset-to-zero
reservoir gives our engine's spikes exactly. snnTorch runs in float32 (NIRTorch casts the
modules), our engine in float64 or float32 with the constant applied after the weight sums, so
the membranes differ in the last bits; a spike could only differ where a membrane lies within
float32 rounding of ``v_th`` (none did in 1.1 M neuron-steps of the image and audio reservoirs).

On the snnTorch side: its ``RLeaky`` with ``reset_mechanism="zero"`` and the default
``reset_delay=True`` also drops the whole input of the step after a spike (no NIR neuron does;
its importer builds neurons with ``reset_delay=False``), and its exporter writes every ``Leaky``
as a reset-to-``v_reset`` LIF whatever its ``reset_mechanism`` (snnTorch's default "subtract"
is lost there too).
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

DEFAULT_DT = 1e-4
"""Time step (s) of the Euler integration assumed on both sides (snnTorch's fixed value)."""


def lif_node(n: int, decay: float, v_th: float, dt: float = DEFAULT_DT,
             metadata: dict | None = None) -> nir.NIRNode:
    """The NIR neuron of ``n`` LSM neurons with ``decay`` and ``v_th`` (see module doc)."""
    md = dict(metadata or {})
    thr = np.full(n, float(v_th))
    zeros = np.zeros(n)
    if decay >= 1.0:  # no leak: an integrate-and-fire neuron, dv/dt = r I
        return nir.IF(r=np.full(n, 1.0 / dt), v_threshold=thr, v_reset=zeros, metadata=md)
    tau = dt / (1.0 - float(decay))
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=zeros, v_threshold=thr,
                   v_reset=zeros, metadata=md)


@dataclass(frozen=True)
class DiscreteLIF:
    """A NIR neuron population as one Euler step of ``dt``.

    ``decay`` [N]: membrane factor per step; ``gain`` [N]: factor on the synaptic input;
    ``drive`` [N]: constant input per step (from ``v_leak``); ``v_th`` [N]; ``v_reset`` [N]."""

    decay: np.ndarray
    gain: np.ndarray
    drive: np.ndarray
    v_th: np.ndarray
    v_reset: np.ndarray


def discretise(node: nir.NIRNode, dt: float = DEFAULT_DT) -> DiscreteLIF:
    """`DiscreteLIF` of a ``LIF``, ``IF`` or ``CubaLIF`` node (a CubaLIF only when its synaptic
    time constant equals ``dt``, i.e. the synaptic current has no memory; callers check)."""
    def arr(v, n=None):
        a = np.atleast_1d(np.asarray(v, np.float64)).ravel()
        return a if n is None or a.size == n else np.broadcast_to(a, (n,)).copy()

    if isinstance(node, nir.IF):
        thr = arr(node.v_threshold)
        n = thr.size
        return DiscreteLIF(np.ones(n), arr(node.r, n) * dt, np.zeros(n), thr,
                           arr(node.v_reset, n))
    thr = arr(node.v_threshold)
    n = thr.size
    if isinstance(node, nir.CubaLIF):
        tau = arr(node.tau_mem, n)
        # synaptic current with tau_syn = dt: i[t] = w_in (dt / tau_syn) S[t] = w_in S[t]
        gain = arr(node.r, n) * dt / tau * arr(node.w_in, n) * dt / arr(node.tau_syn, n)
    else:
        tau = arr(node.tau, n)
        gain = arr(node.r, n) * dt / tau
    return DiscreteLIF(1.0 - dt / tau, gain, arr(node.v_leak, n) * dt / tau, thr,
                       arr(node.v_reset, n))
