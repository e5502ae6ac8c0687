"""The spoken-digits stand-in for N-TIDIGITS18.

Eleven words ("oh", "zero", "one" … "nine") are spoken by libespeak-ng (`rram_lsm.data.espeak`)
with many voices (English accents × voice variants), speaking rates, pitches and intonation
ranges, then pass through a 64-channel gammatone cochlea (`rram_lsm.data.cochlea`) and one leaky
integrate-and-fire neuron per channel with gain and threshold mismatch
(`rram_lsm.data.kernels.cochlea_spikes`), plus a little spontaneous activity.  Train and test
use disjoint voice variants.  The result is written as a genuine ``n-tidigits.hdf5``.

Determinism: `plan_utterances` draws every parameter from the seed; synthesis runs in fresh
processes over fixed blocks of ``block_size`` utterances (espeak keeps hidden state between calls)
and every utterance's noise and cochlea draws come from its own seeded stream, so the same seed and
config give the same file whatever the number of workers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rram_lsm.data.cochlea import gammatone_sos
from rram_lsm.data.config import SpokenDigitsConfig
from rram_lsm.data.formats import DIGIT_CHARS, Utterance, write_ntidigits_hdf5
from rram_lsm.data.kernels import cochlea_spikes
from rram_lsm.data.labels import WORDS

_TAG = 0x5D  # separates this generator's random streams from digits-dvs'
_SPLIT_TAG = {"train": 1, "test": 2}


@dataclass(frozen=True)
class UtteranceSpec:
    """Everything needed to make one utterance (pure data, picklable)."""

    split: str
    index: int
    char: str  # 'o', '1'..'9', 'z'
    accent: str
    variant: str
    gender: str
    rate_wpm: int
    pitch: int
    pitch_range: int
    onset_s: float
    snr_db: float
    gain: float
    tts_seed: int  # espeak's noise generator
    seed: tuple[int, ...]  # everything after synthesis

    @property
    def label(self) -> str:
        """N-TIDIGITS-style label ``<gender>-<speaker>-a-<char>`` (unique per utterance)."""
        speaker = f"{_alnum(self.variant)}x{_alnum(self.accent)}x{self.index:05d}"
        return f"{self.gender}-{speaker}-a-{self.char}"


def _alnum(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", s).lower()


def split_variants(cfg: SpokenDigitsConfig, seed: int) -> dict[str, list[str]]:
    """Disjoint train/test voice variants (a seeded shuffle of espeak's variants)."""
    from rram_lsm.data.espeak import variant_names

    pool = [v for v in variant_names() if v not in set(cfg.exclude_variants)]
    if len(pool) < 2:
        raise ValueError("need at least two espeak voice variants to split train/test voices")
    rng = np.random.default_rng([seed, _TAG, 0])
    perm = [pool[i] for i in rng.permutation(len(pool))]
    n_test = min(max(1, round(cfg.test_voice_fraction * len(pool))), len(pool) - 1)
    return {"train": sorted(perm[n_test:]), "test": sorted(perm[:n_test])}


def plan_utterances(
    cfg: SpokenDigitsConfig, per_class: dict[str, int], seed: int
) -> dict[str, list[UtteranceSpec]]:
    """Parameters of every utterance, per split; classes interleaved (o, 1, …, 9, z, o, …)."""
    from rram_lsm.data.espeak import variant_gender

    variants = split_variants(cfg, seed)
    plans: dict[str, list[UtteranceSpec]] = {}
    for split, n_per_class in per_class.items():
        rng = np.random.default_rng([seed, _TAG, _SPLIT_TAG[split]])
        specs = []
        for i in range(n_per_class * len(DIGIT_CHARS)):
            variant = variants[split][int(rng.integers(len(variants[split])))]
            specs.append(
                UtteranceSpec(
                    split=split,
                    index=i,
                    char=DIGIT_CHARS[i % len(DIGIT_CHARS)],
                    accent=cfg.accents[int(rng.integers(len(cfg.accents)))],
                    variant=variant,
                    gender=variant_gender(variant),
                    rate_wpm=int(rng.integers(cfg.rate_wpm[0], cfg.rate_wpm[1] + 1)),
                    pitch=int(rng.integers(cfg.pitch[0], cfg.pitch[1] + 1)),
                    pitch_range=int(rng.integers(cfg.pitch_range[0], cfg.pitch_range[1] + 1)),
                    onset_s=float(rng.uniform(*cfg.onset_s)),
                    snr_db=float(rng.uniform(*cfg.snr_db)),
                    gain=float(1.0 + rng.uniform(-cfg.gain_jitter, cfg.gain_jitter)),
                    tts_seed=int(rng.integers(0, 2**31 - 1)),
                    seed=(seed, _TAG, _SPLIT_TAG[split], i),
                )
            )
        plans[split] = specs
    return plans


def cochlea_mismatch(cfg: SpokenDigitsConfig, seed: int) -> dict[str, np.ndarray]:
    """Fixed per-channel gain and threshold of the simulated cochlea chip (same for all data)."""
    rng = np.random.default_rng([seed, _TAG, 3])
    gain = np.exp(rng.normal(0.0, cfg.gain_sigma, cfg.n_channels))
    threshold = np.clip(1.0 + rng.normal(0.0, cfg.threshold_sigma, cfg.n_channels), 0.5, 1.5)
    return {"gain": gain, "threshold": threshold}


def wave_to_events(
    wave: np.ndarray,
    fs_hz: float,
    spec: UtteranceSpec,
    cfg: SpokenDigitsConfig,
    mismatch: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """One utterance's waveform → (addresses uint8, timestamps float32 in s), time-sorted."""
    rng = np.random.default_rng(list(spec.seed) + [1])
    lead = np.zeros(int(round(spec.onset_s * fs_hz)), dtype=np.float64)
    tail = np.zeros(int(round(cfg.tail_s * fs_hz)), dtype=np.float64)
    x = np.concatenate([lead, np.asarray(wave, np.float64), tail])
    speech_rms = float(np.sqrt(np.mean(np.square(wave)))) if len(wave) else 0.0
    if speech_rms > 0:
        x *= cfg.rms / speech_rms
    noise_rms = cfg.rms * 10.0 ** (-spec.snr_db / 20.0)
    x += rng.normal(0.0, noise_rms, x.size)
    sos = gammatone_sos(float(fs_hz), cfg.f_min_hz, cfg.f_max_hz, cfg.n_channels)
    decay = float(np.exp(-1.0 / (cfg.lif_tau_s * fs_hz)))
    steps, chans = cochlea_spikes(
        x,
        sos,
        cfg.lif_gain * spec.gain * mismatch["gain"],
        decay,
        mismatch["threshold"],
        int(round(cfg.refractory_s * fs_hz)),
    )
    t_s = steps / fs_hz
    duration_s = x.size / fs_hz
    n_noise = int(rng.poisson(cfg.noise_rate_hz * duration_s * cfg.n_channels))
    if n_noise:
        t_s = np.concatenate([t_s, rng.uniform(0.0, duration_s, n_noise)])
        chans = np.concatenate([chans, rng.integers(0, cfg.n_channels, n_noise)])
    t32 = t_s.astype(np.float32)
    order = np.lexsort((chans, t32))
    return chans[order].astype(np.uint8), t32[order]


def build_spoken_digits(
    root: Path,
    per_class_train: int,
    per_class_test: int,
    seed: int,
    cfg: SpokenDigitsConfig,
    n_workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``root/NTIDIGITS18/n-tidigits.hdf5``; return manifest facts (counts, voices)."""
    from rram_lsm.data.espeak import espeak_version, synthesise_blocks
    from rram_lsm.data.workers import progress_bar, thread_map

    plans = plan_utterances(cfg, {"train": per_class_train, "test": per_class_test}, seed)
    mismatch = cochlea_mismatch(cfg, seed)
    specs = plans["train"] + plans["test"]
    requests = [
        {
            "text": WORDS[s.char],
            "voice": s.accent,
            "variant": s.variant,
            "rate_wpm": s.rate_wpm,
            "pitch": s.pitch,
            "pitch_range": s.pitch_range,
            "rand_seed": s.tts_seed,
        }
        for s in specs
    ]
    with progress_bar(len(specs), "spoken-digits: speech", progress) as bar:
        fs, waves = synthesise_blocks(requests, cfg.block_size, n_workers, progress=bar.update)
    with progress_bar(len(specs), "spoken-digits: cochlea", progress) as bar:
        events = thread_map(
            lambda i: wave_to_events(waves[i], fs, specs[i], cfg, mismatch),
            range(len(specs)),
            n_workers,
            bar,
        )
    utts: dict[str, list[Utterance]] = {"train": [], "test": []}
    for spec, (addr, ts) in zip(specs, events, strict=True):
        utts[spec.split].append(Utterance(spec.label, addr, ts))
    write_ntidigits_hdf5(root / "NTIDIGITS18" / "n-tidigits.hdf5", utts["train"], utts["test"])
    return {
        "samples": {s: len(utts[s]) for s in utts},
        "events": {s: [int(u.addresses.size) for u in utts[s]] for s in utts},
        "voices": {s: sorted({p.variant for p in plans[s]}) for s in plans},
        "sample_rate_hz": fs,
        "espeakng_loader_version": espeak_version(),
    }
