"""Encode every split of both modalities with the LSM, once per (seed, weight source), through
the feature cache shared with ``rram-lsm encode`` (`rram_lsm.lsm.cache`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rram_lsm.experiments.config import ExperimentConfig, resolve_lsm_config

SPLITS = ("train", "test")


@dataclass
class EncodedModality:
    """LSM outputs of one modality: train and test, plus the encoder's diagnostics."""

    rates: dict[str, np.ndarray]  # split -> [n, N]
    windows: dict[str, np.ndarray]  # split -> [n, K * N] spikes per step in each window
    firing: dict[str, float]
    energy_per_sample_j: float
    ledger: dict
    seconds: float
    config: dict
    raster: np.ndarray | None = None  # [T, N] of the first training sample
    cache_hits: int = 0  # splits read from the feature cache (0, 1 or 2)
    _macro: object | None = field(default=None, repr=False)
    _build_macro: Callable[[], object] | None = field(default=None, repr=False)

    @property
    def macro(self):
        """The crossbar.Macro holding the weights (None for Gaussian weights). After a cache
        hit it is rebuilt from the config on first use (same die seed, so the same cells)."""
        if self._macro is None and self._build_macro is not None:
            self._macro, self._build_macro = self._build_macro(), None
        return self._macro

    def features(self, mode: str, split: str) -> np.ndarray:
        return self.rates[split] if mode == "rate" else self.windows[split]


def window_rates(window_counts: np.ndarray, n_steps: int) -> np.ndarray:
    """Spike counts [n, K, N] per time window -> spikes per step in each window, [n, K * N]."""
    k = window_counts.shape[1]
    # window of step t is t * K // T (rram_lsm.lsm.features); rate = count / window length
    width = np.bincount(np.arange(n_steps) * k // n_steps, minlength=k)
    width = width.astype(np.float32)[None, :, None]
    return (window_counts / width).reshape(len(window_counts), -1)


def encode_modality(cfg: ExperimentConfig, modality: str, source: str, seed: int,
                    frames: dict[str, np.ndarray], dataset: str | None = None) -> EncodedModality:
    """Encode the ``train`` and ``test`` frames of one modality (ADC calibrated on train),
    reading and writing the feature cache ``cfg.cache_dir`` (None: no cache). ``dataset``
    names the cache files (default: the modality)."""
    from crossbar.ledger import Ledger
    from rram_lsm.lsm.cache import CachedEncoder
    from rram_lsm.lsm.synapses import build_synapses

    t0 = time.perf_counter()
    config = resolve_lsm_config(cfg, modality, source, seed)
    encoder = CachedEncoder(config, frames["train"], cache_dir=cfg.cache_dir)
    parts = {split: encoder.encode(frames[split], split=split, dataset=dataset or modality)
             for split in SPLITS}
    rates = {s: p.arrays["rates"] for s, p in parts.items()}
    windows = {s: window_rates(p.arrays["window_counts"], p.meta["n_steps"])
               for s, p in parts.items()}
    ledger = Ledger()  # both splits, as one LSM object would have booked them
    for p in parts.values():
        if p.meta["ledger"]:
            led = p.meta["ledger"]
            ledger.merge(Ledger(counts=dict(led["counts"]), energy_j=dict(led["energy_j"]),
                                time_s=dict(led["time_s"])))
    energy = sum(p.meta["ledger"].get("total_energy_j", 0.0) for p in parts.values())
    n_total = sum(p.meta["n_samples"] for p in parts.values())
    train = parts["train"]
    em = EncodedModality(rates=rates, windows=windows, firing=train.meta["firing"],
                         energy_per_sample_j=energy / max(n_total, 1), ledger=ledger.report(),
                         seconds=time.perf_counter() - t0,
                         config=config.model_dump(mode="json"), raster=train.arrays.get("raster"),
                         cache_hits=sum(p.reused for p in parts.values()))
    if encoder.built:
        em._macro = encoder.lsm.macro
    elif config.weights.source != "gaussian":
        em._build_macro = lambda: build_synapses(config).macro
    return em
