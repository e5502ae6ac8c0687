"""Cross-modal pairing by class: the paper's rules, seen/unseen split, validation, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from rram_lsm.data import BinnedSplit, PairingConfig, make_pairs
from rram_lsm.errors import ConfigError, DataError


def _split(dataset, split, modality, labels, label_map):
    labels = np.asarray(labels, dtype=np.int64)
    n_t, n_in = (50, 256) if modality == "image" else (129, 64)
    frames = np.zeros((labels.size, n_t, n_in), np.uint8)
    frames[:, 0, 0] = np.arange(labels.size) % 256  # tag each sample to check the indexing
    return BinnedSplit(
        dataset,
        split,
        modality,
        frames,
        labels,
        np.full(labels.size, 100),
        label_map,
        tuple(str(c) for c in range(11)),
    )


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    img_tr = _split("digits-dvs", "train", "image", rng.permutation(np.repeat(np.arange(10), 12)), "digit")
    aud_tr = _split("spoken-digits", "train", "audio", rng.permutation(np.repeat(np.arange(11), 10)), "paper")
    img_te = _split("digits-dvs", "test", "image", np.repeat(np.arange(10), 5), "digit")
    aud_te = _split("spoken-digits", "test", "audio", np.tile(np.arange(11), 4), "paper")
    return img_tr, aud_tr, img_te, aud_te


def test_paper_pairing(data):
    img_tr, aud_tr, img_te, aud_te = data
    pairs = make_pairs(img_tr, aud_tr, img_te, aud_te, seed=0)
    assert pairs.seen_classes == (1, 2, 3, 4, 5, 6, 7) and pairs.unseen_classes == (8, 9)
    assert pairs.label_map == "paper"
    # 10 audio vs 12 image training samples per class -> 10 pairs per class, 20 % to validation.
    assert len(pairs.train) == 7 * 8 and len(pairs.val) == 7 * 2
    assert pairs.train.class_counts() == {c: 8 for c in range(1, 8)}
    # Test: min(5 image, 4 audio) per class, seen and unseen separately; digit 0 and "oh" unused.
    assert pairs.test_seen.class_counts() == {c: 4 for c in range(1, 8)}
    assert pairs.test_unseen.class_counts() == {8: 4, 9: 4}
    for ps in pairs.splits().values():
        assert np.all(ps.image.labels[ps.image_index] == ps.labels)
        assert np.all(ps.audio.labels[ps.audio_index] == ps.labels)
        assert not set(ps.labels.tolist()) & {0, 10}
    assert pairs.test_seen.image is img_te and pairs.train.audio is aud_tr
    # Dataset order: the k-th audio sample of a class pairs with the k-th image sample of it.
    both = np.concatenate([pairs.train.audio_index, pairs.val.audio_index])
    both_img = np.concatenate([pairs.train.image_index, pairs.val.image_index])
    for c in range(1, 8):
        a_c = np.flatnonzero(aud_tr.labels == c)
        i_c = np.flatnonzero(img_tr.labels == c)
        got = dict(zip(both.tolist(), both_img.tolist(), strict=True))
        assert all(got[a] == i for a, i in zip(a_c, i_c[: a_c.size], strict=False))
    # Train and validation pairs are disjoint.
    assert not set(pairs.train.audio_index.tolist()) & set(pairs.val.audio_index.tolist())


def test_items_and_arrays(data):
    pairs = make_pairs(*data, seed=0)
    x_img, x_aud, label = pairs.test_unseen[0]
    assert x_img.shape == (50, 256) and x_aud.shape == (129, 64) and label == 8
    assert pairs.train.image_frames().shape == (len(pairs.train), 50, 256)
    assert pairs.train.audio_frames().shape == (len(pairs.train), 129, 64)
    summary = pairs.summary()
    assert summary["pairs"] == {"train": 56, "val": 14, "test_seen": 28, "test_unseen": 8}
    assert summary["label_map"] == "paper" and summary["audio_dataset"] == "spoken-digits"


def test_deterministic_for_a_seed(data):
    a, b = make_pairs(*data, seed=1), make_pairs(*data, seed=1)
    c = make_pairs(*data, seed=2)
    np.testing.assert_array_equal(a.val.audio_index, b.val.audio_index)
    assert not np.array_equal(a.val.audio_index, c.val.audio_index)
    cfg = PairingConfig(order="shuffled")
    s1, s2 = make_pairs(*data, cfg, seed=5), make_pairs(*data, cfg, seed=5)
    np.testing.assert_array_equal(s1.train.image_index, s2.train.image_index)
    np.testing.assert_array_equal(s1.test_seen.audio_index, s2.test_seen.audio_index)


def test_custom_split(data):
    cfg = PairingConfig(seen_classes=(0, 1, 2), unseen_classes=(), val_fraction=0.0, max_test_per_class=2)
    pairs = make_pairs(*data, cfg, seed=0)
    assert len(pairs.val) == 0 and len(pairs.test_unseen) == 0
    assert pairs.test_seen.class_counts() == {0: 2, 1: 2, 2: 2}


def test_errors(data):
    img_tr, aud_tr, img_te, aud_te = data
    with pytest.raises(DataError, match="audio_train: expected audio"):
        make_pairs(img_tr, img_tr, img_te, aud_te)
    no_threes = _split("x", "test", "image", np.where(img_te.labels == 3, 4, img_te.labels), "digit")
    with pytest.raises(DataError, match="class 3 has 0 x test"):
        make_pairs(img_tr, aud_tr, no_threes, aud_te)
    tonic_test = _split("spoken-digits", "test", "audio", aud_te.labels, "tonic")
    with pytest.raises(DataError, match="different label maps"):
        make_pairs(img_tr, aud_tr, img_te, tonic_test)
    with pytest.raises(ConfigError, match="both seen and unseen"):
        PairingConfig(seen_classes=(1, 2), unseen_classes=(2, 3))
    with pytest.raises(ConfigError, match="val_fraction"):
        PairingConfig(val_fraction=1.5)
