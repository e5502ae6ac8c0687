"""The fast ridge-probe path (block-wise standardisation into reused buffers, inputs kept in their
own dtype) against straightforward numpy / scikit-learn references."""

from __future__ import annotations

import numpy as np
import pytest

from rram_lsm.heads import probe
from rram_lsm.heads.probe import linear_probe, linear_probes, standardise


def _reference_z(x_fit, x_eval):
    x = np.asarray(x_fit, np.float64)
    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    return (x - mu) / sd, (np.asarray(x_eval, np.float64) - mu) / sd


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_standardise_is_bit_identical_to_numpy_mean_std(monkeypatch, dtype):
    monkeypatch.setattr(probe, "_BLOCK_BYTES", 8 * 40 * 7)  # blocks of 7 rows: several blocks
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 40)) * rng.uniform(0.1, 30, 40) + rng.normal(size=40) * 5
    if dtype == np.uint8:
        x = rng.random((50, 40)) < 0.1
    x = x.astype(dtype)
    x[:, 3] = x[0, 3]  # a constant column
    xe = x[:9] + 1
    z, ze = standardise(x, xe)
    rz, rze = _reference_z(x, xe)
    assert np.array_equal(z, rz) and np.array_equal(ze, rze)
    # into caller buffers (views of larger arrays, as linear_probes reuses them)
    bz, bze = np.full((60, 40), np.nan), np.full((12, 40), np.nan)
    z2, ze2 = standardise(x, xe, bz[:50], bze[:9])
    assert z2.base is bz and np.array_equal(bz[:50], rz) and np.array_equal(bze[:9], rze)


def _sklearn_probe(x, y, xt, yt, seed=0, val_fraction=0.2, pca=None):
    """The probe written plainly with scikit-learn: StandardScaler (+ PCA) + RidgeClassifier per
    alpha on a stratified validation split, then a refit on all training rows."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, np.float64).reshape(len(x), -1)
    xt = np.asarray(xt, np.float64).reshape(len(xt), -1)
    xa, xv, ya, yv = train_test_split(x, y, test_size=val_fraction, random_state=seed, stratify=y)

    def model(alpha):
        steps = [StandardScaler()] + ([PCA(pca, svd_solver="full")] if pca else [])
        return make_pipeline(*steps, RidgeClassifier(alpha=alpha))

    curve = {a: model(a).fit(xa, ya).score(xv, yv) for a in probe.ALPHA_GRID}
    best = max(probe.ALPHA_GRID, key=lambda a: (curve[a], a))
    return model(best).fit(x, y).score(xt, yt), curve[best], best


@pytest.mark.parametrize("pca", [None, 12])
def test_binary_frames_probe_equals_sklearn_and_float_input(pca):
    """Sparse binary "frames" with more features than rows (the dual path), as uint8 and float32:
    the same result as each other and as the plain scikit-learn probe."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 25)
    yt = np.repeat(np.arange(4), 10)
    proto = rng.random((4, 6, 30)) < 0.3

    def frames(labels):
        noise = rng.random((len(labels), 6, 30)) < 0.05
        keep = rng.random((len(labels), 6, 30)) < 0.7
        return ((proto[labels] & keep) | noise).astype(np.uint8)

    x, xt = frames(y), frames(yt)
    x[:, 0, 0] = 0  # a constant feature
    r8 = linear_probe(x, y, xt, yt, pca=pca)
    r32 = linear_probe(x.astype(np.float32), y, xt.astype(np.float32), yt, pca=pca)
    assert r8 == r32
    acc, val_acc, best = _sklearn_probe(x, y, xt, yt, pca=pca)
    assert (r8.accuracy, r8.val_accuracy, r8.C) == (pytest.approx(acc), pytest.approx(val_acc), best)
    both = linear_probes(x, y, xt, yt, pcas=(None, pca))
    assert both[1] == r8 if pca else both[0] == r8
