"""Zero-shot cross-modal retrieval with a rotating held-out class pair.

For each held-out pair (u1, u2) the seen classes are ``class_pool`` minus the pair minus
``train_excluded``; heads train on seen-class training pairs (validation carved from them) and
are evaluated on seen-class test pairs (chance 1/|seen|) and on the held-out pair (chance 1/2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rram_lsm.heads.retrieval import chance_top1
from rram_lsm.heads.train import HeadConfig, RetrievalSet, train_heads


@dataclass
class PairIndex:
    """Index arrays (into the full train/test splits) for one held-out pair."""

    pair: tuple[int, int]
    seen: tuple[int, ...]
    train_img: np.ndarray
    train_aud: np.ndarray
    train_y: np.ndarray
    val_img: np.ndarray
    val_aud: np.ndarray
    val_y: np.ndarray
    seen_img: np.ndarray
    seen_aud: np.ndarray
    seen_y: np.ndarray
    unseen_img: np.ndarray
    unseen_aud: np.ndarray
    unseen_y: np.ndarray

    @property
    def chance(self) -> dict[str, float]:
        return {"seen": chance_top1(self.seen_y, self.seen_y),
                "unseen": chance_top1(self.unseen_y, self.unseen_y)}


def pair_indices(splits: dict, pair: tuple[int, int], pool: tuple[int, ...],
                 excluded: tuple[int, ...], val_fraction: float, max_test: int | None,
                 seed: int) -> PairIndex:
    """Pairs via `rram_lsm.data.make_pairs` for this held-out pair."""
    from rram_lsm.data import PairingConfig, make_pairs

    seen = tuple(c for c in pool if c not in pair and c not in excluded)
    pcfg = PairingConfig(seen_classes=seen, unseen_classes=tuple(pair),
                         val_fraction=val_fraction, max_test_per_class=max_test)
    p = make_pairs(splits["image"]["train"], splits["audio"]["train"], splits["image"]["test"],
                   splits["audio"]["test"], pcfg, seed=seed)
    return PairIndex(
        pair=tuple(pair), seen=seen,
        train_img=p.train.image_index, train_aud=p.train.audio_index, train_y=p.train.labels,
        val_img=p.val.image_index, val_aud=p.val.audio_index, val_y=p.val.labels,
        seen_img=p.test_seen.image_index, seen_aud=p.test_seen.audio_index,
        seen_y=p.test_seen.labels,
        unseen_img=p.test_unseen.image_index, unseen_aud=p.test_unseen.audio_index,
        unseen_y=p.test_unseen.labels,
    )


def run_pair(feats_img: dict[str, np.ndarray], feats_aud: dict[str, np.ndarray], idx: PairIndex,
             heads: HeadConfig, seed: int, patience: int | None) -> dict:
    """Train heads for one held-out pair and return metrics of both protocols + history."""
    tr_i, tr_a = feats_img["train"], feats_aud["train"]
    te_i, te_a = feats_img["test"], feats_aud["test"]
    val = RetrievalSet(tr_a[idx.val_aud], idx.val_y, tr_i[idx.val_img], idx.val_y)
    evals = {
        "seen": RetrievalSet(te_a[idx.seen_aud], idx.seen_y, te_i[idx.seen_img], idx.seen_y),
        "unseen": RetrievalSet(te_a[idx.unseen_aud], idx.unseen_y, te_i[idx.unseen_img],
                               idx.unseen_y),
    }
    res = train_heads(tr_a[idx.train_aud], tr_i[idx.train_img], idx.train_y, val, evals, heads,
                      seed=seed, patience=patience)
    out = {"pair": list(idx.pair), "seed": seed, "best_epoch": res.best_epoch,
           "metrics": res.metrics, "history": res.history, "chance": idx.chance}
    return out


def run_pairs_job(job: dict) -> list[dict]:
    """Picklable entry point for a worker process: every held-out pair of one (seed, source,
    feature mode), so that the features travel to the worker once."""
    return [run_pair(job["img"], job["aud"], idx, job["heads"], job["seed"], job["patience"])
            for idx in job["indices"]]
