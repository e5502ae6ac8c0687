"""Encode every split of both modalities with the LSM, once per (seed, weight source)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rram_lsm.experiments.config import ExperimentConfig


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
    macro: object | None = None  # the crossbar.Macro holding the weights (macro source)

    def features(self, mode: str, split: str) -> np.ndarray:
        return self.rates[split] if mode == "rate" else self.windows[split]


def lsm_config(cfg: ExperimentConfig, modality: str, source: str, seed: int):
    """The resolved `LSMConfig` of one encoder for this experiment."""
    from rram_lsm.lsm import LSMConfig

    over = dict(getattr(cfg.lsm, modality))
    weights = dict(over.pop("weights", {}) or {})
    weights["source"] = source
    over.setdefault("features", ("rate", "windows"))
    over["engine"] = cfg.engine
    over["device"] = cfg.device
    s = seed if modality == "image" else seed + cfg.lsm.audio_seed_offset
    return LSMConfig.for_modality(modality, seed=s, weights=weights, **over)


def encode_modality(cfg: ExperimentConfig, modality: str, source: str, seed: int,
                    frames: dict[str, np.ndarray]) -> EncodedModality:
    """Encode the ``train`` and ``test`` frames of one modality (ADC calibrated on train)."""
    from rram_lsm.lsm import LiquidStateMachine

    t0 = time.perf_counter()
    lsm = LiquidStateMachine(lsm_config(cfg, modality, source, seed))
    rates, windows = {}, {}
    energy, n_total = 0.0, 0
    for key, split in enumerate(("train", "test")):
        enc = lsm.encode(frames[split], noise_key=key)
        rates[split] = enc.rates
        k = enc.window_counts.shape[1]
        # window of step t is t * K // T (rram_lsm.lsm.features); rate = count / window length
        width = np.bincount(np.arange(enc.n_steps) * k // enc.n_steps, minlength=k)
        width = width.astype(np.float32)[None, :, None]
        windows[split] = (enc.window_counts / width).reshape(len(enc.rates), -1)
        energy += enc.ledger.get("total_energy_j", 0.0)
        n_total += len(enc.rates)
        if split == "train":
            firing = enc.firing_stats()
    raster = lsm.raster(frames["train"], 0)
    return EncodedModality(rates=rates, windows=windows, firing=firing,
                           energy_per_sample_j=energy / max(n_total, 1),
                           ledger=lsm.ledger.report(), seconds=time.perf_counter() - t0,
                           config=lsm.config.model_dump(mode="json"), raster=raster,
                           macro=lsm.macro)
