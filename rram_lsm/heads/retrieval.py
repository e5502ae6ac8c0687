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


def batched_retrieval_topk(sim: torch.Tensor, q_labels: torch.Tensor, g_labels: torch.Tensor,
                           q_weight: torch.Tensor, g_weight: torch.Tensor,
                           ks: tuple[int, ...] = (1, 5)) -> torch.Tensor:
    """`retrieval_topk` of M members at once, on de-duplicated queries and gallery.

    ``sim`` [M, Q, G] similarities of the distinct query rows to the distinct gallery rows;
    labels [M, Q], [M, G]; ``q_weight`` [M, Q] / ``g_weight`` [M, G]: how often each distinct
    row occurs in the query set / gallery (0: padding, not in the set). A query is a hit at k when
    fewer than k gallery items (counted with multiplicity) are strictly more similar than its most
    similar same-class item -- the top-k test without sorting. Ties between a same-class and an
    other-class item count for the query (`retrieval_topk` breaks them in torch.topk's order; with
    float embeddings such ties do not occur in practice).
    Returns [len(ks), M] fractions, computed as a float32 mean over the queries like
    `retrieval_topk`.
    """
    in_gallery = g_weight > 0
    same = (q_labels[:, :, None] == g_labels[:, None, :]) & in_gallery[:, None, :]
    best_pos = sim.masked_fill(~same, float("-inf")).amax(-1)  # [M, Q]
    above = (sim > best_pos[..., None]).to(sim.dtype)
    n_above = (above @ g_weight.to(sim.dtype)[:, :, None]).squeeze(-1)  # [M, Q]
    has_pos = same.any(-1)
    w = q_weight.to(torch.float32)
    den = w.sum(-1)
    out = [((w * (has_pos & (n_above < k)).to(torch.float32)).sum(-1) / den) for k in ks]
    return torch.stack(out)
