"""Contrastive losses, retrieval metrics, head training and probes against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rram_lsm.experiments.costs import training_costs
from rram_lsm.heads import contrastive_loss, retrieval_topk
from rram_lsm.heads.probe import linear_probe
from rram_lsm.heads.retrieval import chance_top1
from rram_lsm.heads.train import HeadConfig, RetrievalSet, train_heads


def _logsoftmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _np_supcon(a, i, y, tau):
    lg = a @ i.T / tau
    pos = (y[:, None] == y[None, :]).astype(float)
    l1 = -((_logsoftmax(lg) * pos).sum(1) / pos.sum(1)).mean()
    l2 = -((_logsoftmax(lg.T) * pos.T).sum(1) / pos.T.sum(1)).mean()
    return 0.5 * (l1 + l2)


def _np_clip(a, i, tau):
    lg = a @ i.T / tau
    return -0.5 * (np.diag(_logsoftmax(lg)).mean() + np.diag(_logsoftmax(lg.T)).mean())


def _np_dcl(a, i, y, tau):
    def one(lg, same):
        out = []
        for k in range(lg.shape[0]):
            neg = lg[k][~same[k]]
            lse = np.log(np.exp(neg).sum()) if neg.size else 0.0
            out.append(-lg[k, k] + lse)
        return np.mean(out)

    lg = a @ i.T / tau
    same = y[:, None] == y[None, :]
    return 0.5 * (one(lg, same) + one(lg.T, same.T))


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    a, i = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    y = rng.integers(0, 4, 12)
    return a, i, y


def _t(x):
    return torch.as_tensor(x)


def test_losses_match_numpy_references(batch):
    a, i, y = batch
    for tau in (0.5, 1.0):
        got = contrastive_loss("supcon", _t(a), _t(i), _t(y), tau)
        assert float(got) == pytest.approx(_np_supcon(a, i, y, tau), rel=1e-9)
        got = contrastive_loss("clip", _t(a), _t(i), _t(y), tau)
        assert float(got) == pytest.approx(_np_clip(a, i, tau), rel=1e-9)
        got = contrastive_loss("dcl", _t(a), _t(i), _t(y), tau)
        assert float(got) == pytest.approx(_np_dcl(a, i, y, tau), rel=1e-9)


def test_supcon_equals_clip_when_all_labels_differ(batch):
    a, i, _ = batch
    y = np.arange(12)
    s = contrastive_loss("supcon", _t(a), _t(i), _t(y), 0.7)
    c = contrastive_loss("clip", _t(a), _t(i), _t(y), 0.7)
    assert float(s) == pytest.approx(float(c), rel=1e-12)


def test_soft_clip_targets_are_detached(batch):
    a, i, y = batch
    a1, i1 = _t(a).clone().requires_grad_(), _t(i).clone().requires_grad_()
    contrastive_loss("soft_clip", a1, i1, _t(y), 1.0).backward()
    # with detached targets the gradient is that of CE(logits, fixed soft targets)
    tgt = torch.softmax((_t(a) @ _t(a).T + _t(i) @ _t(i).T) / 2, dim=-1)
    a2, i2 = _t(a).clone().requires_grad_(), _t(i).clone().requires_grad_()
    lg = a2 @ i2.T
    loss = 0.5 * (-(tgt * torch.log_softmax(lg, -1)).sum(-1).mean()
                  - (tgt.T * torch.log_softmax(lg.T, -1)).sum(-1).mean())
    loss.backward()
    torch.testing.assert_close(a1.grad, a2.grad)
    torch.testing.assert_close(i1.grad, i2.grad)


def test_retrieval_topk_matches_brute_force():
    rng = np.random.default_rng(1)
    q, g = rng.normal(size=(30, 4)), rng.normal(size=(25, 4))
    ql, gl = rng.integers(0, 3, 30), rng.integers(0, 3, 25)
    for k in (1, 5):
        sims = q @ g.T
        hits = [np.isin(ql[r], gl[np.argsort(-sims[r], kind="stable")[:k]]) for r in range(30)]
        assert retrieval_topk(_t(q), _t(g), ql, gl, k) == pytest.approx(np.mean(hits))
    # cosine retrieval ignores norms
    assert retrieval_topk(_t(q * 7), _t(g), ql, gl, 1, "cosine") == \
        retrieval_topk(_t(q), _t(g), ql, gl, 1, "cosine")


def test_chance_level():
    assert chance_top1([1, 2], [1, 1, 2, 2]) == pytest.approx(0.5)
    assert chance_top1(np.repeat(np.arange(7), 3), np.repeat(np.arange(7), 5)) == \
        pytest.approx(1 / 7)


def _synthetic(rng, classes, n, proto, ma, mi):
    y = np.repeat(classes, n)
    za = proto[y] + 0.8 * rng.normal(size=(y.size, proto.shape[1]))
    zi = proto[y] + 0.8 * rng.normal(size=(y.size, proto.shape[1]))
    return np.tanh(za @ ma / 5), np.tanh(zi @ mi / 5), y


def test_heads_learn_shared_structure_and_select_on_validation():
    rng = np.random.default_rng(0)
    proto = rng.normal(size=(10, 12))
    ma, mi = rng.normal(size=(12, 40)), rng.normal(size=(12, 60))
    a, i, y = _synthetic(rng, np.arange(1, 8), 60, proto, ma, mi)
    va, vi, vy = _synthetic(rng, np.arange(1, 8), 15, proto, ma, mi)
    sa, si, sy = _synthetic(rng, np.arange(1, 8), 20, proto, ma, mi)
    res = train_heads(a, i, y, RetrievalSet(va, vy, vi, vy), {"seen": RetrievalSet(sa, sy, si, sy)},
                      HeadConfig(epochs=15, batch_size=32), seed=0, paper_sets=("seen",))
    m = res.metrics["validation"]
    assert m["seen_a2i_top1"] > 0.6  # chance 1/7
    assert res.history[0]["seen_a2i_top1"] < m["seen_a2i_top1"]
    val = [0.5 * (h["val_a2i_top1"] + h["val_i2a_top1"]) for h in res.history]
    assert res.best_epoch["validation"] == int(np.argmax(val))
    test = [h["seen_a2i_top1"] for h in res.history]
    assert res.best_epoch["paper"] == int(np.argmax(test))
    # the paper protocol can only look better on the test set than the validation protocol
    assert res.metrics["paper"]["seen_a2i_top1"] >= m["seen_a2i_top1"]
    # same seed -> same history
    res2 = train_heads(a, i, y, RetrievalSet(va, vy, vi, vy), {"seen": RetrievalSet(sa, sy, si, sy)},
                       HeadConfig(epochs=15, batch_size=32), seed=0, paper_sets=("seen",))
    assert res2.history == res.history


def test_linear_probe_beats_chance_and_picks_c_on_validation():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 50)
    x = rng.normal(size=(200, 10)) + np.eye(4, 10)[y] * 2.0
    yt = np.repeat(np.arange(4), 20)
    xt = rng.normal(size=(80, 10)) + np.eye(4, 10)[yt] * 2.0
    for readout in ("ridge", "logistic"):
        r = linear_probe(x, y, xt, yt, seed=0, readout=readout)
        assert r.accuracy > 0.6
        assert r.C in r.val_curve and r.val_curve[r.C] == max(r.val_curve.values())


def test_training_cost_ratio_counts():
    c = training_costs(n_pairs=100, batch=10, epochs=1, proj_dim=4, n_layers=1,
                       audio=(2, 3, 5), image=(4, 3, 2), audio_feat_dim=3, image_feat_dim=3)
    heads = 2 * (3 * 4)
    loss = 10 * (10 * 10 * 4) * 3
    enc = 5 * (2 * 3 + 9) + 2 * (4 * 3 + 9)
    assert c.lsm_heads_macs_per_epoch == 100 * heads * 3 + loss
    assert c.srnn_clip_macs_per_epoch == 100 * (enc + heads) * 3 + loss


def test_ridge_probe_equals_sklearn_ridge_classifier():
    from sklearn.linear_model import RidgeClassifier
    from sklearn.preprocessing import StandardScaler

    from rram_lsm.heads.probe import _Fit, _Linalg, _ridge_weights

    rng = np.random.default_rng(5)
    for n, d in ((60, 8), (20, 50)):  # primal and dual paths
        x = rng.normal(size=(n, d))
        y = rng.integers(0, 3, n)
        xt = rng.normal(size=(15, d))
        fit = _Fit(_Linalg(), x, xt)
        sc = StandardScaler().fit(x)
        for alpha, classes, w, b in _ridge_weights(fit, None, y, (0.1, 10.0)):
            ref = RidgeClassifier(alpha=alpha).fit(sc.transform(x), y)
            np.testing.assert_allclose(w, ref.coef_.T, rtol=1e-6, atol=1e-9)
            pred = classes[np.argmax(fit.ze @ w + b, 1)]
            np.testing.assert_array_equal(pred, ref.predict(sc.transform(xt)))


def test_pca_projection_matches_sklearn_subspace():
    from sklearn.decomposition import PCA

    from rram_lsm.heads.probe import _Fit, _Linalg

    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 80)) @ rng.normal(size=(80, 80))
    z = (x - x.mean(0)) / x.std(0)
    ref = PCA(n_components=5, svd_solver="full").fit(z)
    # same subspace: projections agree up to the sign of each component
    a, b = _Fit(_Linalg(), x, x).features(5)[1], ref.transform(z)
    np.testing.assert_allclose(np.abs(a), np.abs(b), rtol=1e-6, atol=1e-8)
