"""One sweep trial: the experiment of `run_experiment` on already-binned data, without figures,
report files or baselines (a sweep wants numbers, fast), and the metrics it keeps.

The stages are the runner's own helpers, so a trial's numbers equal those of ``rram-lsm run`` on
the same config (baselines aside).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from rram_lsm.experiments.config import ExperimentConfig
from rram_lsm.experiments.results import (
    Baselines,
    DataInfo,
    ExperimentResults,
    LSMDiagnostics,
    Timings,
)


def default_metrics(cfg: ExperimentConfig) -> list[str]:
    """The headline metrics of ``cfg``: linear-probe accuracy per modality, seen / unseen
    retrieval (audio -> image top-1), energy per inference and firing rate, per weight source."""
    out = []
    for src in cfg.sources:
        if cfg.classify.enabled:
            out += [f"classify.image.{src}.accuracy", f"classify.audio.{src}.accuracy"]
        if cfg.zero_shot.enabled:
            out += [f"zero_shot.{src}.seen.a2i_top1.mean", f"zero_shot.{src}.unseen.a2i_top1.mean"]
        out += [f"energy_per_inference_j.{src}", f"lsm.{src}.image.firing.mean_rate",
                f"lsm.{src}.audio.firing.mean_rate"]
    return out


def extract(results: dict, path: str) -> float:
    """The number at dotted ``path`` of a results mapping (NaN when absent or not a number)."""
    node: Any = results
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return math.nan
        node = node[part]
    if isinstance(node, dict) and "mean" in node:
        node = node["mean"]
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return math.nan
    return float(node)


def results_dict(results: ExperimentResults) -> dict:
    """``results.to_dict()`` plus ``energy_per_inference_j.<source>``: the macro ledger energy
    of one image and one audio inference (the LSM part of the energy per inference)."""
    d = results.to_dict()
    d["energy_per_inference_j"] = {src: sum(x.energy_per_sample_j for x in by_mod.values())
                                   for src, by_mod in results.lsm.items()}
    return d


def run_point(cfg: ExperimentConfig, splits: dict) -> ExperimentResults:
    """The experiment ``cfg`` on binned ``splits`` ({modality: {split: BinnedSplit}}, as
    `rram_lsm.experiments.runner.load_data` returns): LSM encodings, zero-shot retrieval and
    linear probes as the config enables them, costs; no baselines, figures or files."""
    from rram_lsm.experiments import runner as r
    from rram_lsm.experiments.encoding import encode_modality
    from rram_lsm.experiments.zero_shot import (
        run_pairs_batched,
        summarise_zero_shot,
    )

    t0 = time.perf_counter()
    mods = ("image", "audio")
    frames = {m: {s: splits[m][s].frames for s in ("train", "test")} for m in mods}
    labels = {m: {s: splits[m][s].labels for s in ("train", "test")} for m in mods}
    timings: dict[str, float] = {"data_s": 0.0, "figures_s": 0.0, "baselines_s": 0.0}
    t = time.perf_counter()
    enc = {(seed, src): {m: encode_modality(cfg, m, src, seed, frames[m],
                                            dataset=splits[m]["train"].dataset) for m in mods}
           for seed in cfg.seed_list for src in cfg.sources}
    timings["encode_s"] = time.perf_counter() - t
    lsm = {src: {m: LSMDiagnostics(
        firing=r._mean_dicts([enc[(s, src)][m].firing for s in cfg.seed_list]),
        energy_per_sample_j=float(np.mean([enc[(s, src)][m].energy_per_sample_j
                                           for s in cfg.seed_list])))
        for m in mods} for src in cfg.sources}
    zero_shot, pair_idx = None, {}
    if cfg.zero_shot.enabled:
        t = time.perf_counter()
        zc = cfg.zero_shot
        pair_idx, _, jobs, indices = r.zero_shot_jobs(cfg, splits, enc)
        runs = run_pairs_batched(jobs, cfg.heads, zc.patience, indices, device=cfg.device,
                                 workers=cfg.workers)
        zero_shot = summarise_zero_shot(runs, cfg.feature_modes, zc.held_out_pairs)
        timings["zero_shot_s"] = time.perf_counter() - t
    classify = None
    if cfg.classify.enabled:
        t = time.perf_counter()
        classify = r._classify(cfg, enc, frames, labels, quiet=True)
        timings["classify_s"] = time.perf_counter() - t
    t = time.perf_counter()
    costs = r._costs(cfg, enc, pair_idx, frames)
    timings["costs_s"] = time.perf_counter() - t
    data = {m: DataInfo(dataset=splits[m]["train"].dataset, label_map=splits[m]["train"].label_map,
                        train=int(len(labels[m]["train"])), test=int(len(labels[m]["test"])))
            for m in mods}
    return ExperimentResults(
        runtime_s=time.perf_counter() - t0, timings=Timings(**timings), data=data,
        builtin_data=splits["image"]["train"].dataset in r.BUILTIN, lsm=lsm, baselines=Baselines(),
        costs=costs, zero_shot=zero_shot, classify=classify)
