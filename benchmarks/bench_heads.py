"""Head trainings and linear probes of the default demo, batched against sequential, in one run.

Setup: the demo's zero-shot grid -- 5 held-out pairs x 5 seeds x 2 weight sources x 2 feature
modes = 100 head trainings; features of the demo's shapes and statistics (synthetic: class
prototypes + noise, non-negative spike rates; ``windows`` 1000-d, ``rate`` 200-d; 150 / 50
samples per class for train / test, ~860 training pairs per held-out pair after the validation
split), supervised-contrastive loss, batch 64, up to 100 epochs, patience 10.

* ``batched``    -- `train_heads_batched`: the whole grid, chunks of members as one model,
                    ``--workers`` processes;
* ``sequential`` -- `train_heads` (the reference) on ``--sequential`` members of the same grid
                    (half of each feature mode), the same number of processes.

Both sides see the same members; ``max_abs_embedding_diff`` is the largest difference of their
embeddings (train features through the selected heads). ``probe_s`` times every linear probe of
the demo (LSM features of both modalities, sources, modes and seeds, and the raw-input probes on
binary frames of the demo's sizes).

``--json`` prints one object with keys ``trainings_per_s`` (``batched``, ``sequential``),
``ratio_batched_vs_sequential``, ``max_abs_embedding_diff``, ``probe_s`` and details. Target
(2 CPU cores): ratio >= 10. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

CLASSES = 10
PAIRS = ((8, 9), (1, 7), (2, 5), (3, 6), (0, 4))


def synthetic_features(rng: np.random.Generator, n_train: int, n_test: int, dim: int,
                       labels: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Non-negative spike-rate-like features [n, dim] with class structure."""
    proto = rng.gamma(2.0, 0.05, size=(CLASSES, dim))
    out = {}
    for split, y in zip(("train", "test"), labels):
        x = proto[y] * rng.lognormal(0.0, 0.6, size=(len(y), dim))
        out[split] = (x + rng.exponential(0.02, size=x.shape)).astype(np.float32)
    return out


def _pairs(rng: np.random.Generator, y: np.ndarray, classes, val_fraction: float = 0.0):
    """Same-class (image, audio) index pairs as the demo's pairing: per class every sample of
    one modality with a random one of the other; a random ``val_fraction`` held out."""
    img, aud = [], []
    for c in classes:
        idx = np.flatnonzero(y == c)
        img.append(idx)
        aud.append(rng.permutation(idx))
    img, aud = np.concatenate(img), np.concatenate(aud)
    order = rng.permutation(len(img))
    n_val = int(round(val_fraction * len(img)))
    val, train = order[:n_val], order[n_val:]
    return (img[train], aud[train], y[img[train]]), (img[val], aud[val], y[img[val]])


def demo_jobs(seeds: int, per_train: int, per_test: int, seed: int = 0):
    """HeadJobs of the demo grid: per seed and weight source one feature set per mode, per
    held-out pair one job (seen classes 1-9 minus the pair)."""
    from rram_lsm.experiments.zero_shot import PairIndex, pair_job
    from rram_lsm.heads.batched import FeatureSet

    rng = np.random.default_rng(seed)
    y = (np.repeat(np.arange(CLASSES), per_train), np.repeat(np.arange(CLASSES), per_test))
    jobs = []
    for s in range(seeds):
        for source in ("gaussian", "macro"):
            feats = {mode: FeatureSet(synthetic_features(rng, len(y[0]), len(y[1]), dim, y),
                                      synthetic_features(rng, len(y[0]), len(y[1]), dim, y))
                     for mode, dim in (("windows", 1000), ("rate", 200))}
            for mode, fs in feats.items():
                for pair in PAIRS:
                    r = np.random.default_rng([s, *pair])
                    seen = tuple(c for c in range(1, CLASSES) if c not in pair)
                    tr, val = _pairs(r, y[0], seen, 0.2)
                    te, _ = _pairs(r, y[1], seen)
                    un, _ = _pairs(r, y[1], pair)
                    idx = PairIndex(pair, seen, *tr, *val, *te, *un)
                    jobs.append(pair_job(fs, idx, s, {"source": source, "mode": mode}))
    return jobs


def _warm() -> int:
    import torch  # noqa: F401  (imports paid before the clock starts)

    import rram_lsm.heads.batched  # noqa: F401

    return 0


