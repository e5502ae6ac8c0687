"""The similarity / embedding figures use the heads the zero-shot stage kept (no retraining), and
those heads embed like the stand-alone training of the same run."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from rram_lsm.data import BinnedSplit
from rram_lsm.experiments import figures
from rram_lsm.experiments.zero_shot import pair_indices, pair_job, run_pairs_batched
from rram_lsm.heads import train
from rram_lsm.heads.batched import FeatureSet
from rram_lsm.heads.train import HeadConfig, RetrievalSet, embed, train_heads

HEADS = HeadConfig(proj_dim=8, epochs=5, batch_size=16)
PAIRS = [(8, 9), (2, 5)]


def _split(split, modality, labels):
    return BinnedSplit("digits-dvs" if modality == "image" else "spoken-digits", split, modality,
                       np.zeros((labels.size, 2, 4), np.uint8), labels, np.full(labels.size, 10),
                       "digit" if modality == "image" else "paper",
                       tuple(str(c) for c in range(10)))


@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(1)
    splits = {m: {s: _split(s, m, rng.permutation(np.repeat(np.arange(10), n)).astype(np.int64))
                  for s, n in (("train", 12), ("test", 6))} for m in ("image", "audio")}
    centres = {m: rng.normal(size=(10, d)) for m, d in (("image", 12), ("audio", 10))}
    feats = {m: {s: (centres[m][splits[m][s].labels] + 0.8 * rng.normal(
        size=(len(splits[m][s].labels), centres[m].shape[1]))).astype(np.float32)
        for s in ("train", "test")} for m in ("image", "audio")}
    cfg = SimpleNamespace(seed_list=[0, 1], sources=["gaussian", "macro"],
                          feature_modes=["windows"], heads=HEADS,
                          zero_shot=SimpleNamespace(held_out_pairs=PAIRS, class_pool=tuple(range(10)),
                                                    train_excluded=(0,), val_fraction=0.2,
                                                    max_test_per_class=4, patience=None))
    fs = FeatureSet(audio=feats["audio"], image=feats["image"])
    jobs, idx = [], []
    for seed in cfg.seed_list:
        for source in cfg.sources:
            for p in PAIRS:
                i = pair_indices(splits, p, tuple(range(10)), (0,), 0.2, 4, seed)
                jobs.append(pair_job(fs, i, seed, {"source": source, "mode": "windows"}))
                idx.append(i)
    runs = run_pairs_batched(jobs, HEADS, None, idx, keep_heads=figures.keeps_heads(cfg))
    return cfg, splits, feats, runs


def test_only_the_figure_run_keeps_its_heads_and_they_are_not_written(grid):
    cfg, _, _, runs = grid
    kept = [r for r in runs if r.heads is not None]
    assert len(kept) == 1
    r = kept[0]
    assert (r.seed, r.source, r.mode, tuple(r.pair)) == (0, "macro", "windows", (8, 9))
    assert figures.embedding_run(cfg) == (0, "macro", "windows", (8, 9))
    assert "heads" not in r.to_dict() and "heads" not in json.dumps(r.to_dict())
    assert r.best_epoch == r.heads.best_epoch and r.metrics == r.heads.metrics


def test_kept_heads_embed_like_the_stand_alone_training(grid):
    cfg, splits, feats, runs = grid
    r = next(r for r in runs if r.heads is not None)
    i = pair_indices(splits, r.pair, tuple(range(10)), (0,), 0.2, 4, r.seed)
    fa, fi = feats["audio"], feats["image"]
    val = RetrievalSet(fa["train"][i.val_aud], i.val_y, fi["train"][i.val_img], i.val_y)
    alone = train_heads(fa["train"][i.train_aud], fi["train"][i.train_img], i.train_y, val, {},
                        HEADS, seed=r.seed)
    assert alone.best_epoch["validation"] == r.best_epoch["validation"]
    for mod, f, rows in (("audio", fa, i.unseen_aud), ("image", fi, i.unseen_img)):
        np.testing.assert_allclose(embed(r.heads, f["test"][rows], mod),
                                   embed(alone, f["test"][rows], mod), atol=1e-5)


def test_figures_draw_from_the_kept_heads_without_training(grid, tmp_path, monkeypatch):
    cfg, splits, feats, runs = grid

    def no_training(*a, **k):
        raise AssertionError("the figures retrained heads although the run kept them")

    monkeypatch.setattr(train, "train_heads", no_training)
    enc = {(0, "macro"): {m: SimpleNamespace(features=lambda mode, s, m=m: feats[m][s])
                          for m in ("image", "audio")}}
    made = figures._similarity_and_embedding(tmp_path, cfg, enc, splits, runs)
    assert made == ["similarity.png", "embeddings.png"]
    assert all((tmp_path / f).stat().st_size > 0 for f in made)


def test_figures_retrain_when_no_run_kept_heads(grid, tmp_path):
    cfg, splits, feats, _ = grid
    enc = {(0, "macro"): {m: SimpleNamespace(features=lambda mode, s, m=m: feats[m][s])
                          for m in ("image", "audio")}}
    made = figures._similarity_and_embedding(tmp_path, cfg, enc, splits, [])
    assert made == ["similarity.png", "embeddings.png"]
