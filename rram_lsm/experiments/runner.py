"""`run_experiment`: data -> LSM features (per seed and weight source) -> zero-shot retrieval,
classification / linear probes, baselines, costs -> metrics.json, report.md, figures; `run`: the
same from a config path into a new run folder (what `rram-lsm run` calls)."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from crossbar.errors import InputError, OutputExistsError
from rram_lsm.data.config import frame_steps
from rram_lsm.experiments.config import ExperimentConfig, resolve_lsm_config
from rram_lsm.experiments.encoding import EncodedModality, encode_modality
from rram_lsm.experiments.results import (
    BaselineRetrieval,
    Baselines,
    Costs,
    DataInfo,
    ExperimentResults,
    LSMDiagnostics,
    ModalityProbes,
    PairRun,
    ProbeResult,
    RetrievalBaseline,
    Summary,
    Timings,
)
from rram_lsm.experiments.zero_shot import (
    PairIndex,
    arbitrary_pairing,
    control_splits,
    pair_indices,
    pair_job,
    run_pairs_batched,
    summarise_zero_shot,
)
from rram_lsm.io import atomic_write_json, atomic_write_text, prepare_output_dir
from rram_lsm.workers import return_freed_memory

if TYPE_CHECKING:
    from rram_lsm.heads.batched import HeadJob

BUILTIN = ("digits-dvs", "spoken-digits")


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def _bar(total: int, desc: str, quiet: bool, unit: str = "it"):
    """A progress bar on stderr for one stage (none when quiet)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=quiet, file=sys.stderr, leave=False,
                dynamic_ncols=True)


def _feature_sets(enc: dict, modes: list[str]) -> dict:
    """(seed, source, mode) -> `FeatureSet` of both modalities' train / test features."""
    from rram_lsm.heads.batched import FeatureSet

    return {(seed, source, mode): FeatureSet(
        audio={s: e["audio"].features(mode, s) for s in ("train", "test")},
        image={s: e["image"].features(mode, s) for s in ("train", "test")})
        for (seed, source), e in enc.items() for mode in modes}


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


