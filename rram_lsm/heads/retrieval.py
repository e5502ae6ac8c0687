"""Cross-modal retrieval accuracy."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from rram_lsm.heads.losses import similarity
from rram_lsm.heads.workspace import reused


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


def same_class_mask(q_labels: torch.Tensor, g_labels: torch.Tensor, q_weight: torch.Tensor,
                    g_weight: torch.Tensor) -> torch.Tensor:
    """[M, Q, G] bool: query q and gallery item g have the same class and both are in the set
    (weight > 0). Its transpose is the mask of the other retrieval direction."""
    return ((q_labels[:, :, None] == g_labels[:, None, :]) & (q_weight > 0)[:, :, None]
            & (g_weight > 0)[:, None, :])


@dataclass
class RetrievalMasks:
    """What `batched_retrieval_both` needs besides the similarities; fixed for a retrieval set,
    so a training computes it once. Shapes: M members, Q distinct queries, G distinct gallery
    rows."""

    other: torch.Tensor  # [M, Q, G] bool: not (same class and both in the set)
    has_q: torch.Tensor  # [M, Q] the query has a same-class gallery item
    has_g: torch.Tensor  # [M, G] the gallery item has a same-class query
    q_w: torch.Tensor  # [M, Q] float32 multiplicity of each query row (0: padding)
    g_w: torch.Tensor  # [M, G]

    @classmethod
    def of(cls, q_labels: torch.Tensor, g_labels: torch.Tensor, q_weight: torch.Tensor,
           g_weight: torch.Tensor) -> RetrievalMasks:
        same = same_class_mask(q_labels, g_labels, q_weight, g_weight)
        return cls(~same, same.any(2), same.any(1), q_weight.to(torch.float32),
                   g_weight.to(torch.float32))

    def select(self, keep: torch.Tensor) -> RetrievalMasks:
        return RetrievalMasks(*(getattr(self, f.name)[keep] for f in fields(self)))


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
    masks = RetrievalMasks.of(q_labels, g_labels, q_weight, g_weight)
    return batched_retrieval_both(sim, masks, ks)[0]


def batched_retrieval_both(sim: torch.Tensor, masks: RetrievalMasks, ks: tuple[int, ...] = (1, 5),
                           work: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`batched_retrieval_topk` in both directions from one similarity matrix: queries -> gallery
    (rows of ``sim`` [M, Q, G]) and gallery -> queries (its columns), without transposing it.
    ``work``: a dict the caller keeps between calls; the [M, Q, G] temporaries live there (fresh
    tensors of that size cost their page faults, more than the arithmetic).
    Returns ([len(ks), M], [len(ks), M]) fractions."""
    work = {} if work is None else work
    masked = reused(work, "masked", sim.shape, sim).copy_(sim).masked_fill_(masks.other, float("-inf"))
    out = []
    for dim, has_pos, w_q, w_g in ((2, masks.has_q, masks.q_w, masks.g_w),
                                   (1, masks.has_g, masks.g_w, masks.q_w)):
        best = masked.amax(dim, keepdim=True)  # the most similar same-class item per query
        above = torch.gt(sim, best, out=reused(work, "above", sim.shape, sim))
        # gallery items strictly above it, counted with multiplicity (a weighted sum over dim)
        if dim == 2:
            n_above = (above @ w_g.to(sim.dtype)[:, :, None]).squeeze(-1)
        else:
            n_above = (w_g.to(sim.dtype)[:, None, :] @ above).squeeze(1)
        den = w_q.sum(-1)
        out.append(torch.stack([(w_q * (has_pos & (n_above < k)).to(torch.float32)).sum(-1) / den
                                for k in ks]))
    return out[0], out[1]
