"""Zero-shot cross-modal retrieval with a rotating held-out class pair.

For each held-out pair (u1, u2) the seen classes are ``class_pool`` minus the pair minus
``train_excluded``; heads train on seen-class training pairs (validation carved from them) and
are evaluated on seen-class test pairs (chance 1/|seen|) and on the held-out pair (chance 1/2).

Every trained model is also scored with the two unseen gallery classes swapped (the permutation
control of `rram_lsm.experiments.zs_stats`), and an arbitrary-pairing control (audio class c
paired with the images of a fixed other digit sigma(c)) can run beside the real grid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rram_lsm.experiments import zs_stats
from rram_lsm.experiments.results import (
    Chance,
    PairedSummary,
    PairRun,
    SplitRetrieval,
    Summary,
    ZeroShotEntry,
    ZeroShotResults,
)
from rram_lsm.heads.batched import FeatureSet, HeadJob, Rows, train_heads_batched
from rram_lsm.heads.retrieval import chance_top1
from rram_lsm.heads.train import HeadConfig, RetrievalSet, TrainResult, embed, train_heads


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
    def chance(self) -> Chance:
        return Chance(seen=chance_top1(self.seen_y, self.seen_y),
                      unseen=chance_top1(self.unseen_y, self.unseen_y))


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
             heads: HeadConfig, seed: int, patience: int | None) -> PairRun:
    """Train heads for one held-out pair and return metrics of both protocols + history (the
    stand-alone reference of `run_pairs_batched`)."""
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
    return PairRun(pair=tuple(idx.pair), seed=seed, best_epoch=res.best_epoch,
                   metrics=res.metrics, history=res.history, chance=idx.chance,
                   permutation=unseen_permutation_scores(res, evals["unseen"], idx.pair,
                                                         heads.metric))


def unseen_permutation_scores(res: TrainResult, unseen: RetrievalSet, pair: tuple[int, int],
                              metric: str) -> dict[str, list[float]]:
    """Unseen test top-1 of the validation-selected heads (``res.model``) under both assignments
    of the two unseen gallery classes (identity first, then the swap): ``a2i`` (audio queries
    retrieve images: pi), ``i2a`` (images retrieve audio: pi^-1), ``both`` (their mean).
    Fractions; ``a2i[0]`` / ``i2a[0]`` are the reported unseen a2i / i2a top-1."""
    import torch

    from rram_lsm.heads.losses import similarity

    a = torch.as_tensor(embed(res, unseen.audio, "audio"))
    i = torch.as_tensor(embed(res, unseen.image, "image"))
    sim = similarity(a, i, metric).numpy()
    return {name: zs_stats.permutation_scores(sim, unseen.audio_labels, unseen.image_labels,
                                              pair, d)[0].tolist()
            for name, d in (("a2i", "q2g"), ("i2a", "g2q"), ("both", "both"))}


def pair_job(features: FeatureSet, idx: PairIndex, seed: int, tag: object = None) -> HeadJob:
    """The head training of one held-out pair as a `HeadJob` (rows of shared features):
    training and validation pairs from the train split, seen / unseen test pairs from the test
    split (the same sets as `run_pair`)."""
    return HeadJob(
        features=features,
        train=Rows("train", idx.train_aud, idx.train_img, idx.train_y),
        val=Rows("train", idx.val_aud, idx.val_img, idx.val_y),
        evals={"seen": Rows("test", idx.seen_aud, idx.seen_img, idx.seen_y),
               "unseen": Rows("test", idx.unseen_aud, idx.unseen_img, idx.unseen_y)},
        seed=seed, tag=tag)


def run_pairs_batched(jobs: list[HeadJob], heads: HeadConfig, patience: int | None,
                      indices: list[PairIndex], device: str = "cpu", workers: int = 1,
                      on_done=None, keep_heads: Callable[[PairRun], bool] | None = None
                      ) -> list[PairRun]:
    """Train every job as one batched model (`train_heads_batched`; per job the same result as
    `run_pair`) and return one `PairRun` per job, in job order; ``indices[k]`` is job k's
    pair; a job's ``tag`` may be a dict with ``source`` and ``mode``. ``workers``: CPU
    processes (one torch thread each). ``keep_heads(run)``: True for the runs whose trained
    heads (`TrainResult`) stay in memory as ``run.heads`` (e.g. for figures; never written)."""
    results: list[TrainResult] = train_heads_batched(jobs, heads, patience=patience, device=device,
                                                     threads=1, workers=workers, on_done=on_done)
    out = []
    for job, idx, res in zip(jobs, indices, results):
        tag = job.tag if isinstance(job.tag, dict) else {}
        perm = unseen_permutation_scores(res, job.evals["unseen"].retrieval_set(job.features),
                                         idx.pair, heads.metric)
        run = PairRun(pair=tuple(idx.pair), seed=job.seed, best_epoch=res.best_epoch,
                      metrics=res.metrics, history=res.history, chance=idx.chance,
                      source=tag.get("source"), mode=tag.get("mode"), permutation=perm,
                      control=bool(tag.get("control", False)))
        if keep_heads is not None and keep_heads(run):
            run.heads = res
        out.append(run)
    return out


def arbitrary_pairing(pool: tuple[int, ...], seed: int = 0) -> dict[int, int]:
    """A fixed derangement sigma of the class pool (sigma[c] != c): in the arbitrary-pairing
    control, audio class c is paired with the images of digit sigma[c], in training and test."""
    rng = np.random.default_rng([seed, 14])
    pool = [int(c) for c in pool]
    if len(pool) < 2:
        raise ValueError("the arbitrary-pairing control needs at least two classes")
    while True:
        perm = rng.permutation(pool)
        if all(int(p) != c for p, c in zip(perm, pool)):
            return dict(zip(pool, (int(p) for p in perm)))


def control_splits(splits: dict, sigma: dict[int, int]) -> dict:
    """``splits`` with the images relabelled for the arbitrary-pairing control: an image of digit
    d is labelled sigma^-1(d), so that class c pairs audio c with images of sigma(c) (the audio
    splits are shared, not copied)."""
    import dataclasses

    inv = {d: c for c, d in sigma.items()}
    out = dict(splits)
    out["image"] = {}
    for name, sp in splits["image"].items():
        lab = np.array([inv.get(int(v), int(v)) for v in np.asarray(sp.labels).tolist()],
                       dtype=np.asarray(sp.labels).dtype)
        out["image"][name] = dataclasses.replace(sp, labels=lab)
    return out


def _stats(runs: list[PairRun], pairs: list, seeds: list, chance: float,
           unseen: SplitRetrieval) -> SplitRetrieval:
    """``unseen`` with the zero-shot statistics of the runs (validation protocol): the
    permutation control combined over held-out pairs and the group-level test (held-out pairs as
    the unit, seeds averaged within a pair) of the a2i top-1 against ``chance``."""
    by_pair: dict[str, dict[str, list]] = {"a2i": {}, "both": {}}
    for r in runs:
        if r.permutation is None:
            return unseen
        for d in by_pair:
            by_pair[d].setdefault(f"{r.pair[0]}/{r.pair[1]}", []).append(
                np.asarray(r.permutation[d]))
    perm = zs_stats.summarise_permutations(by_pair["a2i"])
    both = zs_stats.summarise_permutations(by_pair["both"])
    means = [unseen.a2i_top1.per_pair[f"{p[0]}/{p[1]}"].mean for p in pairs]
    gt = zs_stats.group_test(means, chance)
    return SplitRetrieval(**{k: getattr(unseen, k) for k in SplitRetrieval.METRICS},
                          permutation_p=perm.combined_p, permutation_p_both=both.combined_p,
                          permutation=_no_nan(perm.to_dict()), group_test=_no_nan(gt.to_dict()))


def _no_nan(d):
    """NaN (e.g. a t-test of one held-out pair) as None, so that the results equal their
    metrics.json read back (NaN != NaN)."""
    if isinstance(d, dict):
        return {k: _no_nan(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_no_nan(v) for v in d]
    return None if isinstance(d, float) and np.isnan(d) else d


def summarise_zero_shot(runs: list[PairRun], feature_modes: list[str],
                        held_out_pairs: list[tuple[int, int]]) -> ZeroShotResults:
    """Aggregate per (protocol, mode, source): seen / unseen, per seed (mean over pairs) and per
    pair (mean over seeds); the headline features are the first feature mode. The validation
    protocol's unseen split also gets the zero-shot statistics (`_stats`): the permutation p
    combined over held-out pairs and the group-level test with held-out pairs as the unit."""
    by: dict = defaultdict(lambda: defaultdict(list))
    for r in runs:
        for proto in ("validation", "paper"):
            by[(proto, r.mode, r.source)][(tuple(r.pair), r.seed)].append(r.metrics[proto])
    tables: dict[str, dict] = {}
    for (proto, mode, source), cells in by.items():
        pairs = sorted({p for p, _ in cells})
        seeds = sorted({s for _, s in cells})
        splits = {}
        for split in ("seen", "unseen"):
            values = {}
            for metric in SplitRetrieval.METRICS:
                key = f"{split}_{metric}"
                per_seed = [float(np.mean([cells[(p, s)][0][key] for p in pairs])) for s in seeds]
                if split == "unseen":
                    per_pair = {f"{p[0]}/{p[1]}": Summary.of([cells[(p, s)][0][key] for s in seeds])
                                for p in pairs}
                    values[metric] = PairedSummary(**vars(Summary.of(per_seed)), per_pair=per_pair)
                else:
                    values[metric] = Summary.of(per_seed)
            splits[split] = SplitRetrieval(**values)
        if proto == "validation":  # the permutation scores belong to the validation-selected heads
            sel = [r for r in runs if r.mode == mode and r.source == source]
            splits["unseen"] = _stats(sel, pairs, seeds,
                                      float(np.mean([r.chance.unseen for r in sel])),
                                      splits["unseen"])
        best = Summary.of([r.best_epoch[proto] for r in runs if r.mode == mode and r.source == source])
        tables.setdefault(proto, {}).setdefault(mode, {})[source] = ZeroShotEntry(
            seen=splits["seen"], unseen=splits["unseen"], best_epoch=best)
    return ZeroShotResults(
        by_features=tables.get("validation", {}), paper_by_features=tables.get("paper", {}),
        headline_features=feature_modes[0],
        chance=Chance(seen=float(np.mean([r.chance.seen for r in runs])),
                      unseen=float(np.mean([r.chance.unseen for r in runs]))),
        held_out_pairs=[tuple(p) for p in held_out_pairs])
