"""`run_experiment`: data -> LSM features (per seed and weight source) -> zero-shot retrieval,
classification / linear probes, baselines, costs -> metrics.json, report.md, figures."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from rram_lsm.data.config import frame_steps
from rram_lsm.experiments.config import ExperimentConfig, resolve_lsm_config
from rram_lsm.experiments.encoding import EncodedModality, encode_modality
from rram_lsm.experiments.zero_shot import PairIndex, pair_indices, run_pairs_job
from rram_lsm.io import atomic_write_json, atomic_write_text

BUILTIN = ("digits-dvs", "spoken-digits")


def summarise(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()) if v.size else float("nan"),
            "std": float(v.std()) if v.size else float("nan"),
            "per_seed": [float(x) for x in v]}


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def load_data(cfg: ExperimentConfig, data_root: str | Path, quiet: bool = False) -> dict:
    """Binned train/test splits of both modalities ({modality: {split: BinnedSplit}})."""
    from rram_lsm.data import ensure_builtin, load_split

    d = cfg.data
    wanted = tuple(n for n in (d.image_dataset, d.audio_dataset) if n in BUILTIN)
    if wanted:
        b = d.builtin
        ensure_builtin(data_root, b.per_class_train, b.per_class_test, b.seed, config=b,
                       names=wanted, progress=not quiet)
    out: dict = {"image": {}, "audio": {}}
    for modality, name in (("image", d.image_dataset), ("audio", d.audio_dataset)):
        for split in ("train", "test"):
            out[modality][split] = load_split(name, split, data_root, d.binning, d.label_map,
                                              progress=not quiet)
    return out


def _parallel(jobs: list[dict], workers: int, fn) -> list:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=workers, backend="loky")(delayed(fn)(j) for j in jobs)


def run_experiment(cfg: ExperimentConfig, out_dir: str | Path, data_root: str | Path,
                   quiet: bool = False) -> dict:
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml",
                      yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    timings: dict[str, float] = {}

    t = time.perf_counter()
    splits = load_data(cfg, data_root, quiet)
    timings["data_s"] = time.perf_counter() - t
    frames = {m: {s: splits[m][s].frames for s in ("train", "test")} for m in ("image", "audio")}
    labels = {m: {s: splits[m][s].labels for s in ("train", "test")} for m in ("image", "audio")}
    _log(f"data: image {splits['image']['train'].dataset} "
         f"{len(labels['image']['train'])}/{len(labels['image']['test'])}, audio "
         f"{splits['audio']['train'].dataset} {len(labels['audio']['train'])}/"
         f"{len(labels['audio']['test'])} (train/test) in {timings['data_s']:.1f} s", quiet)

    # --- LSM features ------------------------------------------------------------------------
    t = time.perf_counter()
    enc: dict[tuple[int, str], dict[str, EncodedModality]] = {}
    for seed in cfg.seed_list:
        for source in cfg.sources:
            enc[(seed, source)] = {m: encode_modality(cfg, m, source, seed, frames[m],
                                                      dataset=splits[m]["train"].dataset)
                                   for m in ("image", "audio")}
    timings["encode_s"] = time.perf_counter() - t
    hits = sum(e.cache_hits for pair in enc.values() for e in pair.values())
    timings["encode_cache_hits"] = hits  # splits read from the feature cache (of 4 per combo)
    cached = f"; {hits} of {4 * len(enc)} splits from the cache {cfg.cache_dir}" \
        if cfg.cache_dir is not None else "; cache off"
    _log(f"LSM: encoded {len(enc)} (seed, source) combinations in {timings['encode_s']:.1f} s"
         f"{cached}", quiet)

    metrics: dict = {"runtime_s": None, "timings": timings,
                     "data": {m: {"dataset": splits[m]["train"].dataset,
                                  "label_map": splits[m]["train"].label_map,
                                  "train": int(len(labels[m]["train"])),
                                  "test": int(len(labels[m]["test"]))}
                              for m in ("image", "audio")},
                     "builtin_data": splits["image"]["train"].dataset in BUILTIN}
    metrics["lsm"] = {src: {m: {"firing": _mean_dicts([enc[(s, src)][m].firing
                                                        for s in cfg.seed_list]),
                                "energy_per_sample_j": float(np.mean(
                                    [enc[(s, src)][m].energy_per_sample_j
                                     for s in cfg.seed_list]))}
                            for m in ("image", "audio")}
                      for src in cfg.sources}

    # --- zero-shot ---------------------------------------------------------------------------
    zs_results: list[dict] = []
    pair_idx: dict[tuple[tuple[int, int], int], PairIndex] = {}
    if cfg.zero_shot.enabled:
        t = time.perf_counter()
        zc = cfg.zero_shot
        for pair in zc.held_out_pairs:
            for seed in cfg.seed_list:
                pair_idx[(tuple(pair), seed)] = pair_indices(
                    splits, tuple(pair), zc.class_pool, zc.train_excluded, zc.val_fraction,
                    zc.max_test_per_class, seed)
        jobs = []
        for (seed, source), e in enc.items():
            for mode in cfg.feature_modes:
                jobs.append({"img": {s: e["image"].features(mode, s) for s in ("train", "test")},
                             "aud": {s: e["audio"].features(mode, s) for s in ("train", "test")},
                             "indices": [pair_idx[(tuple(p), seed)] for p in zc.held_out_pairs],
                             "heads": cfg.heads, "seed": seed, "patience": zc.patience,
                             "source": source, "mode": mode})
        results = _parallel(jobs, cfg.workers, run_pairs_job)
        for j, rs in zip(jobs, results):
            for r in rs:
                r["source"], r["mode"] = j["source"], j["mode"]
                zs_results.append(r)
        timings["zero_shot_s"] = time.perf_counter() - t
        _log(f"zero-shot: {len(zs_results)} head trainings in {timings['zero_shot_s']:.1f} s",
             quiet)
        _zero_shot_metrics(cfg, zs_results, metrics)

    # --- classification / linear probes --------------------------------------------------------
    if cfg.classify.enabled:
        t = time.perf_counter()
        metrics["classify"] = _classify(cfg, enc, frames, labels)
        timings["classify_s"] = time.perf_counter() - t
        _log(f"classification probes in {timings['classify_s']:.1f} s", quiet)

    # --- baselines -----------------------------------------------------------------------------
    t = time.perf_counter()
    metrics["baselines"] = _baselines(cfg, enc, frames, labels, pair_idx, splits, quiet)
    timings["baselines_s"] = time.perf_counter() - t

    # --- costs ---------------------------------------------------------------------------------
    metrics["costs"] = _costs(cfg, enc, pair_idx, frames)

    metrics["runtime_s"] = time.perf_counter() - t_start
    from rram_lsm.experiments.figures import make_figures
    from rram_lsm.experiments.report import write_report

    t = time.perf_counter()
    make_figures(out_dir / "figures", cfg, splits, enc, zs_results, metrics)
    timings["figures_s"] = time.perf_counter() - t
    metrics["runtime_s"] = time.perf_counter() - t_start
    atomic_write_json(out_dir / "metrics.json", metrics)
    write_report(out_dir / "report.md", cfg, metrics)
    if zs_results:
        atomic_write_json(out_dir / "zero_shot_runs.json",
                          [{k: v for k, v in r.items()} for r in zs_results])
    return metrics


def _mean_dicts(ds: list[dict]) -> dict:
    keys = ds[0].keys() if ds else []
    return {k: float(np.mean([d[k] for d in ds])) for k in keys}


def _zero_shot_metrics(cfg: ExperimentConfig, results: list[dict], metrics: dict) -> None:
    """Aggregate per (protocol, mode, source): seen / unseen, per seed (mean over pairs) and per
    pair (mean over seeds)."""
    headline = cfg.feature_modes[0]
    by: dict = defaultdict(lambda: defaultdict(list))
    for r in results:
        for proto in ("validation", "paper"):
            m = r["metrics"][proto]
            by[(proto, r["mode"], r["source"])][(tuple(r["pair"]), r["seed"])].append(m)
    out_modes: dict = {}
    for (proto, mode, source), cells in by.items():
        pairs = sorted({p for p, _ in cells})
        seeds = sorted({s for _, s in cells})
        entry: dict = {"seen": {}, "unseen": {}}
        for split in ("seen", "unseen"):
            for metric in ("a2i_top1", "i2a_top1", "a2i_top5", "i2a_top5"):
                key = f"{split}_{metric}"
                per_seed = [float(np.mean([cells[(p, s)][0][key] for p in pairs])) for s in seeds]
                e = summarise(per_seed)
                if split == "unseen":
                    e["per_pair"] = {f"{p[0]}/{p[1]}": summarise(
                        [cells[(p, s)][0][key] for s in seeds]) for p in pairs}
                entry[split][metric] = e
        entry["best_epoch"] = summarise([r["best_epoch"][proto] for r in results
                                         if r["mode"] == mode and r["source"] == source])
        out_modes.setdefault(proto, {}).setdefault(mode, {})[source] = entry
    metrics["zero_shot_by_features"] = out_modes.get("validation", {})
    metrics["zero_shot_paper_protocol_by_features"] = out_modes.get("paper", {})
    metrics["zero_shot"] = out_modes.get("validation", {}).get(headline, {})
    metrics["zero_shot_paper_protocol"] = out_modes.get("paper", {}).get(headline, {})
    metrics["zero_shot_headline_features"] = headline
    ch_seen = [r["chance"]["seen"] for r in results]
    ch_unseen = [r["chance"]["unseen"] for r in results]
    metrics["chance"] = {"seen": float(np.mean(ch_seen)), "unseen": float(np.mean(ch_unseen))}
    metrics["held_out_pairs"] = [list(p) for p in cfg.zero_shot.held_out_pairs]


def _classify(cfg: ExperimentConfig, enc: dict, frames: dict, labels: dict) -> dict:
    from rram_lsm.heads.probe import linear_probe

    out: dict = {}
    for m in ("image", "audio"):
        ytr, yte = labels[m]["train"], labels[m]["test"]
        res: dict = {}
        for source in cfg.sources:
            for mode in cfg.feature_modes:
                accs, vals = [], []
                for seed in cfg.seed_list:
                    e = enc[(seed, source)][m]
                    r = linear_probe(e.features(mode, "train"), ytr, e.features(mode, "test"), yte,
                                     seed=seed, val_fraction=cfg.classify.val_fraction,
                                     readout=cfg.classify.readout)
                    accs.append(r.accuracy)
                    vals.append(r.val_accuracy)
                key = source if mode == cfg.feature_modes[0] else f"{source}_{mode}"
                res[key] = {**summarise(accs), "accuracy": float(np.mean(accs)),
                            "val_accuracy": float(np.mean(vals)), "features": mode}
        if cfg.classify.raw_baselines:
            flat_tr = frames[m]["train"].reshape(len(ytr), -1).astype(np.float32)
            flat_te = frames[m]["test"].reshape(len(yte), -1).astype(np.float32)
            r = linear_probe(flat_tr, ytr, flat_te, yte, seed=0,
                             val_fraction=cfg.classify.val_fraction, readout=cfg.classify.readout)
            res["raw"] = {"accuracy": r.accuracy, "val_accuracy": r.val_accuracy,
                          "features": "binned input, flattened"}
            r = linear_probe(flat_tr, ytr, flat_te, yte, seed=0, pca=cfg.classify.pca_components,
                             val_fraction=cfg.classify.val_fraction, readout=cfg.classify.readout)
            res["raw_pca"] = {"accuracy": r.accuracy, "val_accuracy": r.val_accuracy,
                              "features": f"binned input, PCA-{cfg.classify.pca_components}"}
            tsum_tr = frames[m]["train"].sum(1).astype(np.float32)
            tsum_te = frames[m]["test"].sum(1).astype(np.float32)
            r = linear_probe(tsum_tr, ytr, tsum_te, yte, seed=0,
                             val_fraction=cfg.classify.val_fraction, readout=cfg.classify.readout)
            res["raw_time_summed"] = {"accuracy": r.accuracy, "val_accuracy": r.val_accuracy,
                                      "features": "binned input summed over time"}
        res["chance"] = 1.0 / len(np.unique(ytr))
        out[m] = res
    return out


def _baselines(cfg: ExperimentConfig, enc: dict, frames: dict, labels: dict, pair_idx: dict,
               splits: dict, quiet: bool) -> dict:
    from rram_lsm.experiments.zero_shot import run_pair

    out: dict = {}
    bc = cfg.baselines
    pair = tuple(cfg.zero_shot.held_out_pairs[0])
    source, mode = cfg.sources[0], cfg.feature_modes[0]
    if bc.protonet.enabled and pair_idx:
        t = time.perf_counter()
        heads = cfg.heads.model_copy(update={"loss": "proto", "activation": "identity",
                                             "metric": "cosine", "epochs": bc.protonet.epochs})
        seeds = cfg.seed_list[: bc.protonet.seeds]
        runs = []
        for seed in seeds:
            e = enc[(seed, source)]
            runs.append(run_pair({s: e["image"].features(mode, s) for s in ("train", "test")},
                                 {s: e["audio"].features(mode, s) for s in ("train", "test")},
                                 pair_idx[(pair, seed)], heads, seed, cfg.zero_shot.patience))
        out["lsm_protonet"] = _baseline_summary(runs, pair, source, mode)
        _log(f"baseline LSM-ProtoNet in {time.perf_counter() - t:.1f} s", quiet)
    if bc.srnn_clip.enabled and pair_idx:
        t = time.perf_counter()
        out["srnn_clip"] = _srnn_clip(cfg, frames, pair_idx, pair, quiet)
        _log(f"baseline SRNN-CLIP in {time.perf_counter() - t:.1f} s", quiet)
    if bc.rnn_classifier.enabled:
        from rram_lsm.baselines import ClassifierConfig, train_classifier

        t = time.perf_counter()
        res = {}
        for m in ("image", "audio"):
            accs = [train_classifier(frames[m]["train"].astype(np.float32), labels[m]["train"],
                                     frames[m]["test"].astype(np.float32), labels[m]["test"],
                                     ClassifierConfig(kind="rnn", epochs=bc.rnn_classifier.epochs),
                                     seed=s)["accuracy"]
                    for s in cfg.seed_list[: bc.rnn_classifier.seeds]]
            res[m] = summarise(accs)
        out["rnn_classifier"] = res
        _log(f"baseline RNN classifier in {time.perf_counter() - t:.1f} s", quiet)
    return out


def _baseline_summary(runs: list[dict], pair, source: str, mode: str) -> dict:
    res = {"pair": list(pair), "features_source": source, "features": mode}
    for proto in ("validation", "paper"):
        res[proto] = {k: summarise([r["metrics"][proto][k] for r in runs])
                      for k in ("seen_a2i_top1", "seen_i2a_top1", "unseen_a2i_top1",
                                "unseen_i2a_top1")}
    return res


def _srnn_clip(cfg: ExperimentConfig, frames: dict, pair_idx: dict, pair, quiet: bool) -> dict:
    """Fully trainable spiking encoders + the same heads and loss (the paper's SRNN-CLIP)."""
    from rram_lsm.baselines import SpikingRNN, SRNNDual
    from rram_lsm.heads.train import RetrievalSet, train_heads

    runs = []
    bc = cfg.baselines.srnn_clip
    for seed in cfg.seed_list[: bc.seeds]:
        idx = pair_idx[(pair, seed)]
        import torch

        torch.manual_seed(seed)
        ci = resolve_lsm_config(cfg, "image", cfg.sources[0], seed)
        ca = resolve_lsm_config(cfg, "audio", cfg.sources[0], seed)
        model = SRNNDual(
            SpikingRNN(ca.n_inputs, ca.n_neurons, ca.decay, 1.0, 1.0, weight_std=ca.n_inputs ** -0.5),
            SpikingRNN(ci.n_inputs, ci.n_neurons, ci.decay, 1.0, 1.0, weight_std=ci.n_inputs ** -0.5),
            cfg.heads.proj_dim, cfg.heads.n_layers, cfg.heads.activation, cfg.heads.temperature)
        fi, fa = frames["image"], frames["audio"]
        val = RetrievalSet(fa["train"][idx.val_aud], idx.val_y, fi["train"][idx.val_img], idx.val_y)
        evals = {"seen": RetrievalSet(fa["test"][idx.seen_aud], idx.seen_y, fi["test"][idx.seen_img],
                                      idx.seen_y),
                 "unseen": RetrievalSet(fa["test"][idx.unseen_aud], idx.unseen_y,
                                        fi["test"][idx.unseen_img], idx.unseen_y)}
        heads = cfg.heads.model_copy(update={"epochs": bc.epochs, "threads": cfg.workers})
        res = train_heads(fa["train"][idx.train_aud].astype(np.float32),
                          fi["train"][idx.train_img].astype(np.float32), idx.train_y, val, evals,
                          heads, seed=seed, model=model)
        runs.append({"metrics": res.metrics, "best_epoch": res.best_epoch})
    out = _baseline_summary(runs, pair, "trainable", "rate")
    out["epochs"] = bc.epochs
    out["note"] = ("SRNN weights init N(0, 1/n_in), Vth 1, const 1 (a trainable net needs a "
                   "trainable scale); surrogate gradient as the reference (lens 0.25)")
    return out


def _costs(cfg: ExperimentConfig, enc: dict, pair_idx: dict, frames: dict) -> dict:
    from rram_lsm.experiments.costs import (
        DigitalEnergy,
        head_macs,
        inference_energy,
        reservoir_macs,
        training_costs,
    )

    seed = cfg.seed_list[0]
    ci = resolve_lsm_config(cfg, "image", cfg.sources[0], seed)
    ca = resolve_lsm_config(cfg, "audio", cfg.sources[0], seed)
    t_img = frame_steps(cfg.data.binning, "image")
    t_aud = frame_steps(cfg.data.binning, "audio")
    any_enc = enc[(seed, cfg.sources[0])]
    fdim_i = any_enc["image"].features(cfg.feature_modes[0], "train").shape[1]
    fdim_a = any_enc["audio"].features(cfg.feature_modes[0], "train").shape[1]
    n_pairs = len(next(iter(pair_idx.values())).train_y) if pair_idx else 1000
    h = cfg.heads
    train = training_costs(n_pairs=n_pairs, batch=h.batch_size, epochs=h.epochs,
                           proj_dim=h.proj_dim, n_layers=h.n_layers,
                           audio=(ca.n_inputs, ca.n_neurons, t_aud),
                           image=(ci.n_inputs, ci.n_neurons, t_img),
                           audio_feat_dim=fdim_a, image_feat_dim=fdim_i)
    digital = DigitalEnergy(e_mac_j=cfg.costs.e_mac_j, e_weight_read_j=cfg.costs.e_weight_read_j)
    energy = None
    rram_sources = [s for s in cfg.sources if s != "gaussian"]
    if rram_sources:
        src = rram_sources[0]
        e_lsm = float(np.mean([enc[(s, src)]["image"].energy_per_sample_j
                               + enc[(s, src)]["audio"].energy_per_sample_j
                               for s in cfg.seed_list]))
        energy = inference_energy(
            rram_lsm_j_per_sample=e_lsm,
            head_macs_per_sample=head_macs(fdim_i, h.proj_dim, h.n_layers)
            + head_macs(fdim_a, h.proj_dim, h.n_layers),
            dense_lsm_macs_per_sample=reservoir_macs(ci.n_inputs, ci.n_neurons, t_img)
            + reservoir_macs(ca.n_inputs, ca.n_neurons, t_aud),
            digital=digital)
        energy["note"] = "one image + one audio inference; RRAM energy from the macro ledger"
    return {"training": train, "training_ratio": train["training_ratio"],
            "energy": energy,
            "energy_ratio": energy["energy_ratio"] if energy else None,
            "paper": {"training_ratio": 152.83, "energy_ratio": 23.34}}
