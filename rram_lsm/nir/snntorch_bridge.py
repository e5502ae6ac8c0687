"""Run a NIR graph with snnTorch's own importer (`snntorch.import_from_nir`), for checks.

The importer builds a NIRTorch ``GraphModule`` in float32 (NIRTorch casts every module) whose
neurons keep their membranes inside (``init_hidden``); it is stepped once per time step with the
state dictionary NIRTorch threads through, and reset before each call.
"""

from __future__ import annotations

import contextlib
import io

import nir
import numpy as np


def run_snntorch(graph: nir.NIRGraph, frames: np.ndarray) -> np.ndarray:
    """Spikes [B, T, N_out] (uint8) of ``graph`` imported with `snntorch.import_from_nir`
    on binary ``frames`` [B, T, n_in]."""
    import torch
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints progress and warnings
        net = import_from_nir(graph)
    utils.reset(net)
    for m in net.modules():  # nested graphs hold their own neurons
        if hasattr(m, "reset_mem"):
            m.reset_mem()
    x = torch.as_tensor(np.asarray(frames), dtype=torch.float32)
    out, state = [], None
    with torch.no_grad():
        for t in range(x.shape[1]):
            o, state = net(x[:, t], state)
            out.append((o != 0).to(torch.uint8).numpy())
    return np.stack(out, axis=1)