def run_experiment(cfg: ExperimentConfig, out_dir: str | Path, data_root: str | Path,
                   quiet: bool = False) -> ExperimentResults:
    """Run ``cfg`` end to end into ``out_dir`` (config.yaml, metrics.json, report.md, figures/,
    zero_shot_runs.json) and return its results; ``data_root`` holds (or receives) the data."""
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
    with _bar(2 * len(cfg.seed_list) * len(cfg.sources), "LSM encodings", quiet) as bar:
        for seed in cfg.seed_list:
            for source in cfg.sources:
                enc[(seed, source)] = {}
                for m in ("image", "audio"):
                    enc[(seed, source)][m] = encode_modality(cfg, m, source, seed, frames[m],
                                                             dataset=splits[m]["train"].dataset)
                    bar.update()
    timings["encode_s"] = time.perf_counter() - t
    hits = sum(e.cache_hits for pair in enc.values() for e in pair.values())
    timings["encode_cache_hits"] = hits  # splits read from the feature cache (of 4 per combo)
    cached = f"; {hits} of {4 * len(enc)} splits from the cache {cfg.cache_dir}" \
        if cfg.cache_dir is not None else "; cache off"
    _log(f"LSM: encoded {len(enc)} (seed, source) combinations in {timings['encode_s']:.1f} s"
         f"{cached}", quiet)

    data = {m: DataInfo(dataset=splits[m]["train"].dataset, label_map=splits[m]["train"].label_map,
                        train=int(len(labels[m]["train"])), test=int(len(labels[m]["test"])))
            for m in ("image", "audio")}
    lsm = {src: {m: LSMDiagnostics(
        firing=_mean_dicts([enc[(s, src)][m].firing for s in cfg.seed_list]),
        energy_per_sample_j=float(np.mean([enc[(s, src)][m].energy_per_sample_j
                                           for s in cfg.seed_list])))
        for m in ("image", "audio")} for src in cfg.sources}

    # --- zero-shot ---------------------------------------------------------------------------
    zs_results: list[PairRun] = []
    zero_shot = None
    pair_idx: dict[tuple[tuple[int, int], int], PairIndex] = {}
    if cfg.zero_shot.enabled:
        t = time.perf_counter()
        zc = cfg.zero_shot
        pair_idx, fsets, jobs, indices = zero_shot_jobs(cfg, splits, enc)
        if zc.control:
            # the arbitrary-pairing control: same seeds, pairs and features (headline mode), the
            # images relabelled so that audio c pairs with a fixed other digit's images
            csplits = control_splits(splits, arbitrary_pairing(zc.class_pool))
            mode = cfg.feature_modes[0]
            for (seed, source) in enc:
                for p in zc.held_out_pairs:
                    idx = pair_indices(csplits, tuple(p), zc.class_pool, zc.train_excluded,
                                       zc.val_fraction, zc.max_test_per_class, seed)
                    jobs.append(pair_job(fsets[(seed, source, mode)], idx, seed,
                                         {"source": source, "mode": mode, "control": True}))
                    indices.append(idx)
        _log_estimate(cfg, jobs, quiet)
        from rram_lsm.experiments.figures import keeps_heads

        with _bar(len(jobs), "head trainings", quiet) as bar:
            # the heads of one run are kept for the figures (no retraining there)
            zs_results = run_pairs_batched(jobs, cfg.heads, zc.patience, indices,
                                           device=cfg.device, workers=cfg.workers,
                                           on_done=lambda _: bar.update(),
                                           keep_heads=keeps_heads(cfg))
        timings["zero_shot_s"] = time.perf_counter() - t
        timings["zero_shot_trainings"] = len(zs_results)
        timings["zero_shot_epochs"] = sum(len(r.history) - 1 for r in zs_results)
        _log(f"zero-shot: {len(zs_results)} head trainings ({timings['zero_shot_epochs']} epochs, "
             f"batched) in {timings['zero_shot_s']:.1f} s", quiet)
        real = [r for r in zs_results if not r.control]
        zero_shot = summarise_zero_shot(real, cfg.feature_modes, zc.held_out_pairs)
        ctrl = [r for r in zs_results if r.control]
        if ctrl:
            zero_shot.control = summarise_zero_shot(
                ctrl, cfg.feature_modes[:1], zc.held_out_pairs).by_features[cfg.feature_modes[0]]

    # --- classification / linear probes --------------------------------------------------------
    classify = None
    if cfg.classify.enabled:
        t = time.perf_counter()
        classify = _classify(cfg, enc, frames, labels, quiet)
        timings["classify_s"] = time.perf_counter() - t
        _log(f"classification probes in {timings['classify_s']:.1f} s", quiet)

    # --- baselines -----------------------------------------------------------------------------
    t = time.perf_counter()
    baselines = _baselines(cfg, enc, frames, labels, pair_idx, splits, quiet, timings)
    timings["baselines_s"] = time.perf_counter() - t

    # --- costs ---------------------------------------------------------------------------------
    t = time.perf_counter()
    costs = _costs(cfg, enc, pair_idx, frames)
    timings["costs_s"] = time.perf_counter() - t

    from rram_lsm.experiments.figures import make_figures
    from rram_lsm.experiments.report import write_report

    t = time.perf_counter()
    make_figures(out_dir / "figures", cfg, splits, enc, [r for r in zs_results if not r.control],
                 zero_shot)
    timings["figures_s"] = time.perf_counter() - t
    results = ExperimentResults(
        runtime_s=time.perf_counter() - t_start, timings=Timings(**timings), data=data,
        builtin_data=splits["image"]["train"].dataset in BUILTIN, lsm=lsm, baselines=baselines,
        costs=costs, zero_shot=zero_shot, classify=classify)
    results.save(out_dir / "metrics.json")
    write_report(out_dir / "report.md", cfg, results)
    if zs_results:
        atomic_write_json(out_dir / "zero_shot_runs.json", [r.to_dict() for r in zs_results])
    _log(results.timings.table(results.runtime_s), quiet)
    return results


def _log_estimate(cfg: ExperimentConfig, jobs: list, quiet: bool) -> None:
    """Print the expected time of the head trainings, from one measured epoch of one chunk."""
    if quiet or not jobs:
        return
    from rram_lsm.heads.batched import estimate_seconds

    est = estimate_seconds(jobs, cfg.heads, cfg.zero_shot.patience, cfg.device, threads=1,
                           workers=cfg.workers)
    _log(f"zero-shot: {len(jobs)} head trainings (batch {cfg.heads.batch_size}, up to "
         f"{cfg.heads.epochs} epochs): expected ~{est['expected_s']:.0f} s, at most "
         f"{est['max_s']:.0f} s ({1e3 * est['member_epoch_s']:.1f} ms per training epoch)", quiet)


