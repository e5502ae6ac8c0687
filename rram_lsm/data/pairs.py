"""Cross-modal pairing of image and audio samples by class (the paper's zero-shot setup).

For each seen class c, the audio training samples of c are paired in dataset order with the first
equally many image training samples of c (the shorter side decides the count); a seeded
``val_fraction`` of each class's pairs becomes the validation split.  Test pairs take the first
``max_test_per_class`` test samples of each modality per class, paired by index, separately for
seen and unseen classes.  Audio class c and image class c are the same digit for c = 1…9; class 0
is "zero" under the paper's label map and "oh" under tonic's (a result states which).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rram_lsm.data.config import PairingConfig
from rram_lsm.data.loaders import BinnedSplit
from rram_lsm.errors import DataError

_TAG = 0xA1


@dataclass(frozen=True, eq=False)
class PairedSplit:
    """Class-matched (image, audio) pairs; indices point into the two `BinnedSplit` objects.

    ``ds[i]`` returns ``(image_frames [T_img, N_img], audio_frames [T_aud, N_aud], label)``.
    """

    name: str  # 'train', 'val', 'test_seen', 'test_unseen'
    image: BinnedSplit
    audio: BinnedSplit
    image_index: np.ndarray  # int64 [n_pairs]
    audio_index: np.ndarray  # int64 [n_pairs]
    labels: np.ndarray  # int64 [n_pairs]

    def __len__(self) -> int:
        return int(self.labels.size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, int]:
        return (
            self.image.frames[self.image_index[i]],
            self.audio.frames[self.audio_index[i]],
            int(self.labels[i]),
        )

    def image_frames(self) -> np.ndarray:
        """uint8 [n_pairs, T_img, N_img]."""
        return self.image.frames[self.image_index]

    def audio_frames(self) -> np.ndarray:
        """uint8 [n_pairs, T_aud, N_aud]."""
        return self.audio.frames[self.audio_index]

    def class_counts(self) -> dict[int, int]:
        vals, counts = np.unique(self.labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts, strict=True)}


@dataclass(frozen=True, eq=False)
class CrossModalPairs:
    """Train / validation / seen-test / unseen-test pairs of one image and one audio dataset."""

    train: PairedSplit
    val: PairedSplit
    test_seen: PairedSplit
    test_unseen: PairedSplit
    seen_classes: tuple[int, ...]
    unseen_classes: tuple[int, ...]
    seed: int
    label_map: str
    config: PairingConfig

    def splits(self) -> dict[str, PairedSplit]:
        return {
            "train": self.train,
            "val": self.val,
            "test_seen": self.test_seen,
            "test_unseen": self.test_unseen,
        }

    def summary(self) -> dict:
        """JSON-ready description (sizes per split and class, datasets, label map, seed)."""
        return {
            "image_dataset": self.train.image.dataset,
            "audio_dataset": self.train.audio.dataset,
            "label_map": self.label_map,
            "seen_classes": list(self.seen_classes),
            "unseen_classes": list(self.unseen_classes),
            "seed": self.seed,
            "pairs": {k: len(v) for k, v in self.splits().items()},
            "pairs_per_class": {k: v.class_counts() for k, v in self.splits().items()},
            "config": self.config.model_dump(mode="json"),
        }


def _class_indices(split: BinnedSplit, c: int, order: str, rng: np.random.Generator) -> np.ndarray:
    idx = np.flatnonzero(split.labels == c)
    if order == "shuffled":
        idx = idx[rng.permutation(idx.size)]
    return idx


def _check(split: BinnedSplit, modality: str, role: str) -> None:
    if split.modality != modality:
        raise DataError(f"{role}: expected {modality} data, got {split.dataset} ({split.modality})")


def make_pairs(
    image_train: BinnedSplit,
    audio_train: BinnedSplit,
    image_test: BinnedSplit,
    audio_test: BinnedSplit,
    config: PairingConfig | None = None,
    seed: int = 0,
) -> CrossModalPairs:
    """Pair two modalities by class with seen/unseen classes and a validation split.

    Deterministic for a given ``seed`` (which only affects the validation draw and, with
    ``order='shuffled'``, the pairing order).

    Raises:
        DataError: wrong modalities, or a requested class missing from a split.
    """
    cfg = config or PairingConfig()
    _check(image_train, "image", "image_train")
    _check(image_test, "image", "image_test")
    _check(audio_train, "audio", "audio_train")
    _check(audio_test, "audio", "audio_test")
    if audio_train.label_map != audio_test.label_map:
        raise DataError("audio_train and audio_test use different label maps")
    rng = np.random.default_rng([seed, _TAG])

    def pair(img: BinnedSplit, aud: BinnedSplit, classes, limit) -> tuple[list, list, list]:
        ii, aa, ll = [], [], []
        for c in classes:
            i_idx = _class_indices(img, c, cfg.order, rng)
            a_idx = _class_indices(aud, c, cfg.order, rng)
            n = min(i_idx.size, a_idx.size)
            if limit is not None:
                n = min(n, limit)
            if n == 0:
                raise DataError(
                    f"class {c} has {i_idx.size} {img.dataset} {img.split} and {a_idx.size} "
                    f"{aud.dataset} {aud.split} samples: cannot pair it"
                )
            ii.append(i_idx[:n])
            aa.append(a_idx[:n])
            ll.append(np.full(n, c, dtype=np.int64))
        return ii, aa, ll

    ii, aa, ll = pair(image_train, audio_train, cfg.seen_classes, None)
    tr, va = ([], [], []), ([], [], [])
    for i_c, a_c, l_c in zip(ii, aa, ll, strict=True):
        n_val = int(round(cfg.val_fraction * l_c.size))
        val_mask = np.zeros(l_c.size, dtype=bool)
        val_mask[rng.choice(l_c.size, size=n_val, replace=False)] = True
        for dst, mask in ((tr, ~val_mask), (va, val_mask)):
            dst[0].append(i_c[mask])
            dst[1].append(a_c[mask])
            dst[2].append(l_c[mask])

    def build(name, img, aud, parts) -> PairedSplit:
        cat = [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]
        return PairedSplit(
            name, img, aud, cat[0].astype(np.int64), cat[1].astype(np.int64), cat[2].astype(np.int64)
        )

    test_seen = pair(image_test, audio_test, cfg.seen_classes, cfg.max_test_per_class)
    test_unseen = (
        pair(image_test, audio_test, cfg.unseen_classes, cfg.max_test_per_class)
        if cfg.unseen_classes
        else ([], [], [])
    )
    return CrossModalPairs(
        train=build("train", image_train, audio_train, tr),
        val=build("val", image_train, audio_train, va),
        test_seen=build("test_seen", image_test, audio_test, test_seen),
        test_unseen=build("test_unseen", image_test, audio_test, test_unseen),
        seen_classes=tuple(cfg.seen_classes),
        unseen_classes=tuple(cfg.unseen_classes),
        seed=seed,
        label_map=audio_train.label_map,
        config=cfg,
    )
