"""Stand-in for intracortical recordings during attempted handwriting (``neural-handwriting``).

Pen paths of the lowercase letters a-z come from the single-stroke Hershey vector fonts
(``futural``, ``cursive``; the other Latin sets are multi-stroke outlines, fine for images but not
pen paths). A *writer* is a font plus a persistent affine distortion (+-10 deg rotation, +-0.2
shear, +-12 % scale), a smooth spatial warp and a preferred speed; every trial adds a smaller
jitter of its own, a smooth time warp and a per-trial speed. The pen moves along the strokes in
the font designer's order with straight pen-up moves between strokes; its speed follows the 1/3
power law of curvature (v ~ curvature^(-1/3)) times the time warp. Positions are sampled every
10 ms bin; movement starts at bin 20-45.

192 simulated channels are cosine-tuned to pen velocity (random preferred directions): 25 % are
untuned, 15 % also speed-tuned; baseline 2-25 Hz, modulation 10-60 Hz at the typical speed,
neural lead 50-150 ms, per-trial gain noise; counts are Poisson per 10 ms bin (raw counts, as the
real release; the reader clips them).

Every glyph's path length is normalised per font (cursive letters are about twice as long), so
the duration of a letter depends on its shape, not on the font's drawing scale.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

import numpy as np

LETTERS = string.ascii_lowercase
PEN_FONTS = ("futural", "cursive")
"""Single-stroke Latin lowercase sets of the Hershey fonts (aliases: rowmans, scripts, ...)."""

BIN_S = 0.01  # seconds per bin
N_CHANNELS = 192


@functools.cache
def font_strokes(font: str) -> dict[str, tuple[np.ndarray, ...]]:
    """Letter -> strokes (float [k, 2] polylines, x right, y up), centred, with the font's
    mean pen-down path length over a-z scaled to 1."""
    from HersheyFonts import HersheyFonts

    h = HersheyFonts()
    h.load_default_font(font)
    raw = {}
    for ch in LETTERS:
        strokes = [np.asarray(s, dtype=np.float64) for s in h.all_glyphs[ch].strokes]
        strokes = [s * np.array([1.0, -1.0]) for s in strokes if len(s) >= 1]  # y up
        raw[ch] = strokes
    lengths = [sum(_length(s) for s in raw[ch]) for ch in LETTERS]
    scale = 1.0 / float(np.mean(lengths))
    out = {}
    for ch, strokes in raw.items():
        pts = np.concatenate(strokes)
        centre = 0.5 * (pts.min(0) + pts.max(0))
        out[ch] = tuple((s - centre) * scale for s in strokes)
    return out


def _length(poly: np.ndarray) -> float:
    return float(np.sum(np.linalg.norm(np.diff(poly, axis=0), axis=1))) if len(poly) > 1 else 0.0


@dataclass(frozen=True)
class Style:
    """A persistent writer distortion: 2x2 linear map, warp amplitudes/phases, speed factor."""

    font: str
    matrix: np.ndarray  # [2, 2]
    warp: np.ndarray  # [4]: amplitude x, amplitude y, phase x, phase y
    speed: float


def random_affine(rng: np.random.Generator, rot_deg: float, shear: float, scale: float) -> np.ndarray:
    """Rotation x shear x anisotropic scale, each uniform within +-its bound."""
    a = np.deg2rad(rng.uniform(-rot_deg, rot_deg))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    sh = np.array([[1.0, rng.uniform(-shear, shear)], [0.0, 1.0]])
    sc = np.diag(1.0 + rng.uniform(-scale, scale, 2))
    return rot @ sh @ sc


def random_style(font: str, rng: np.random.Generator) -> Style:
    return Style(font, random_affine(rng, 10.0, 0.2, 0.12),
                 np.concatenate([rng.uniform(-0.03, 0.03, 2), rng.uniform(0, 2 * np.pi, 2)]),
                 float(np.exp(rng.normal(0, 0.15))))


def distort(points: np.ndarray, matrix: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Affine map then a smooth sinusoidal warp (amplitudes in letter units)."""
    p = points @ matrix.T
    x, y = p[:, 0], p[:, 1]
    return np.stack([x + warp[0] * np.sin(2 * np.pi * y + warp[2]),
                     y + warp[1] * np.sin(2 * np.pi * x + warp[3])], axis=1)


def _smooth_noise(rng: np.random.Generator, n: int, n_knots: int = 5) -> np.ndarray:
    """A smooth random function on n points (interpolated knots), zero mean, unit-ish scale."""
    knots = rng.normal(size=n_knots)
    return np.interp(np.linspace(0, n_knots - 1, n), np.arange(n_knots), knots)


def pen_path(strokes: tuple[np.ndarray, ...], ds: float = 0.004) -> tuple[np.ndarray, np.ndarray]:
    """Densely resampled pen path through the strokes with straight pen-up moves between them.
    Returns (points [n, 2], pen_down [n] bool)."""
    pts, down = [], []
    prev = None
    for s in strokes:
        for seg, is_down in (((prev, s[0]), False), *(((a, b), True) for a, b in zip(s[:-1], s[1:]))):
            a, b = seg
            if a is None:
                continue
            n = max(2, int(np.ceil(np.linalg.norm(b - a) / ds)) + 1)
            t = np.linspace(0, 1, n)[1:]
            pts.append(a + t[:, None] * (b - a))
            down.append(np.full(n - 1, is_down))
        prev = s[-1]
    if not pts:  # a single point
        p = strokes[0][:1]
        return np.concatenate([p, p]), np.array([True, True])
    first = strokes[0][:1]
    return np.concatenate([first, *pts]), np.concatenate([[True], *down])