def _sequential_one(job, config, patience):
    import torch

    from rram_lsm.heads.batched import train_job_sequential

    torch.set_num_threads(1)
    return train_job_sequential(job, config, patience)


def bench_trainings(jobs, config, patience, n_sequential, workers, device="cpu"):
    import torch

    from rram_lsm.heads.batched import train_heads_batched

    t = time.perf_counter()
    batched = train_heads_batched(jobs, config, patience=patience, device=device, threads=1,
                                  workers=workers)
    t_batched = time.perf_counter() - t
    # the sequential members: evenly spread over the grid, half of each feature mode
    modes = {}
    for n, j in enumerate(jobs):
        modes.setdefault(j.tag["mode"], []).append(n)
    pick = sorted(n for ids in modes.values()
                  for n in ids[::max(1, len(ids) // max(1, n_sequential // len(modes)))]
                  [:n_sequential // len(modes)])
    t = time.perf_counter()
    if workers > 1:
        from joblib import Parallel, delayed

        seq = Parallel(n_jobs=workers, backend="loky")(
            delayed(_sequential_one)(jobs[n], config, patience) for n in pick)
    else:
        seq = [_sequential_one(jobs[n], config, patience) for n in pick]
    t_seq = time.perf_counter() - t
    worst, same = 0.0, 0
    for n, s in zip(pick, seq):
        b = batched[n]
        same += s.best_epoch == b.best_epoch and s.metrics == b.metrics
        f = jobs[n].features
        with torch.no_grad():
            for head_s, head_b, x in ((s.model.audio, b.model.audio, f.audio["train"]),
                                      (s.model.image, b.model.image, f.image["train"])):
                xt = torch.as_tensor(np.asarray(x, np.float32))
                worst = max(worst, float((head_s(xt) - head_b(xt)).abs().max()))
    epochs_b = sum(len(r.history) - 1 for r in batched)
    epochs_s = sum(len(r.history) - 1 for r in seq)
    return {"trainings": len(jobs), "batched_s": t_batched, "sequential_trainings": len(pick),
            "sequential_s": t_seq, "epochs_batched": epochs_b, "epochs_sequential": epochs_s,
            "trainings_per_s": {"batched": len(jobs) / t_batched, "sequential": len(pick) / t_seq},
            "epochs_per_s": {"batched": epochs_b / t_batched, "sequential": epochs_s / t_seq},
            "sequential_members_identical": f"{same}/{len(pick)}",
            "max_abs_embedding_diff": worst}


class _Encoded:
    """The part of an encoded modality the probe stage reads (`EncodedModality.features`)."""

    def __init__(self, feats: dict[str, dict[str, np.ndarray]]) -> None:
        self.feats = feats

    def features(self, mode: str, split: str) -> np.ndarray:
        return self.feats[mode][split]


def bench_probes(seeds: int, per_train: int, per_test: int, workers: int, device: str,
                 real: dict | None = None) -> float:
    """Seconds of the demo's probe stage (the runner's `_classify`: LSM features of both
    modalities, sources, modes and seeds, and the raw-input probes), on ``real`` demo data
    (enc, frames, labels) or synthetic data of the demo's sizes."""
    from rram_lsm.experiments.config import ExperimentConfig
    from rram_lsm.experiments.runner import _classify

    cfg = ExperimentConfig(seeds=seeds, workers=workers, device=device)
    if real is None:
        rng = np.random.default_rng(1)
        y = {"train": np.repeat(np.arange(CLASSES), per_train),
             "test": np.repeat(np.arange(CLASSES), per_test)}
        labels = {m: y for m in ("image", "audio")}
        frames = {}
        for m, (steps, inputs, density) in (("image", (50, 256, 0.09)), ("audio", (129, 64, 0.18))):
            protos = rng.random((CLASSES, steps, inputs)) * 2 * density
            frames[m] = {s: (rng.random((len(v), steps, inputs)) < protos[v]).astype(np.uint8)
                         for s, v in y.items()}
        enc = {(s, src): {m: _Encoded({mode: synthetic_features(rng, len(y["train"]), len(y["test"]),
                                                                dim, (y["train"], y["test"]))
                                       for mode, dim in (("windows", 1000), ("rate", 200))})
                          for m in ("image", "audio")}
               for s in range(seeds) for src in ("gaussian", "macro")}
    else:
        enc, frames, labels = real["enc"], real["frames"], real["labels"]
    t0 = time.perf_counter()
    _classify(cfg, enc, frames, labels)
    return time.perf_counter() - t0


def real_demo(data_root: str, seeds: int) -> dict:
    """The default demo's data, LSM features (through the feature cache) and zero-shot jobs."""
    from rram_lsm.experiments.encoding import encode_modality
    from rram_lsm.experiments.runner import _feature_sets, load_data, resolve_config
    from rram_lsm.experiments.zero_shot import pair_indices, pair_job

    cfg = resolve_config(None, [f"seeds={seeds}"])
    splits = load_data(cfg, data_root, quiet=True)
    frames = {m: {s: splits[m][s].frames for s in ("train", "test")} for m in ("image", "audio")}
    labels = {m: {s: splits[m][s].labels for s in ("train", "test")} for m in ("image", "audio")}
    enc = {(seed, src): {m: encode_modality(cfg, m, src, seed, frames[m],
                                            dataset=splits[m]["train"].dataset)
                         for m in ("image", "audio")}
           for seed in cfg.seed_list for src in cfg.sources}
    fsets = _feature_sets(enc, cfg.feature_modes)
    zc = cfg.zero_shot
    jobs = []
    for (seed, src) in enc:
        for mode in cfg.feature_modes:
            for p in zc.held_out_pairs:
                idx = pair_indices(splits, tuple(p), zc.class_pool, zc.train_excluded,
                                   zc.val_fraction, zc.max_test_per_class, seed)
                jobs.append(pair_job(fsets[(seed, src, mode)], idx, seed,
                                     {"source": src, "mode": mode}))
    return {"enc": enc, "frames": frames, "labels": labels, "jobs": jobs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seeds", type=int, default=5, help="seeds of the grid (default 5)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--sequential", type=int, default=10,
                    help="members trained by the sequential reference (default 10)")
    ap.add_argument("--workers", type=int, default=2, help="processes for both sides")
    ap.add_argument("--device", default="cpu", help="torch device of the batched side / probes")
    ap.add_argument("--data-root", help="use the real demo features: data root of the built-in "
                    "data (built on first use; LSM features through the feature cache)")
    args = ap.parse_args(argv)

    from rram_lsm.heads.train import HeadConfig

    config = HeadConfig(loss="supcon", batch_size=64, epochs=args.epochs)
    real = real_demo(args.data_root, args.seeds) if args.data_root else None
    jobs = real["jobs"] if real else demo_jobs(args.seeds, 150, 50)
    if args.workers > 1:  # start the worker processes before timing either side
        from joblib import Parallel, delayed

        Parallel(n_jobs=args.workers, backend="loky")(delayed(_warm)() for _ in range(args.workers))
    out = bench_trainings(jobs, config, args.patience, args.sequential, args.workers, args.device)
    b, s = out["trainings_per_s"]["batched"], out["trainings_per_s"]["sequential"]
    out["ratio_batched_vs_sequential"] = b / s
    out["probe_s"] = bench_probes(args.seeds, 150, 50, args.workers, args.device, real)
    out.update(features="demo (--data-root)" if real else "synthetic", workers=args.workers,
               cpus=os.cpu_count(), load_avg=os.getloadavg()[0], epochs=args.epochs,
               patience=args.patience)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{'':12} {'trainings':>9} {'epochs':>7} {'s':>8} {'trainings/s':>12} {'epochs/s':>9}")
    for side, n, e, t in (("batched", out["trainings"], out["epochs_batched"], out["batched_s"]),
                          ("sequential", out["sequential_trainings"], out["epochs_sequential"],
                           out["sequential_s"])):
        print(f"{side:12} {n:9d} {e:7d} {t:8.1f} {n / t:12.2f} {e / t:9.1f}")
    print(f"ratio batched / sequential (trainings/s): {out['ratio_batched_vs_sequential']:.1f}x "
          f"(target >= 10); epochs/s ratio "
          f"{out['epochs_per_s']['batched'] / out['epochs_per_s']['sequential']:.1f}x")
    print(f"members identical to their stand-alone training: {out['sequential_members_identical']}"
          f"; max |embedding diff| {out['max_abs_embedding_diff']:.2e}")
    print(f"all probes of the demo: {out['probe_s']:.1f} s; features {out['features']}; "
          f"{args.workers} workers, load average {out['load_avg']:.1f} on {out['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
