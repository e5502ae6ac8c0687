"""The digits zero-shot statistics per trained model: permutation scores of the selected heads
(stand-alone and batched alike), the arbitrary pairing and its relabelled splits."""

from __future__ import annotations

import numpy as np
import pytest

from rram_lsm.data import BinnedSplit
from rram_lsm.experiments import zs_stats
from rram_lsm.experiments.zero_shot import (
    arbitrary_pairing,
    control_splits,
    pair_indices,
    pair_job,
    run_pair,
    run_pairs_batched,
    summarise_zero_shot,
)
from rram_lsm.heads.batched import FeatureSet
from rram_lsm.heads.train import HeadConfig


def _split(split, modality, labels):
    labels = np.asarray(labels, dtype=np.int64)
    n_t, n_in = (2, 4) if modality == "image" else (3, 4)
    return BinnedSplit("digits-dvs" if modality == "image" else "spoken-digits", split, modality,
                       np.zeros((labels.size, n_t, n_in), np.uint8), labels,
                       np.full(labels.size, 10), "digit" if modality == "image" else "paper",
                       tuple(str(c) for c in range(10)))


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    splits = {m: {s: _split(s, m, rng.permutation(np.repeat(np.arange(10), n)))
                  for s, n in (("train", 12), ("test", 6))} for m in ("image", "audio")}
    # features: a class direction + noise, so that the heads learn something
    centres = {m: rng.normal(size=(10, d)) for m, d in (("image", 12), ("audio", 10))}
    feats = {m: {s: (centres[m][splits[m][s].labels] + 0.8 * rng.normal(
        size=(len(splits[m][s].labels), centres[m].shape[1]))).astype(np.float32)
        for s in ("train", "test")} for m in ("image", "audio")}
    return splits, feats


HEADS = HeadConfig(proj_dim=8, epochs=4, batch_size=16)
PAIRS = [(8, 9), (2, 5), (3, 6)]


def _indices(splits, seeds=(0, 1)):
    return [pair_indices(splits, p, tuple(range(10)), (0,), 0.2, 4, s) for p in PAIRS for s in seeds]


def test_permutation_scores_of_batched_and_standalone_runs_agree_with_the_reported_top1(digits):
    splits, feats = digits
    fs = FeatureSet(audio=feats["audio"], image=feats["image"])
    idx = _indices(splits)
    jobs = [pair_job(fs, i, s, {"source": "gaussian", "mode": "windows"})
            for i, s in zip(idx, [0, 1] * len(PAIRS))]
    batched = run_pairs_batched(jobs, HEADS, None, idx)
    for i, job, b in zip(idx, jobs, batched):
        alone = run_pair(feats["image"], feats["audio"], i, HEADS, job.seed, None)
        for r in (alone, b):
            m = r.metrics["validation"]
            assert r.permutation["a2i"][0] == pytest.approx(m["unseen_a2i_top1"], abs=1e-6)
            assert r.permutation["i2a"][0] == pytest.approx(m["unseen_i2a_top1"], abs=1e-6)
            assert len(r.permutation["a2i"]) == 2
        np.testing.assert_allclose(alone.permutation["a2i"], b.permutation["a2i"], atol=1e-6)
    z = summarise_zero_shot(batched, ["windows"], PAIRS)
    u = z.headline["gaussian"].unseen
    by_pair: dict = {}
    for r in batched:
        by_pair.setdefault(f"{r.pair[0]}/{r.pair[1]}", []).append(np.asarray(r.permutation["a2i"]))
    assert u.permutation_p == zs_stats.summarise_permutations(by_pair).combined_p
    assert u.permutation_p >= 1 / 2 ** len(PAIRS)  # 2-way pairs: at best 1/2 per pair
    assert u.group_test["n_groups"] == len(PAIRS)
    assert z.paper_headline["gaussian"].unseen.permutation_p is None


def test_arbitrary_pairing_is_a_fixed_derangement():
    pool = tuple(range(10))
    sigma = arbitrary_pairing(pool)
    assert sorted(sigma) == sorted(sigma.values()) == list(pool)
    assert all(sigma[c] != c for c in pool)
    assert arbitrary_pairing(pool) == sigma  # fixed
    with pytest.raises(ValueError):
        arbitrary_pairing((3,))


def test_control_splits_pair_audio_with_another_digits_images(digits):
    splits, _ = digits
    sigma = arbitrary_pairing(tuple(range(10)))
    cs = control_splits(splits, sigma)
    assert cs["audio"] is splits["audio"]
    for s in ("train", "test"):
        true = splits["image"][s].labels
        # an image labelled c in the control shows digit sigma[c]
        assert np.array_equal(np.array([sigma[c] for c in cs["image"][s].labels]), true)
    idx = pair_indices(cs, (8, 9), tuple(range(10)), (0,), 0.2, 4, 0)
    shown = splits["image"]["test"].labels[idx.unseen_img]
    assert np.array_equal(shown, np.array([sigma[c] for c in idx.unseen_y]))


def test_one_held_out_pair_has_no_t_test_and_reads_back_equal(digits):
    """One pair: no group-level t-test (None, not NaN, so results equal their JSON read back)."""
    import json

    from rram_lsm.experiments.results import PairedSummary, SplitRetrieval

    splits, feats = digits
    fs = FeatureSet(audio=feats["audio"], image=feats["image"])
    idx = [pair_indices(splits, (8, 9), tuple(range(10)), (0,), 0.2, 4, 0)]
    runs = run_pairs_batched([pair_job(fs, idx[0], 0, {"source": "macro", "mode": "windows"})],
                             HEADS, None, idx)
    u = summarise_zero_shot(runs, ["windows"], [(8, 9)]).headline["macro"].unseen
    assert u.group_test["n_groups"] == 1 and u.group_test["t_p"] is None
    assert u.permutation_p in (0.5, 1.0)
    back = SplitRetrieval.from_dict(json.loads(json.dumps(u.to_dict())), "unseen", PairedSummary)
    assert back == u
