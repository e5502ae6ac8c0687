"""Stand-in for E-MNIST letters (``letters``): 28 x 28 images of a-z.

Glyphs come from Hershey vector fonts *disjoint* from the pen-path fonts of
`rram_lsm.data.handwriting` (checked by glyph content, not by name: the 32 font names hold 11
distinct Latin lowercase sets). A writer is a font plus a stroke width (1.2-2.8 px) and a
persistent affine distortion and warp; each image adds its own jitter. As E-MNIST, the glyph is
scaled into a 20 px box (aspect kept) and centred in the 28 x 28 frame; strokes have soft edges and
a light blur. Intensities are uint8 0-255.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from rram_lsm.data.handwriting import LETTERS, Style, distort, font_strokes, random_affine

IMAGE_FONTS = ("futuram", "scriptc", "timesr", "timesi", "timesrb", "timesib")
"""Latin lowercase sets other than the pen-path ones (duplex/triplex outlines)."""

SIZE = 28
_GRID = np.stack(np.meshgrid(np.arange(SIZE) + 0.5, np.arange(SIZE) + 0.5, indexing="xy"),
                 axis=-1).reshape(-1, 2)  # pixel centres (x, y), y down


def _segments(strokes) -> tuple[np.ndarray, np.ndarray]:
    a, b = [], []
    for s in strokes:
        if len(s) == 1:
            a.append(s), b.append(s)
        else:
            a.append(s[:-1]), b.append(s[1:])
    return np.concatenate(a), np.concatenate(b)


def render(strokes, width_px: float, rng: np.random.Generator | None = None,
           blur_px: float = 0.5) -> np.ndarray:
    """Rasterise strokes (letter units, y up) into a uint8 [28, 28] image (row = y down)."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    span = float(max(hi - lo)) or 1.0
    scale = 20.0 / span
    centre = 0.5 * (lo + hi)

    def to_px(p):
        q = (p - centre) * scale
        return np.stack([SIZE / 2 + q[:, 0], SIZE / 2 - q[:, 1]], axis=1)

    a, b = _segments([to_px(s) for s in strokes])
    ab = b - a
    den = np.maximum((ab ** 2).sum(1), 1e-12)
    ap = _GRID[:, None, :] - a[None, :, :]
    t = np.clip((ap * ab[None]).sum(-1) / den[None], 0.0, 1.0)
    d = np.linalg.norm(ap - t[..., None] * ab[None], axis=-1).min(1)
    img = np.clip(0.5 * width_px + 0.5 - d, 0.0, 1.0).reshape(SIZE, SIZE)  # soft edge, 1 px
    if blur_px > 0:
        img = gaussian_filter(img, blur_px)
        img = img / max(float(img.max()), 1e-6)
    return np.round(255 * img).astype(np.uint8)


def image_writers(n: int, fonts: tuple[str, ...], seed: int) -> list[tuple[Style, float]]:
    """``n`` (style, stroke width px) writers cycling over ``fonts``."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        st = Style(fonts[k % len(fonts)], random_affine(rng, 10.0, 0.2, 0.12),
                   np.concatenate([rng.uniform(-0.03, 0.03, 2), rng.uniform(0, 2 * np.pi, 2)]), 1.0)
        out.append((st, float(rng.uniform(1.2, 2.8))))
    return out


def render_letters(per_class: int, writers: list[tuple[Style, float]],
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [26 * per_class, 28, 28] and labels 1-26 (a = 1, E-MNIST letters); image k
    of a letter is by writer k mod len(writers)."""
    rng = np.random.default_rng(seed)
    imgs = np.empty((len(LETTERS) * per_class, SIZE, SIZE), dtype=np.uint8)
    labels = np.repeat(np.arange(1, len(LETTERS) + 1), per_class).astype(np.uint8)
    i = 0
    for ch in LETTERS:
        for k in range(per_class):
            st, width = writers[k % len(writers)]
            trial = random_affine(rng, 4.0, 0.08, 0.05)
            warp = st.warp + np.concatenate([rng.normal(0, 0.01, 2), rng.normal(0, 0.3, 2)])
            strokes = [distort(s, trial @ st.matrix, warp) for s in font_strokes(st.font)[ch]]
            imgs[i] = render(strokes, width * float(np.exp(rng.normal(0, 0.1))), rng)
            i += 1
    return imgs, labels
