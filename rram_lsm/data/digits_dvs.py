"""The digits-dvs stand-in for N-MNIST.

Real handwritten digits (scikit-learn's ``load_digits``: 1,797 images of 8 × 8 px, 17 grey
levels) are split into disjoint train/test *sources* first; every sample then takes one source of
its split, augments it (rotation, scale, shift), upsamples it into the 34 × 34 sensor view, moves it
along N-MNIST's three saccades ((0,0) → (3.5,7) → (7,0) → (0,0) px, one saccade per
``saccade_usec``) and turns the motion into events with a DVS pixel model
(`rram_lsm.data.kernels.dvs_events`: log intensity, per-pixel ON/OFF threshold mismatch,
refractory period) plus uniform background noise.  Samples are written as genuine N-MNIST ``.bin``
files in tonic's folder layout ``NMNIST/Train|Test/<digit>/<id>.bin``.

Each sample draws from its own seeded stream, so results do not depend on the worker count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from rram_lsm.data.config import DigitsDVSConfig
from rram_lsm.data.formats import NMNIST_SIZE, write_nmnist_bin
from rram_lsm.data.kernels import dvs_events, saccade_log_frames

_TAG = 0xD5  # separates this generator's random streams from spoken-digits'
_SPLIT_TAG = {"train": 1, "test": 2}
_SPLIT_FOLDER = {"train": "Train", "test": "Test"}
# Saccade waypoints of N-MNIST (px, x then y): the scene moves by these offsets across the sensor.
_WAYPOINTS = np.array([[0.0, 0.0], [3.5, 7.0], [7.0, 0.0], [0.0, 0.0]])
# Digit centre at t = 0 (px): the saccades move it by up to 7 px right/down, so start left/up of
# the sensor centre to keep the whole trajectory in view.
_CENTRE0 = 13.5


def source_split(test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Disjoint train/test source indices into ``load_digits`` (stratified per digit)."""
    from sklearn.datasets import load_digits

    target = load_digits().target
    rng = np.random.default_rng([seed, _TAG, 0])
    out: dict[str, list[int]] = {"train": [], "test": []}
    for digit in range(10):
        idx = np.flatnonzero(target == digit)
        idx = idx[rng.permutation(idx.size)]
        n_test = min(max(1, round(test_fraction * idx.size)), idx.size - 1)
        out["test"].extend(idx[:n_test].tolist())
        out["train"].extend(idx[n_test:].tolist())
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in out.items()}


@dataclass(frozen=True)
class SampleSpec:
    """One digits-dvs sample (picklable)."""

    split: str
    index: int  # position within the split (file name)
    digit: int
    source: int  # index into load_digits
    seed: tuple[int, ...]

    @property
    def relpath(self) -> str:
        return f"NMNIST/{_SPLIT_FOLDER[self.split]}/{self.digit}/{self.index:05d}.bin"


