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


def _sequential_one(job, config, patience):
    import torch

    from rram_lsm.heads.batched import train_job_sequential

    torch.set_num_threads(1)
    return train_job_sequential(job, config, patience)


def bench_trainings(jobs, config, patience, n_sequential, workers):
    import torch

    from rram_lsm.heads.batched import train_heads_batched

    t = time.perf_counter()
    batched = train_heads_batched(jobs, config, patience=patience, threads=1, workers=workers)
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
                xt = torch.as_tensor(x)
                worst = max(worst, float((head_s(xt) - head_b(xt)).abs().max()))
    epochs_b = sum(len(r.history) - 1 for r in batched)
    epochs_s = sum(len(r.history) - 1 for r in seq)
    return {"trainings": len(jobs), "batched_s": t_batched, "sequential_trainings": len(pick),
            "sequential_s": t_seq, "epochs_batched": epochs_b, "epochs_sequential": epochs_s,
            "trainings_per_s": {"batched": len(jobs) / t_batched, "sequential": len(pick) / t_seq},
            "epochs_per_s": {"batched": epochs_b / t_batched, "sequential": epochs_s / t_seq},
            "sequential_members_identical": f"{same}/{len(pick)}",
            "max_abs_embedding_diff": worst}


def bench_probes(seeds: int, per_train: int, per_test: int, device: str) -> float:
    """Seconds for every linear probe of the demo (as the runner's classification stage)."""
    from rram_lsm.heads.probe import linear_probe, linear_probes

    rng = np.random.default_rng(1)
    y = (np.repeat(np.arange(CLASSES), per_train), np.repeat(np.arange(CLASSES), per_test))
    t0 = time.perf_counter()
    for steps, inputs, density in ((50, 256, 0.09), (129, 64, 0.18)):  # image, audio frames
        raw_dim = steps * inputs
        for _source in ("gaussian", "macro"):
            for dim in (1000, 200):
                for s in range(seeds):
                    f = synthetic_features(rng, len(y[0]), len(y[1]), dim, y)
                    linear_probe(f["train"], y[0], f["test"], y[1], seed=s, device=device)
        protos = rng.random((CLASSES, raw_dim)) * 2 * density
        frames = [(rng.random((len(v), raw_dim)) < protos[v]).astype(np.float32) for v in y]
        linear_probes(frames[0], y[0], frames[1], y[1], pcas=(None, 200), device=device)
        summed = [f.reshape(len(f), steps, inputs).sum(1) for f in frames]
        linear_probe(summed[0], y[0], summed[1], y[1], device=device)
    return time.perf_counter() - t0


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
    args = ap.parse_args(argv)

    from rram_lsm.heads.train import HeadConfig

    config = HeadConfig(loss="supcon", batch_size=64, epochs=args.epochs)
    jobs = demo_jobs(args.seeds, 150, 50)
    out = bench_trainings(jobs, config, args.patience, args.sequential, args.workers)
    b, s = out["trainings_per_s"]["batched"], out["trainings_per_s"]["sequential"]
    out["ratio_batched_vs_sequential"] = b / s
    out["probe_s"] = bench_probes(args.seeds, 150, 50, args.device)
    out.update(workers=args.workers, cpus=os.cpu_count(), load_avg=os.getloadavg()[0],
               epochs=args.epochs, patience=args.patience)
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
    print(f"all probes of the demo: {out['probe_s']:.1f} s; {args.workers} workers, "
          f"load average {out['load_avg']:.1f} on {out['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
