"""Contrastive losses between a batch of audio embeddings ``a`` [B, d] and image embeddings
``i`` [B, d] whose rows are pairs (row k of both has label ``y[k]``).

Logits are ``a @ i.T / tau`` (dot product, as the reference code) or the cosine version.

- ``clip``: symmetric InfoNCE with hard identity targets (CLIP).
- ``soft_clip``: the "simple CLIP" recipe with soft targets softmax((a a^T + i i^T) / 2 tau),
  **detached** (with gradients through the targets the embedding collapses to a constant; see
  docs/design.md).
- ``supcon``: cross-modal supervised contrastive: every same-class item in the batch is a
  positive (Khosla et al. 2020, applied across modalities); the default.
- ``dcl``: decoupled contrastive learning (Yeh et al. 2022): the positive is removed from the
  denominator; same-class items are not used as negatives.
- ``proto``: cross-modal prototypical networks (Snell et al. 2017; the paper's ProtoNet
  baseline): class prototypes are the mean L2-normalised embeddings of one modality in the
  batch, queries of the other modality are classified by negative squared Euclidean distance
  (cross-entropy), in both directions. The temperature is not used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity(a: torch.Tensor, i: torch.Tensor, metric: str = "dot") -> torch.Tensor:
    if metric == "cosine":
        a, i = F.normalize(a, dim=-1), F.normalize(i, dim=-1)
    return a @ i.T


def _clip(logits, a, i, y, tau):
    target = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _soft_clip(logits, a, i, y, tau):
    with torch.no_grad():
        targets = F.softmax((a @ a.T + i @ i.T) / (2 * tau), dim=-1)
    la = -(targets * F.log_softmax(logits, dim=-1)).sum(-1)
    li = -(targets.T * F.log_softmax(logits.T, dim=-1)).sum(-1)
    return 0.5 * (la.mean() + li.mean())


def _supcon_one_way(logits, pos):
    logp = F.log_softmax(logits, dim=-1)
    return -((logp * pos).sum(-1) / pos.sum(-1)).mean()


def _supcon(logits, a, i, y, tau):
    pos = (y[:, None] == y[None, :]).float()
    return 0.5 * (_supcon_one_way(logits, pos) + _supcon_one_way(logits.T, pos.T))


def _dcl_one_way(logits, same):
    n = logits.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)
    neg = ~same  # different-class items only
    pos_logit = logits[eye]
    masked = logits.masked_fill(~neg, float("-inf"))
    # rows without any negative contribute only the positive term
    lse = torch.logsumexp(masked, dim=-1)
    lse = torch.where(torch.isfinite(lse), lse, torch.zeros_like(lse))
    return (-pos_logit + lse).mean()


def _dcl(logits, a, i, y, tau):
    same = y[:, None] == y[None, :]
    return 0.5 * (_dcl_one_way(logits, same) + _dcl_one_way(logits.T, same.T))


def _proto_one_way(q, s, y):
    classes, inv = torch.unique(y, return_inverse=True)
    onehot = F.one_hot(inv, classes.numel()).float()  # [B, C]
    protos = (onehot.T @ s) / onehot.sum(0)[:, None]  # [C, d]
    d2 = torch.cdist(q, protos).pow(2)
    return F.cross_entropy(-d2, inv)


def _proto(logits, a, i, y, tau):
    a, i = F.normalize(a, dim=-1), F.normalize(i, dim=-1)
    return 0.5 * (_proto_one_way(a, i, y) + _proto_one_way(i, a, y))


LOSSES = {"clip": _clip, "soft_clip": _soft_clip, "supcon": _supcon, "dcl": _dcl,
          "proto": _proto}


def contrastive_loss(name: str, a: torch.Tensor, i: torch.Tensor, y: torch.Tensor,
                     temperature: torch.Tensor | float, metric: str = "dot") -> torch.Tensor:
    """Loss ``name`` (one of `LOSSES`) of a paired batch."""
    tau = temperature
    logits = similarity(a, i, metric) / tau
    return LOSSES[name](logits, a, i, y, tau)