def zero_shot_jobs(cfg: ExperimentConfig, splits: dict, enc: dict
                   ) -> tuple[dict, dict, list[HeadJob], list[PairIndex]]:
    """The zero-shot grid of ``cfg`` as head-training jobs: one per (seed, source) encoding in
    ``enc``, feature mode and held-out pair. Returns (pair indices keyed by (pair, seed), the
    shared feature sets, the jobs, each job's `PairIndex`)."""
    zc = cfg.zero_shot
    pair_idx: dict[tuple[tuple[int, int], int], PairIndex] = {}
    for pair in zc.held_out_pairs:
        for seed in cfg.seed_list:
            pair_idx[(tuple(pair), seed)] = pair_indices(
                splits, tuple(pair), zc.class_pool, zc.train_excluded, zc.val_fraction,
                zc.max_test_per_class, seed)
    fsets = _feature_sets(enc, cfg.feature_modes)
    jobs, indices = [], []
    for (seed, source) in enc:
        for mode in cfg.feature_modes:
            for p in zc.held_out_pairs:
                idx = pair_idx[(tuple(p), seed)]
                jobs.append(pair_job(fsets[(seed, source, mode)], idx, seed,
                                     {"source": source, "mode": mode}))
                indices.append(idx)
    return pair_idx, fsets, jobs, indices


def _mean_dicts(ds: list[dict]) -> dict:
    keys = ds[0].keys() if ds else []
    return {k: float(np.mean([d[k] for d in ds])) for k in keys}


def _probe_task(x_train, y_train, x_test, y_test, kwargs: dict, pcas: tuple) -> list:
    """One probe task (picklable): `linear_probes` with one BLAS thread when in a worker (and
    then the task's freed memory handed back, see `return_freed_memory`)."""
    from threadpoolctl import threadpool_limits

    from rram_lsm.heads.probe import linear_probes

    limits = kwargs.pop("blas_threads", None)
    try:
        with threadpool_limits(limits=limits):
            return linear_probes(x_train, y_train, x_test, y_test, pcas=pcas, **kwargs)
    finally:
        if limits is not None:
            return_freed_memory()


def _classify(cfg: ExperimentConfig, enc: dict, frames: dict,
              labels: dict, quiet: bool = True) -> dict[str, ModalityProbes]:
    """Linear probes of both modalities: LSM features (per source and mode, over seeds) and the
    raw-input baselines. With ``workers`` > 1 the probes run in that many processes, one BLAS
    thread each (on a busy machine multi-threaded BLAS slows down several times)."""
    cc = cfg.classify
    parallel = cfg.workers > 1 and cfg.device == "cpu"
    base = {"val_fraction": cc.val_fraction, "readout": cc.readout, "device": cfg.device,
            "blas_threads": 1 if parallel else None}
    tasks: list[tuple[tuple, tuple, dict, tuple]] = []  # (key, arrays, kwargs, pcas)
    for m in ("image", "audio"):
        ytr, yte = labels[m]["train"], labels[m]["test"]
        if cc.raw_baselines:
            # frames in their own dtype (uint8 counts: a quarter of float32 to ship to a worker;
            # the probe promotes them to float64 as it standardises); raw input with and without
            # PCA share one standardisation and Gram matrix per fit
            flat_tr = frames[m]["train"].reshape(len(ytr), -1)
            flat_te = frames[m]["test"].reshape(len(yte), -1)
            tasks.append(((m, "raw"), (flat_tr, ytr, flat_te, yte), {**base, "seed": 0},
                          (None, cc.pca_components)))
            tasks.append(((m, "raw_time_summed"), (frames[m]["train"].sum(1).astype(np.float32), ytr,
                                                   frames[m]["test"].sum(1).astype(np.float32), yte),
                          {**base, "seed": 0}, (None,)))
        for source in cfg.sources:
            for mode in cfg.feature_modes:
                for seed in cfg.seed_list:
                    e = enc[(seed, source)][m]
                    tasks.append(((m, source, mode, seed),
                                  (e.features(mode, "train"), ytr, e.features(mode, "test"), yte),
                                  {**base, "seed": seed}, (None,)))
    done: dict[tuple, list] = {}
    with _bar(sum(len(t[3]) for t in tasks), "linear probes", quiet) as bar:
        if parallel:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=cfg.workers, backend="loky", return_as="generator")(
                delayed(_probe_task)(*arrays, kwargs, pcas) for _, arrays, kwargs, pcas in tasks)
        else:
            results = (_probe_task(*arrays, kwargs, pcas) for _, arrays, kwargs, pcas in tasks)
        for (key, *_), res in zip(tasks, results):
            done[key] = res
            bar.update(len(res))
    out: dict[str, ModalityProbes] = {}
    for m in ("image", "audio"):
        res: dict[str, ProbeResult] = {}
        for source in cfg.sources:
            for mode in cfg.feature_modes:
                runs = [done[(m, source, mode, seed)][0] for seed in cfg.seed_list]
                key = source if mode == cfg.feature_modes[0] else f"{source}_{mode}"
                res[key] = ProbeResult(accuracy=float(np.mean([r.accuracy for r in runs])),
                                       val_accuracy=float(np.mean([r.val_accuracy for r in runs])),
                                       features=mode, seeds=Summary.of([r.accuracy for r in runs]))
        if cc.raw_baselines:
            flat, pca = done[(m, "raw")]
            tsum = done[(m, "raw_time_summed")][0]
            res["raw"] = ProbeResult(flat.accuracy, flat.val_accuracy, "binned input, flattened")
            res["raw_pca"] = ProbeResult(pca.accuracy, pca.val_accuracy,
                                         f"binned input, PCA-{cc.pca_components}")
            res["raw_time_summed"] = ProbeResult(tsum.accuracy, tsum.val_accuracy,
                                                 "binned input summed over time")
        out[m] = ModalityProbes(probes=res, chance=1.0 / len(np.unique(labels[m]["train"])))
    return out


