"""Batched head training, batched losses / retrieval and the fast ridge probes against their
references: the sequential `train_heads`, `contrastive_loss`, `retrieval_topk` and the
eigendecomposition ridge path (kept below as the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rram_lsm.experiments.results import Timings
from rram_lsm.heads import batched as batched_mod
from rram_lsm.heads.batched import (
    FeatureSet,
    HeadJob,
    Rows,
    _Chunk,
    estimate_seconds,
    train_heads_batched,
    train_job_sequential,
)
from rram_lsm.heads.losses import LOSSES, batched_contrastive_loss, contrastive_loss, full_batch_loss
from rram_lsm.heads.probe import linear_probe, linear_probes
from rram_lsm.heads.retrieval import (
    RetrievalMasks,
    batched_retrieval_both,
    batched_retrieval_topk,
    retrieval_topk,
)
from rram_lsm.heads.train import HeadConfig

# --- losses and retrieval --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("metric", ["dot", "cosine"])
def test_batched_losses_equal_each_members_own_loss(name, metric):
    g = torch.Generator().manual_seed(0)
    m, b, d = 4, 12, 5
    a, i = torch.randn(m, b, d, generator=g), torch.randn(m, b, d, generator=g)
    y = torch.randint(0, 4, (m, b), generator=g)
    n = [12, 9, 2, 5]  # ragged: padded rows must not change anything
    valid = torch.arange(b)[None] < torch.tensor(n)[:, None]
    tau = torch.tensor([1.0, 0.5, 2.0, 0.7])
    got = batched_contrastive_loss(name, a, i, y, valid, tau, metric)
    for k in range(m):
        ref = contrastive_loss(name, a[k, :n[k]], i[k, :n[k]], y[k, :n[k]], tau[k], metric)
        assert float(got[k]) == pytest.approx(float(ref), rel=1e-5, abs=1e-6)
    full = full_batch_loss(name, a, i, y, tau, metric)
    for k in range(m):
        ref = contrastive_loss(name, a[k], i[k], y[k], tau[k], metric)
        assert float(full[k]) == pytest.approx(float(ref), rel=1e-5, abs=1e-6)


def test_padded_members_have_zero_loss_and_gradient():
    a = torch.randn(2, 6, 3, requires_grad=True)
    valid = torch.tensor([[True] * 6, [False] * 6])
    loss = batched_contrastive_loss("supcon", a, a.detach() + 0.1, torch.zeros(2, 6, dtype=torch.long),
                                    valid, 1.0)
    assert float(loss[1].detach()) == 0.0
    loss.sum().backward()
    assert torch.isfinite(a.grad).all() and float(a.grad[1].abs().max()) == 0.0


def test_batched_retrieval_equals_retrieval_topk_with_duplicates():
    rng = np.random.default_rng(3)
    for _ in range(5):
        qa, gi = rng.normal(size=(20, 4)), rng.normal(size=(15, 4))
        ql, gl = rng.integers(0, 3, 20), rng.integers(0, 3, 15)
        q_idx, g_idx = rng.integers(0, 20, 30), rng.integers(0, 15, 25)  # pairs reuse samples
        ref = retrieval_topk(torch.as_tensor(qa[q_idx]), torch.as_tensor(gi[g_idx]), ql[q_idx],
                             gl[g_idx], (1, 5))
        qu, qc = np.unique(q_idx, return_counts=True)
        gu, gc = np.unique(g_idx, return_counts=True)
        sim = torch.as_tensor(qa[qu] @ gi[gu].T)[None]
        got = batched_retrieval_topk(sim, torch.as_tensor(ql[qu])[None], torch.as_tensor(gl[gu])[None],
                                     torch.as_tensor(qc)[None], torch.as_tensor(gc)[None], (1, 5))
        assert tuple(float(v) for v in got[:, 0]) == ref
        # the other direction from the same matrix (its columns): gallery items as queries
        ref_back = retrieval_topk(torch.as_tensor(gi[g_idx]), torch.as_tensor(qa[q_idx]), gl[g_idx],
                                  ql[q_idx], (1, 5))
        masks = RetrievalMasks.of(torch.as_tensor(ql[qu])[None], torch.as_tensor(gl[gu])[None],
                                  torch.as_tensor(qc)[None], torch.as_tensor(gc)[None])
        fwd, back = batched_retrieval_both(sim, masks, (1, 5))
        assert torch.equal(fwd, got)
        assert tuple(float(v) for v in back[:, 0]) == ref_back


# --- batched training vs the sequential reference ------------------------------------------------


def _jobs(n_jobs: int = 4, dims=(40, 60), seed: int = 0) -> tuple[list[HeadJob], np.ndarray, np.ndarray]:
    """Held-out-pair style jobs on shared synthetic features: ragged training sizes, test pairs
    that reuse samples."""
    rng = np.random.default_rng(seed)
    proto = rng.normal(size=(10, 12))
    ma, mi = rng.normal(size=(12, dims[0])), rng.normal(size=(12, dims[1]))

    def feats(y):
        za = proto[y] + 0.8 * rng.normal(size=(len(y), 12))
        zi = proto[y] + 0.8 * rng.normal(size=(len(y), 12))
        return np.tanh(za @ ma / 5).astype(np.float32), np.tanh(zi @ mi / 5).astype(np.float32)

    ytr, yte = np.repeat(np.arange(10), 30), np.repeat(np.arange(10), 12)
    atr, itr = feats(ytr)
    ate, ite = feats(yte)
    fs = FeatureSet({"train": atr, "test": ate}, {"train": itr, "test": ite})
    jobs = []
    for k, pair in enumerate([(8, 9), (1, 7), (2, 5), (0, 4)][:n_jobs]):
        r = np.random.default_rng(k)
        seen = [c for c in range(10) if c not in pair]

        def partner(idx, y, r=r):
            out = idx.copy()
            for c in np.unique(y[idx]):
                sel = np.flatnonzero(y[idx] == c)
                out[sel] = idx[sel][r.permutation(len(sel))]
            return out

        tr = np.flatnonzero(np.isin(ytr, seen))
        r.shuffle(tr)
        val, tr = tr[:40], tr[40:len(tr) - 9 * k]
        te = np.flatnonzero(np.isin(yte, seen))
        te = np.concatenate([te, te[:25]])
        un = np.flatnonzero(np.isin(yte, pair))
        jobs.append(HeadJob(fs, Rows("train", tr, partner(tr, ytr), ytr[tr]),
                            Rows("train", val, partner(val, ytr), ytr[val]),
                            {"seen": Rows("test", te, partner(te, yte), yte[te]),
                             "unseen": Rows("test", un, partner(un, yte), yte[un])}, seed=k))
    return jobs, atr, itr


def _assert_same(seq, bat, atr, itr, emb_tol=1e-4):
    worst = 0.0
    for s, b in zip(seq, bat):
        assert s.best_epoch == b.best_epoch
        assert s.metrics == b.metrics  # selected-epoch retrieval: identical
        assert len(s.history) == len(b.history)
        for hs, hb in zip(s.history, b.history):
            assert {k: v for k, v in hs.items() if k != "loss"} == \
                {k: v for k, v in hb.items() if k != "loss"}
            if hs["loss"] is not None:
                assert hb["loss"] == pytest.approx(hs["loss"], rel=1e-5)
        with torch.no_grad():
            for head, x in ((lambda r: r.model.audio, atr), (lambda r: r.model.image, itr)):
                x = torch.as_tensor(x)
                worst = max(worst, float((head(s)(x) - head(b)(x)).abs().max()))
    assert worst < emb_tol, worst
    return worst


@pytest.mark.parametrize("update", [
    {},  # the default: supervised contrastive, GELU, dot
    {"loss": "proto", "activation": "identity", "metric": "cosine"},  # the ProtoNet baseline
    {"loss": "dcl"},
    {"loss": "soft_clip"},
    {"loss": "clip", "n_layers": 2, "learn_temperature": True, "temperature": 0.5,
     "standardize": True},
])
def test_each_member_equals_its_stand_alone_training(update):
    jobs, atr, itr = _jobs()
    cfg = HeadConfig(epochs=12, batch_size=32, **update)
    seq = [train_job_sequential(j, cfg, patience=4) for j in jobs]
    bat = train_heads_batched(jobs, cfg, patience=4, chunk=3)  # ragged chunks of 3 and 1
    _assert_same(seq, bat, atr, itr)


@pytest.mark.skipif(batched_mod._LINEAR is None, reason="this torch build has no oneDNN linear")
@pytest.mark.parametrize("update", [
    {},
    {"loss": "clip", "n_layers": 2, "learn_temperature": True, "temperature": 0.5,
     "standardize": True},
])
def test_members_trained_through_onednn_equal_their_stand_alone_training(update, monkeypatch):
    # wide first layers go member by member through oneDNN (`_MemberLinear`); force that path
    monkeypatch.setattr(batched_mod, "ONEDNN_MIN_IN", 1)
    monkeypatch.setattr(batched_mod, "ONEDNN_MIN_ROWS", 1)
    jobs, atr, itr = _jobs()
    cfg = HeadConfig(epochs=12, batch_size=32, **update)
    seq = [train_job_sequential(j, cfg, patience=4) for j in jobs]
    bat = train_heads_batched(jobs, cfg, patience=4, chunk=3)
    _assert_same(seq, bat, atr, itr)


def test_feature_sizes_group_and_worker_processes_give_the_same_results():
    jobs, atr, itr = _jobs(2)
    small, _, _ = _jobs(2, dims=(8, 6), seed=1)
    cfg = HeadConfig(epochs=4, batch_size=32)
    both = train_heads_batched(jobs + small, cfg, patience=None, workers=2, chunk=1)
    seq = [train_job_sequential(j, cfg) for j in jobs]
    _assert_same(seq, both[:2], atr, itr)
    for j, r in zip(small, both[2:]):
        assert r.model.audio.net[0].in_features == 8
        assert r.metrics == train_job_sequential(j, cfg).metrics


def test_stacked_adam_equals_torch_adam_per_member():
    torch.manual_seed(0)
    p0 = torch.randn(3, 5, 7)
    ref = [torch.nn.Parameter(p0[m].clone()) for m in range(3)]
    opts = [torch.optim.Adam([r], lr=1e-3, fused=True) for r in ref]  # as train_heads
    chunk = _Chunk.__new__(_Chunk)  # only the optimiser state is needed
    chunk.config = HeadConfig()
    chunk.params = [p0.clone().requires_grad_()]
    chunk.exp_avg, chunk.exp_avg_sq = [torch.zeros_like(p0)], [torch.zeros_like(p0)]
    chunk.steps = torch.zeros((1, 3))
    chunk._member_weights = {}
    for step in range(15):
        g = torch.randn(3, 5, 7)
        active = np.array([True, step % 3 != 0, step < 5])  # members skip steps (ragged sizes)
        for m in np.flatnonzero(active):
            ref[m].grad = g[m].clone()
            opts[m].step()
        chunk.params[0].grad = g * torch.as_tensor(active, dtype=torch.float32)[:, None, None]
        chunk._adam(active)
    for m in range(3):
        assert torch.equal(chunk.params[0][m].detach(), ref[m].detach())


def test_on_done_and_estimate():
    jobs, _, _ = _jobs(3)
    cfg = HeadConfig(epochs=3, batch_size=32)
    done = []
    train_heads_batched(jobs, cfg, on_done=done.append)
    assert sorted(done) == [0, 1, 2]
    est = estimate_seconds(jobs, cfg, patience=10, workers=2)
    assert 0 < est["expected_s"] <= est["max_s"] and est["member_epoch_s"] > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_members_equal_cpu_members():
    jobs, atr, itr = _jobs(3)
    cfg = HeadConfig(epochs=6, batch_size=32)
    cpu = train_heads_batched(jobs, cfg, patience=3)
    gpu = train_heads_batched(jobs, cfg, patience=3, device="cuda")
    for c, g in zip(cpu, gpu):
        assert c.best_epoch == g.best_epoch
    r = linear_probe(atr, np.arange(len(atr)) % 3, atr[:50], np.arange(50) % 3, device="cuda")
    assert r.accuracy == linear_probe(atr, np.arange(len(atr)) % 3, atr[:50], np.arange(50) % 3).accuracy


# --- fast ridge probes vs the eigendecomposition path ---------------------------------------------


def _reference_probe(x_train, y_train, x_test, y_test, seed=0, val_fraction=0.2, pca=None):
    """The previous implementation: one eigendecomposition per fit (primal or dual), PCA by a
    full eigendecomposition."""
    from sklearn.model_selection import train_test_split

    x_train = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, np.float64).reshape(len(x_test), -1)
    if pca:
        pca = min(pca, x_train.shape[1], int(len(x_train) * (1 - val_fraction)) - 1)
    xt, xv, yt, yv = train_test_split(x_train, y_train, test_size=val_fraction,
                                      random_state=seed, stratify=y_train)

    def prep(x):
        mu, sd = x.mean(0), x.std(0)
        sd[sd == 0] = 1.0
        z = (x - mu) / sd
        basis = None
        if pca:
            if z.shape[1] <= z.shape[0]:
                basis = np.linalg.eigh(z.T @ z)[1][:, ::-1][:, :pca]
            else:
                w, v = np.linalg.eigh(z @ z.T)
                w, v = w[::-1][:pca], v[:, ::-1][:, :pca]
                basis = (z.T @ v) / np.sqrt(np.maximum(w, 1e-12))
        return lambda q: ((q - mu) / sd) @ basis if basis is not None else (q - mu) / sd

    def scores(xf, yf, xe, ye, alphas):
        p = prep(xf)
        z, ze = p(xf), p(xe)
        classes = np.unique(yf)
        t = np.where(yf[:, None] == classes[None, :], 1.0, -1.0)
        b = t.mean(0)
        t = t - b
        dual = z.shape[1] > z.shape[0]
        s, v = np.linalg.eigh(z @ z.T if dual else z.T @ z)
        proj = v.T @ t if dual else v.T @ (z.T @ t)
        out = {}
        for a in alphas:
            inner = proj / (np.maximum(s, 0.0) + a)[:, None]
            w = z.T @ (v @ inner) if dual else v @ inner
            out[a] = float(np.mean(classes[np.argmax(ze @ w + b, axis=1)] == ye))
        return out

    grid = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
    curve = scores(xt, yt, xv, yv, grid)
    best = max(grid, key=lambda r: (curve[r], r))
    return scores(x_train, y_train, x_test, y_test, [best])[best], curve, best


@pytest.mark.parametrize("d,pca", [(30, None), (30, 10), (400, None), (400, 50)])
def test_fast_ridge_probe_equals_the_eigendecomposition_path(d, pca):
    rng = np.random.default_rng(d)
    y = np.repeat(np.arange(5), 40)
    x = rng.normal(size=(200, d)) + np.eye(5, d)[y] * 1.5
    x[:, 3] = 0.0  # a constant feature
    yt = np.repeat(np.arange(5), 16)
    xt = rng.normal(size=(80, d)) + np.eye(5, d)[yt] * 1.5
    acc, curve, best = _reference_probe(x, y, xt, yt, pca=pca)
    r = linear_probe(x, y, xt, yt, pca=pca)
    assert (r.accuracy, r.val_curve, r.C) == (acc, curve, best)


def test_linear_probes_shares_work_but_not_results():
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(4), 30)
    x = rng.normal(size=(120, 300)) + np.eye(4, 300)[y]
    yt = np.repeat(np.arange(4), 10)
    xt = rng.normal(size=(40, 300)) + np.eye(4, 300)[yt]
    both = linear_probes(x, y, xt, yt, pcas=(None, 20))
    assert both[0] == linear_probe(x, y, xt, yt)
    assert both[1] == linear_probe(x, y, xt, yt, pca=20)


# --- timings --------------------------------------------------------------------------------------


def test_timings_optional_fields_round_trip_and_old_files_read():
    old = {"data_s": 1.0, "encode_s": 2.0, "baselines_s": 3.0, "figures_s": 4.0, "zero_shot_s": 5.0}
    assert Timings.from_dict(old, "t").to_dict() == {**old, "encode_cache_hits": 0}
    new = Timings(data_s=1.0, encode_s=2.0, baselines_s=3.0, figures_s=4.0, zero_shot_s=5.0,
                  zero_shot_trainings=100, zero_shot_epochs=5400, protonet_s=1.5, costs_s=0.1)
    assert Timings.from_dict(new.to_dict(), "t") == new
    assert "head trainings" in new.table(20.0)


def test_probe_stage_in_worker_processes_equals_in_process():
    from rram_lsm.experiments.config import ExperimentConfig
    from rram_lsm.experiments.runner import _classify

    class _Enc:  # the part of EncodedModality the probes read
        def __init__(self, rng, y):
            self.x = {s: rng.normal(size=(len(v), 30)) + np.eye(3, 30)[v] for s, v in y.items()}

        def features(self, mode, split):
            return self.x[split] if mode == "windows" else self.x[split][:, :10]

    rng = np.random.default_rng(0)
    y = {"train": np.repeat(np.arange(3), 30), "test": np.repeat(np.arange(3), 10)}
    labels = {m: y for m in ("image", "audio")}
    frames = {m: {s: (rng.random((len(v), 4, 40)) < 0.2).astype(np.uint8) for s, v in y.items()}
              for m in ("image", "audio")}
    enc = {(s, src): {m: _Enc(rng, y) for m in ("image", "audio")}
           for s in (0, 1) for src in ("gaussian", "macro")}
    cfg = ExperimentConfig(seeds=2, workers=1, classify={"pca_components": 5})
    one = _classify(cfg, enc, frames, labels)
    two = _classify(cfg.model_copy(update={"workers": 2}), enc, frames, labels)
    assert one == two
    assert set(one["image"].probes) == {"gaussian", "gaussian_rate", "macro", "macro_rate", "raw",
                                        "raw_pca", "raw_time_summed"}
