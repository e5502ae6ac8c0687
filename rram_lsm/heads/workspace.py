"""Reused tensors for hot loops: a fresh tensor of tens of MB costs its page faults on every
allocation (more than the arithmetic that fills it), so loops keep them in a dict."""

from __future__ import annotations

import torch


def reused(work: dict, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """``work[name]``: an uninitialised tensor of ``shape`` with ``like``'s dtype and device,
    allocated on first use and whenever the shape, dtype or device changes."""
    t = work.get(name)
    if t is None or t.shape != shape or t.dtype != like.dtype or t.device != like.device:
        t = work[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
    return t