def _baselines(cfg: ExperimentConfig, enc: dict, frames: dict, labels: dict, pair_idx: dict,
               splits: dict, quiet: bool, timings: dict | None = None) -> Baselines:
    """The enabled baselines; their seconds go into ``timings`` (``<name>_s``)."""
    timings = {} if timings is None else timings
    out = Baselines()
    bc = cfg.baselines
    pair = tuple(cfg.zero_shot.held_out_pairs[0])
    source, mode = cfg.sources[0], cfg.feature_modes[0]
    if bc.protonet.enabled and pair_idx:
        t = time.perf_counter()
        heads = cfg.heads.model_copy(update={"loss": "proto", "activation": "identity",
                                             "metric": "cosine", "epochs": bc.protonet.epochs})
        seeds = cfg.seed_list[: bc.protonet.seeds]
        fsets = _feature_sets({(s, source): enc[(s, source)] for s in seeds}, [mode])
        indices = [pair_idx[(pair, seed)] for seed in seeds]
        jobs = [pair_job(fsets[(seed, source, mode)], idx, seed) for seed, idx in zip(seeds, indices)]
        with _bar(len(jobs), "LSM-ProtoNet trainings", quiet) as bar:
            runs = run_pairs_batched(jobs, heads, cfg.zero_shot.patience, indices,
                                     device=cfg.device, workers=cfg.workers,
                                     on_done=lambda _: bar.update())
        out.lsm_protonet = _baseline_summary([r.metrics for r in runs], pair, source, mode)
        timings["protonet_s"] = time.perf_counter() - t
        _log(f"baseline LSM-ProtoNet in {timings['protonet_s']:.1f} s", quiet)
    if bc.srnn_clip.enabled and pair_idx:
        t = time.perf_counter()
        out.srnn_clip = _srnn_clip(cfg, frames, pair_idx, pair, quiet)
        timings["srnn_clip_s"] = time.perf_counter() - t
        _log(f"baseline SRNN-CLIP in {timings['srnn_clip_s']:.1f} s", quiet)
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
            res[m] = Summary.of(accs)
        out.rnn_classifier = res
        timings["rnn_classifier_s"] = time.perf_counter() - t
        _log(f"baseline RNN classifier in {timings['rnn_classifier_s']:.1f} s", quiet)
    return out


def _baseline_summary(metrics: list[dict[str, dict[str, float]]], pair, source: str,
                      mode: str, **extra) -> RetrievalBaseline:
    """Summaries over seeds of the top-1 numbers of runs' ``metrics`` (protocol -> values)."""
    protocols = {proto: BaselineRetrieval(**{k: Summary.of([m[proto][k] for m in metrics])
                                             for k in BaselineRetrieval.METRICS})
                 for proto in ("validation", "paper")}
    return RetrievalBaseline(pair=tuple(pair), features_source=source, features=mode,
                             **protocols, **extra)