def trajectory(ch: str, style: Style, rng: np.random.Generator, n_bins: int = 201,
               base_bins: float = 90.0) -> np.ndarray:
    """Pen velocity [n_bins, 2] (letter units per bin) of one trial of letter ``ch``."""
    strokes = font_strokes(style.font)[ch]
    trial = random_affine(rng, 4.0, 0.08, 0.05)
    warp = style.warp + np.concatenate([rng.normal(0, 0.01, 2), rng.normal(0, 0.3, 2)])
    pts, _ = pen_path(tuple(distort(s, trial @ style.matrix, warp) for s in strokes))
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    seg = np.maximum(seg, 1e-6)
    # curvature from the turning angle between consecutive segments
    d = np.diff(pts, axis=0)
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs(np.angle(np.exp(1j * np.diff(ang))))
    kappa = np.concatenate([[0.0], turn / seg[1:]])
    kappa = np.convolve(kappa, np.ones(9) / 9, mode="same")
    speed = (kappa + 2.0) ** (-1.0 / 3.0) * np.exp(0.25 * _smooth_noise(rng, seg.size))
    t = np.concatenate([[0.0], np.cumsum(seg / speed)])
    length = float(seg.sum())
    onset = int(rng.integers(20, 46))
    dur = base_bins * length / (style.speed * float(np.exp(rng.normal(0, 0.1))))
    dur = float(np.clip(dur, 20.0, n_bins - onset - 5))
    t = onset + t / t[-1] * dur
    grid = np.arange(n_bins + 1, dtype=np.float64)
    x = np.interp(grid, t, pts[:, 0])
    y = np.interp(grid, t, pts[:, 1])
    return np.stack([np.diff(x), np.diff(y)], axis=1)


@dataclass(frozen=True)
class Population:
    """The 192 simulated channels (one participant: fixed over writers and trials)."""

    pref: np.ndarray  # [C, 2] unit preferred directions
    baseline_hz: np.ndarray  # [C]
    mod_hz: np.ndarray  # [C] 0 for untuned channels
    speed_hz: np.ndarray  # [C] 0 unless speed-tuned
    lead_bins: np.ndarray  # [C] int
    v_ref: float  # typical pen speed, letter units per bin


def make_population(seed: int, n_channels: int = N_CHANNELS, v_ref: float = 0.012) -> Population:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n_channels)
    tuned = rng.random(n_channels) >= 0.25
    speedy = rng.random(n_channels) < 0.15
    return Population(
        pref=np.stack([np.cos(theta), np.sin(theta)], axis=1),
        baseline_hz=rng.uniform(2, 25, n_channels),
        mod_hz=np.where(tuned, rng.uniform(10, 60, n_channels), 0.0),
        speed_hz=np.where(speedy, rng.uniform(10, 40, n_channels), 0.0),
        lead_bins=rng.integers(5, 16, n_channels),
        v_ref=v_ref)


def spike_counts(vel: np.ndarray, pop: Population, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts [n_bins, C] (uint8) for pen velocity [n_bins, 2]."""
    n = vel.shape[0]
    pad = np.concatenate([vel, np.zeros((int(pop.lead_bins.max()) + 1, 2))])
    idx = np.arange(n)[:, None] + pop.lead_bins[None, :]  # activity leads the movement
    vx, vy = pad[idx, 0], pad[idx, 1]
    proj = (vx * pop.pref[:, 0] + vy * pop.pref[:, 1]) / pop.v_ref
    spd = np.hypot(vx, vy) / pop.v_ref
    gain = np.exp(rng.normal(0, 0.15, pop.mod_hz.size))
    rate = pop.baseline_hz + gain * (pop.mod_hz * proj + pop.speed_hz * spd)
    lam = np.clip(rate, 0.0, None) * BIN_S
    return np.minimum(rng.poisson(lam), 255).astype(np.uint8)


def writers(n: int, fonts: tuple[str, ...], seed: int) -> list[Style]:
    """``n`` writer styles cycling over ``fonts`` (seeded; disjoint seeds -> disjoint writers)."""
    rng = np.random.default_rng(seed)
    return [random_style(fonts[k % len(fonts)], rng) for k in range(n)]


def simulate_trials(per_class: int, styles: list[Style], pop: Population, seed: int,
                    n_bins: int = 201) -> dict[str, np.ndarray]:
    """Letter -> counts [per_class, n_bins, C] uint8; trial k of a letter is by writer
    k mod len(styles)."""
    rng = np.random.default_rng(seed)
    out = {}
    for ch in LETTERS:
        cube = np.empty((per_class, n_bins, pop.mod_hz.size), dtype=np.uint8)
        for k in range(per_class):
            vel = trajectory(ch, styles[k % len(styles)], rng, n_bins)
            cube[k] = spike_counts(vel, pop, rng)
        out[ch] = cube
    return out
