"""Export trained projection heads (digital, not spiking) as a plain NumPy ``.npz`` archive.

NumPy's ``.npz`` (a zip of ``.npy`` arrays) is chosen because any Python, Julia or MATLAB
environment reads it without this package, and the heads' GELU activation has no NIR node.
Keys, for each modality ``m`` in (``audio``, ``image``) and layer ``k`` (0-based)::

    m/k/weight   [out, in] float32   (y = x @ weight.T + bias, then the activation)
    m/k/bias     [out]     float32
    m/norm_mean, m/norm_std [in]     only when features were standardised: x = (x - mean) / std
    meta                  0-d str    JSON: format, activation, n_layers, proj_dim, temperature,
                                     metric, modalities

Load: ``z = np.load(path); meta = json.loads(str(z["meta"]))``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from crossbar.fsio import atomic_write_bytes, refuse_overwrite
from rram_lsm.errors import InputError

FORMAT = "rram-lsm-heads/1"


def heads_arrays(model, *, activation: str, norm: dict | None = None,
                 metric: str = "dot") -> dict[str, np.ndarray]:
    """The arrays of a `rram_lsm.heads.models.DualProjection` (or anything with ``.audio`` /
    ``.image`` sub-modules of Linear layers under ``.net``)."""
    import torch

    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"format": FORMAT, "activation": activation, "metric": metric,
                  "modalities": []}
    for m in ("audio", "image"):
        head = getattr(model, m, None)
        if head is None:
            continue
        linears = [x for x in head.modules() if isinstance(x, torch.nn.Linear)]
        if not linears:
            raise InputError(f"head '{m}' has no Linear layer")
        for k, lin in enumerate(linears):
            arrays[f"{m}/{k}/weight"] = lin.weight.detach().cpu().numpy().astype(np.float32)
            arrays[f"{m}/{k}/bias"] = lin.bias.detach().cpu().numpy().astype(np.float32)
        meta["modalities"].append(m)
        meta["n_layers"] = len(linears)
        meta["proj_dim"] = int(linears[-1].weight.shape[0])
        if norm and m in norm:
            mu, sd = norm[m]
            arrays[f"{m}/norm_mean"] = np.asarray(mu, np.float32)
            arrays[f"{m}/norm_std"] = np.asarray(sd, np.float32)
    if hasattr(model, "temperature"):
        meta["temperature"] = float(model.temperature)
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def export_heads(model_or_result, path: str | os.PathLike, *, activation: str | None = None,
                 metric: str = "dot", force: bool = False) -> Path:
    """Write heads to ``path`` (.npz) atomically. Accepts a `rram_lsm.heads.train.TrainResult`
    (its ``model`` and ``norm``) or a module; ``activation`` defaults to the one found in the
    module (GELU, ReLU, Tanh, Sigmoid, or identity)."""
    model = getattr(model_or_result, "model", model_or_result)
    norm = getattr(model_or_result, "norm", None)
    activation = activation or _activation_of(model)
    arrays = heads_arrays(model, activation=activation, norm=norm, metric=metric)
    refuse_overwrite(path, force)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=force)


def _activation_of(model) -> str:
    import torch

    names = {torch.nn.GELU: "gelu", torch.nn.ReLU: "relu", torch.nn.Tanh: "tanh",
             torch.nn.Sigmoid: "sigmoid"}
    for mod in model.modules():
        for cls, name in names.items():
            if isinstance(mod, cls):
                return name
    return "identity"


def apply_heads(path: str | os.PathLike, features: np.ndarray, modality: str) -> np.ndarray:
    """Embeddings of ``features`` [n, in] with the heads of ``path`` (plain NumPy; the reference
    of how a user without this package applies them)."""
    from math import erf, sqrt

    z = np.load(path)
    meta = json.loads(str(z["meta"]))
    x = np.asarray(features, np.float64)
    if f"{modality}/norm_mean" in z:
        x = (x - z[f"{modality}/norm_mean"]) / z[f"{modality}/norm_std"]
    acts = {"gelu": np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2)))),
            "relu": lambda v: np.maximum(v, 0), "tanh": np.tanh,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "identity": lambda v: v}
    for k in range(meta["n_layers"]):
        x = acts[meta["activation"]](x @ z[f"{modality}/{k}/weight"].T + z[f"{modality}/{k}/bias"])
    return x
