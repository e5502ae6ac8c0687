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


# --- batched: M independent members at once ------------------------------------------------------
# a, i [M, B, d]; y [M, B]; valid [M, B] marks the real rows of a padded batch. Each member's loss
# equals `contrastive_loss` of its valid rows alone: padded rows are left out of every softmax (a
# large finite negative, not -inf, so that a member without rows gives 0 instead of NaN) and of
# every mean.

_NEG = -1e30


def _masked_mean(rows: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over the valid entries of each member: [M, B] -> [M] (0 for a member without any)."""
    rows = torch.where(valid, rows, torch.zeros_like(rows))
    return rows.sum(-1) / valid.sum(-1).clamp(min=1).to(rows.dtype)


def _b_log_softmax(logits: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log_softmax over the valid columns; padded columns hold 0 (so products with 0 stay 0)."""
    col = valid[:, None, :]
    logp = F.log_softmax(logits.masked_fill(~col, _NEG), dim=-1)
    return logp.masked_fill(~col, 0.0)


def _b_clip(logits, a, i, y, valid, tau):
    def one(lg):
        return -torch.diagonal(_b_log_softmax(lg, valid), dim1=1, dim2=2)
    return 0.5 * (_masked_mean(one(logits), valid) + _masked_mean(one(logits.transpose(1, 2)), valid))


def _b_soft_clip(logits, a, i, y, valid, tau):
    pair = valid[:, :, None] & valid[:, None, :]
    with torch.no_grad():
        sims = (a @ a.transpose(1, 2) + i @ i.transpose(1, 2)) / (2 * tau)
        targets = F.softmax(sims.masked_fill(~valid[:, None, :], _NEG), dim=-1)
        targets = targets.masked_fill(~pair, 0.0)
    la = -(targets * _b_log_softmax(logits, valid)).sum(-1)
    li = -(targets.transpose(1, 2) * _b_log_softmax(logits.transpose(1, 2), valid)).sum(-1)
    return 0.5 * (_masked_mean(la, valid) + _masked_mean(li, valid))


def _b_supcon(logits, a, i, y, valid, tau):
    pos = ((y[:, :, None] == y[:, None, :]) & valid[:, :, None] & valid[:, None, :]).to(logits.dtype)

    def one(lg, p):
        n_pos = p.sum(-1)
        return -(_b_log_softmax(lg, valid) * p).sum(-1) / torch.where(n_pos > 0, n_pos, 1.0)
    return 0.5 * (_masked_mean(one(logits, pos), valid)
                  + _masked_mean(one(logits.transpose(1, 2), pos.transpose(1, 2)), valid))


def _b_dcl(logits, a, i, y, valid, tau):
    neg = (y[:, :, None] != y[:, None, :]) & valid[:, None, :]  # different-class items only

    def one(lg, nm):
        pos_logit = torch.diagonal(lg, dim1=1, dim2=2)
        lse = torch.logsumexp(lg.masked_fill(~nm, _NEG), dim=-1)
        # rows without any negative contribute only the positive term
        lse = torch.where(nm.any(-1), lse, torch.zeros_like(lse))
        return -pos_logit + lse
    # same-class is symmetric: one mask (over valid columns) serves both directions
    return 0.5 * (_masked_mean(one(logits, neg), valid)
                  + _masked_mean(one(logits.transpose(1, 2), neg), valid))


def _b_proto_one_way(q, s, y, valid, n_classes):
    onehot = F.one_hot(y.clamp(min=0), n_classes).to(q.dtype) * valid[:, :, None]  # [M, B, C]
    counts = onehot.sum(1)  # [M, C]
    present = counts > 0
    protos = (onehot.transpose(1, 2) @ s) / torch.where(present, counts, 1.0)[:, :, None]
    d2 = torch.cdist(q, protos).pow(2)  # [M, B, C]
    logp = F.log_softmax((-d2).masked_fill(~present[:, None, :], _NEG), dim=-1)
    rows = -logp.gather(-1, y.clamp(min=0)[:, :, None]).squeeze(-1)
    return _masked_mean(rows, valid)


def _b_proto(logits, a, i, y, valid, tau):
    a, i = F.normalize(a, dim=-1), F.normalize(i, dim=-1)
    n_classes = int(y.max()) + 1 if y.numel() else 1
    return 0.5 * (_b_proto_one_way(a, i, y, valid, n_classes)
                  + _b_proto_one_way(i, a, y, valid, n_classes))


BATCHED_LOSSES = {"clip": _b_clip, "soft_clip": _b_soft_clip, "supcon": _b_supcon, "dcl": _b_dcl,
                  "proto": _b_proto}


def batched_similarity(a: torch.Tensor, i: torch.Tensor, metric: str = "dot",
                       out: torch.Tensor | None = None) -> torch.Tensor:
    """`similarity` of every member: [M, Qa, d] x [M, Qi, d] -> [M, Qa, Qi] (into ``out`` when
    given, e.g. a buffer reused between evaluations)."""
    if metric == "cosine":
        a, i = F.normalize(a, dim=-1), F.normalize(i, dim=-1)
    return torch.bmm(a, i.transpose(1, 2), out=out)


def batched_contrastive_loss(name: str, a: torch.Tensor, i: torch.Tensor, y: torch.Tensor,
                             valid: torch.Tensor, temperature: torch.Tensor | float,
                             metric: str = "dot") -> torch.Tensor:
    """Loss ``name`` of M independent padded batches at once: a, i [M, B, d], labels y [M, B]
    (class ids 0..C-1 for ``proto``), ``valid`` [M, B] bool, temperature scalar or [M].
    Returns [M]: member m's value is `contrastive_loss` of its valid rows (0 without rows)."""
    tau = temperature
    if isinstance(tau, torch.Tensor) and tau.ndim == 1:
        tau = tau[:, None, None]
    logits = batched_similarity(a, i, metric) / tau
    return BATCHED_LOSSES[name](logits, a, i, y, valid, tau)


def full_batch_loss(name: str, a: torch.Tensor, i: torch.Tensor, y: torch.Tensor,
                    temperature: torch.Tensor | float, metric: str = "dot") -> torch.Tensor:
    """`batched_contrastive_loss` when every row is valid (no padding): the same values without
    the masking work. Returns [M]."""
    valid = torch.ones(y.shape, dtype=torch.bool, device=y.device)
    if name != "supcon":
        return batched_contrastive_loss(name, a, i, y, valid, temperature, metric)
    tau = temperature
    if isinstance(tau, torch.Tensor) and tau.ndim == 1:
        tau = tau[:, None, None]
    logits = batched_similarity(a, i, metric) / tau
    pos = (y[:, :, None] == y[:, None, :]).to(logits.dtype)
    n_pos = pos.sum(-1)  # symmetric: the same for both directions

    def one(lg):
        return (-(F.log_softmax(lg, dim=-1) * pos).sum(-1) / n_pos).mean(-1)
    return 0.5 * (one(logits) + one(logits.transpose(1, 2)))