def plan_samples(per_class: dict[str, int], test_fraction: float, seed: int) -> dict[str, list]:
    """Which source each sample uses: every source of a class in turn, in a seeded order."""
    from sklearn.datasets import load_digits

    target = load_digits().target
    sources = source_split(test_fraction, seed)
    plans: dict[str, list[SampleSpec]] = {}
    for split, n_per_class in per_class.items():
        rng = np.random.default_rng([seed, _TAG, _SPLIT_TAG[split]])
        specs = []
        for digit in range(10):
            pool = sources[split][target[sources[split]] == digit]
            order = np.concatenate(
                [pool[rng.permutation(pool.size)] for _ in range(-(-n_per_class // pool.size))]
            )
            for k in range(n_per_class):
                i = len(specs)
                specs.append(SampleSpec(split, i, digit, int(order[k]), (seed, _TAG, _SPLIT_TAG[split], i)))
        plans[split] = specs
    return plans


def render_digit(img8: np.ndarray, cfg: DigitsDVSConfig, rng: np.random.Generator) -> np.ndarray:
    """Augment an 8 × 8 digit (0..16) into a 34 × 34 intensity image in [0, 1] (float64)."""
    theta = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    scale = rng.uniform(*cfg.scale_range)
    shift = rng.uniform(-cfg.shift_px, cfg.shift_px, size=2)  # (row, col)
    zoom = cfg.digit_size_px / 8.0 * scale
    c, s = np.cos(theta), np.sin(theta)
    # affine_transform maps output (row, col) to input coordinates: in = M @ out + offset.
    m = np.array([[c, s], [-s, c]]) / zoom
    centre_out = np.array([_CENTRE0, _CENTRE0]) + shift
    centre_in = np.array([3.5, 3.5])
    offset = centre_in - m @ centre_out
    img = ndimage.affine_transform(
        np.asarray(img8, np.float64) / 16.0,
        m,
        offset=offset,
        output_shape=(NMNIST_SIZE, NMNIST_SIZE),
        order=1,
        mode="grid-constant",
        cval=0.0,
    )
    if cfg.blur_px > 0:
        img = ndimage.gaussian_filter(img, cfg.blur_px, mode="constant")
    return np.clip(img, 0.0, 1.0)


def saccade_offsets(cfg: DigitsDVSConfig, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Scene offsets (dx, dy) in px at every step boundary, and the step times in µs."""
    amp = 1.0 + rng.uniform(-cfg.saccade_jitter, cfg.saccade_jitter, size=2)
    n_steps = 3 * cfg.saccade_usec // cfg.step_usec
    t_usec = np.arange(n_steps + 1, dtype=np.int64) * cfg.step_usec
    knots = np.arange(4) * cfg.saccade_usec
    dx = np.interp(t_usec, knots, _WAYPOINTS[:, 0]) * amp[0]
    dy = np.interp(t_usec, knots, _WAYPOINTS[:, 1]) * amp[1]
    return dx, dy, t_usec


def simulate_sample(
    img8: np.ndarray, cfg: DigitsDVSConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One digit → DVS events ``(x, y, t_usec, p)`` sorted by time."""
    canvas = render_digit(img8, cfg, rng)
    dx, dy, t_usec = saccade_offsets(cfg, rng)
    log_frames = saccade_log_frames(canvas, dx, dy, cfg.log_eps)
    c_mean = cfg.threshold_mean * (1.0 + rng.uniform(-cfg.threshold_mean_jitter, cfg.threshold_mean_jitter))
    shape = (NMNIST_SIZE, NMNIST_SIZE)
    floor = 0.3 * c_mean  # keeps a rare extreme mismatch draw from firing on every step
    c_on = np.maximum(rng.normal(c_mean, cfg.threshold_sigma, shape), floor)
    c_off = np.maximum(rng.normal(c_mean, cfg.threshold_sigma, shape), floor)
    x, y, t, p = dvs_events(log_frames, c_on, c_off, cfg.step_usec, cfg.refractory_usec)
    duration_usec = int(t_usec[-1])
    n_noise = int(rng.poisson(cfg.noise_rate_hz * duration_usec * 1e-6 * NMNIST_SIZE**2))
    if n_noise:
        x = np.concatenate([x, rng.integers(0, NMNIST_SIZE, n_noise)])
        y = np.concatenate([y, rng.integers(0, NMNIST_SIZE, n_noise)])
        t = np.concatenate([t, rng.integers(0, duration_usec, n_noise)])
        p = np.concatenate([p, rng.integers(0, 2, n_noise)])
        order = np.lexsort((p, x, y, t))
        x, y, t, p = x[order], y[order], t[order], p[order]
    return x, y, t, p


def build_digits_dvs(
    root: Path,
    per_class_train: int,
    per_class_test: int,
    seed: int,
    cfg: DigitsDVSConfig,
    n_workers: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Write ``root/NMNIST/Train|Test/<digit>/<id>.bin``; return manifest facts."""
    from sklearn.datasets import load_digits

    from rram_lsm.data.workers import progress_bar, thread_map

    images = load_digits().images
    plans = plan_samples({"train": per_class_train, "test": per_class_test}, cfg.test_source_fraction, seed)
    specs = plans["train"] + plans["test"]

    def make(spec: SampleSpec) -> int:
        x, y, t, p = simulate_sample(images[spec.source], cfg, np.random.default_rng(list(spec.seed)))
        write_nmnist_bin(root / spec.relpath, x, y, t, p)
        return int(t.size)

    with progress_bar(len(specs), "digits-dvs", progress) as bar:
        counts = thread_map(make, specs, n_workers, bar)
    events: dict[str, list[int]] = {"train": [], "test": []}
    for spec, n in zip(specs, counts, strict=True):
        events[spec.split].append(n)
    return {
        "samples": {s: len(plans[s]) for s in plans},
        "events": events,
        "sources": {s: [spec.source for spec in plans[s]] for s in plans},
    }
