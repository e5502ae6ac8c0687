"""Cross-modal retrieval accuracy."""

from __future__ import annotations

import numpy as np
import torch

from rram_lsm.heads.losses import similarity


def retrieval_topk(queries: torch.Tensor, gallery: torch.Tensor, q_labels, g_labels,
                   k: int | tuple[int, ...] = 1, metric: str = "dot") -> float | tuple[float, ...]:
    """Fraction of queries whose ``k`` most similar gallery items include one of the same class.

    queries [Q, d], gallery [G, d] embeddings; labels [Q], [G]. ``k`` may be a tuple (one
    ranking serves all; returns a tuple).
    """
    ks = (k,) if isinstance(k, int) else tuple(k)
    q_labels = torch.as_tensor(np.asarray(q_labels))
    g_labels = torch.as_tensor(np.asarray(g_labels))
    sim = similarity(queries, gallery, metric)
    k_max = min(max(ks), gallery.shape[0])
    top = torch.topk(sim, k_max, dim=1).indices  # [Q, k_max], most similar first
    match = g_labels[top] == q_labels[:, None]
    out = tuple(float(match[:, :min(kk, k_max)].any(dim=1).float().mean()) for kk in ks)
    return out[0] if isinstance(k, int) else out


def chance_top1(q_labels, g_labels) -> float:
    """Expected top-1 accuracy of a random retriever: mean over queries of the fraction of the
    gallery that shares the query's class."""
    q = np.asarray(q_labels)
    g = np.asarray(g_labels)
    classes, counts = np.unique(g, return_counts=True)
    frac = dict(zip(classes.tolist(), (counts / g.size).tolist()))
    return float(np.mean([frac.get(c, 0.0) for c in q.tolist()]))
