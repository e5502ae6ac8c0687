"""Choosing the weight constant: for a target firing rate, or for linear-probe accuracy.

The paper grid-searches ``const`` per modality; its values are not the best on other data (the
prototype found 0.1 instead of 0.3 for images on stand-in data). Two helpers:

* ``method="rate"``: geometric bisection of ``const`` until the mean firing rate on a few
  batches is within ``tol`` of ``target_rate`` (the rate grows with the constant);
* ``method="probe"``: for each candidate constant, a linear probe (`rram_lsm.heads.probe`) is
  fitted on a split of the *training* frames and scored on the rest (a validation split of the
  training data -- never pass the test split); the best validation accuracy wins.

With two constants (``const_rec`` set) both are scaled together, keeping their ratio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rram_lsm.errors import InputError
from rram_lsm.lsm.config import LSMConfig
from rram_lsm.lsm.model import LiquidStateMachine


@dataclass
class TuneResult:
    """Chosen constant and every evaluation made: rows of {const, mean_rate,
    silent_fraction, saturated_fraction[, val_accuracy]}."""

    const: float
    const_rec: float | None
    method: str
    table: list[dict] = field(default_factory=list)
    mean_rate: float = float("nan")
    val_accuracy: float | None = None


def _variant(lsm: LiquidStateMachine, c: float) -> LiquidStateMachine:
    cfg = lsm.config
    ratio = (cfg.const_rec / cfg.const) if cfg.separate_constants else None
    return lsm.with_constant(c, None if ratio is None else c * ratio)


def _evaluate(lsm: LiquidStateMachine, frames: np.ndarray, batch_size: int) -> tuple[dict, np.ndarray]:
    enc = lsm.encode(frames, batch_size=batch_size)
    st = enc.firing_stats()
    row = {"const": lsm.config.const, "mean_rate": st["mean_rate"],
           "silent_fraction": st["silent_fraction"],
           "saturated_fraction": st["saturated_fraction"]}
    return row, enc.features


def tune_constant(config: LSMConfig | LiquidStateMachine, frames: np.ndarray,
                  labels: np.ndarray | None = None, *, method: str = "rate",
                  target_rate: float = 0.12, tol: float = 0.005, max_iter: int = 24,
                  candidates: tuple[float, ...] | None = None, n_samples: int = 512,
                  val_fraction: float = 0.25, seed: int | None = None,
                  batch_size: int = 1024) -> TuneResult:
    """Search ``const`` on the first ``n_samples`` of ``frames`` (training data only).

    Args:
        config: an `LSMConfig` (its weights are built once) or a `LiquidStateMachine`.
        frames: [n, T, n_inputs] binary frames; labels: [n] ints (``method="probe"``).
        method: "rate" (target mean firing rate, spikes per step) or "probe".
        candidates: constants for "probe" (default: the config's const x 2^k, k = -3..3).
        seed: LSM seed (default: the config's); the probe split uses it too.
    """
    lsm = config if isinstance(config, LiquidStateMachine) else LiquidStateMachine(config, seed)
    frames = np.asarray(frames)[:n_samples]
    if len(frames) == 0:
        raise InputError("tune_constant needs at least one sample")
    if method == "rate":
        return _tune_rate(lsm, frames, target_rate, tol, max_iter, batch_size)
    if method == "probe":
        if labels is None:
            raise InputError("method='probe' needs labels")
        return _tune_probe(lsm, frames, np.asarray(labels)[:n_samples], candidates,
                           val_fraction, lsm.seed if seed is None else seed, batch_size)
    raise InputError(f"method must be 'rate' or 'probe', got '{method}'")


def _tune_rate(lsm, frames, target, tol, max_iter, batch_size) -> TuneResult:
    if not (0 < target < 1):
        raise InputError(f"target_rate must lie in (0, 1), got {target}")
    table: list[dict] = []
    cache: dict[float, dict] = {}

    def rate(c: float) -> float:
        if c not in cache:
            row, _ = _evaluate(_variant(lsm, c), frames, batch_size)
            cache[c] = row
            table.append(row)
        return cache[c]["mean_rate"]

    c0 = lsm.config.const
    lo = hi = c0
    r = rate(c0)
    n = 0
    if r < target:
        while rate(hi) < target and n < max_iter:
            lo, hi = hi, hi * 4.0
            n += 1
    else:
        while rate(lo) >= target and n < max_iter:
            hi, lo = lo, lo / 4.0
            n += 1
    best = min(cache, key=lambda c: abs(cache[c]["mean_rate"] - target))
    while abs(cache[best]["mean_rate"] - target) > tol and n < max_iter:
        mid = float(np.sqrt(lo * hi))
        if rate(mid) < target:
            lo = mid
        else:
            hi = mid
        best = min(cache, key=lambda c: abs(cache[c]["mean_rate"] - target))
        n += 1
    v = _variant(lsm, best).config
    return TuneResult(const=best, const_rec=v.const_rec, method="rate",
                      table=sorted(table, key=lambda r: r["const"]),
                      mean_rate=cache[best]["mean_rate"])


def _tune_probe(lsm, frames, labels, candidates, val_fraction, seed, batch_size) -> TuneResult:
    from sklearn.model_selection import train_test_split

    from rram_lsm.heads.probe import linear_probe

    if len(labels) != len(frames):
        raise InputError(f"{len(labels)} labels for {len(frames)} samples")
    c0 = lsm.config.const
    cands = candidates or tuple(c0 * 2.0**k for k in range(-3, 4))
    idx = np.arange(len(frames))
    tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=labels)
    table = []
    for c in cands:
        row, feats = _evaluate(_variant(lsm, float(c)), frames, batch_size)
        res = linear_probe(feats[tr], labels[tr], feats[va], labels[va], seed=seed)
        row["val_accuracy"] = res.accuracy
        table.append(row)
    best = max(table, key=lambda r: (r["val_accuracy"], -abs(np.log(r["const"] / c0))))
    v = _variant(lsm, best["const"]).config
    return TuneResult(const=best["const"], const_rec=v.const_rec, method="probe",
                      table=table, mean_rate=best["mean_rate"],
                      val_accuracy=best["val_accuracy"])