def _srnn_clip(cfg: ExperimentConfig, frames: dict, pair_idx: dict, pair,
               quiet: bool) -> RetrievalBaseline:
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
        runs.append(res.metrics)
    return _baseline_summary(
        runs, pair, "trainable", "rate", epochs=bc.epochs,
        note=("SRNN weights init N(0, 1/n_in), Vth 1, const 1 (a trainable net needs a "
              "trainable scale); surrogate gradient as the reference (lens 0.25)"))


def _costs(cfg: ExperimentConfig, enc: dict, pair_idx: dict, frames: dict) -> Costs:
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
            digital=digital,
            note="one image + one audio inference; RRAM energy from the macro ledger")
    return Costs(training=train, energy=energy)


# --- a run folder from a config: what `rram-lsm run` does ------------------------------------------



def default_config_path() -> Path | None:
    """The demo config `rram-lsm run` uses without one: the shipped
    ``zero_shot_default.yaml`` (package data, `crossbar.resources`); None if it is missing, and
    then the built-in defaults apply, which are the same demo."""
    from crossbar.resources import config_file

    return config_file("zero_shot_default.yaml", required=False)


def resolve_config(config: str | os.PathLike | ExperimentConfig | None = None,
                   overrides: list[str] | None = None) -> ExperimentConfig:
    """A validated config from a YAML path, a config object or None (the default demo), with
    ``--set``-style ``overrides`` ("dotted.key=yaml-value"); `ConfigError` on bad input."""
    from rram_lsm.experiments.config import experiment_config_from_dict, load_experiment_config

    if isinstance(config, ExperimentConfig):
        if not overrides:
            return config
        return experiment_config_from_dict(config.model_dump(mode="json"), config.name, overrides)
    return load_experiment_config(default_config_path() if config is None else config, overrides)


def _run_dir_path(name: str, out: str | os.PathLike | None) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(out) if out else Path("runs") / f"{name}-{stamp}"


def new_run_dir(name: str, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Create the run folder: ``out``, or ``runs/<name>-<YYYYmmdd-HHMMSS>`` under the working
    directory; a non-empty folder is refused (`InputError`) unless ``force``."""
    return prepare_output_dir(_run_dir_path(name, out), force)


def check_inputs(cfg: ExperimentConfig, data_root: str | os.PathLike) -> None:
    """Check, before any output exists, that the real datasets of ``cfg`` are present under
    ``data_root`` (`DataError` naming the expected files otherwise; stand-ins are built later)
    and that every LSM fits in memory (`MemoryLimitError`)."""
    from crossbar.validation import check_memory
    from rram_lsm.data.loaders import check_available
    from rram_lsm.lsm.cache import lsm_bytes_estimate

    for name in (cfg.data.image_dataset, cfg.data.audio_dataset):
        for split in ("train", "test"):
            check_available(name, split, data_root)
    for modality in ("image", "audio"):
        for source in cfg.sources:
            lsm = resolve_lsm_config(cfg, modality, source, cfg.first_seed)
            check_memory(lsm_bytes_estimate(lsm), f"the {modality} LSM (lsm.{modality}: "
                         f"n_neurons={lsm.n_neurons}, n_inputs={lsm.n_inputs}, {source} weights)")


def run(config: str | os.PathLike | ExperimentConfig | None = None, *,
        overrides: list[str] | None = None, out: str | os.PathLike | None = None,
        data_root: str | os.PathLike = "data_cache", force: bool = False,
        quiet: bool = False) -> tuple[Path, ExperimentResults]:
    """Resolve the config (see `resolve_config`), check the inputs (`check_inputs`), create the
    run folder (see `new_run_dir`) and run the experiment into it; returns
    ``(run_dir, results)``. Bad input raises `InputError` before anything is written; one found
    later (e.g. a corrupt data file) removes the run folder again if this call created it."""
    cfg = resolve_config(config, overrides)
    path = _run_dir_path(cfg.name, out)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path}: the run folder (--out) is an existing file")
    if path.exists() and any(path.iterdir()) and not force:
        prepare_output_dir(path, force)  # raises the usual "exists" error, creates nothing
    check_inputs(cfg, data_root)
    created = None  # the topmost folder this call creates (e.g. runs/ on a first run)
    if not path.exists():
        created = path.absolute()
        while not created.parent.exists():
            created = created.parent
    run_dir = prepare_output_dir(path, force)
    try:
        return run_dir, run_experiment(cfg, run_dir, data_root, quiet=quiet)
    except InputError:
        if created is not None:  # nothing half-written: these folders hold only this run's files
            shutil.rmtree(created, ignore_errors=True)
        raise
