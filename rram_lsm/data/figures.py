"""Figure helper: per-class examples of binned frames (images) and rasters (audio)."""

from __future__ import annotations

import os

import numpy as np

from crossbar.fsio import save_figure
from rram_lsm.data.loaders import BinnedSplit


def plot_class_examples(
    split: BinnedSplit,
    path: str | os.PathLike | None = None,
    per_class: int = 2,
    classes: list[int] | None = None,
):
    """Grid of examples, one row per class, ``per_class`` columns.

    Image data: the crop with each pixel's number of active bins in the first third of the time
    bins (the first saccade with the default binning; over all three saccades the moving digit
    covers most of the crop).  Audio data: the raster, channel (y) × time bin (x).

    Saves a PNG to ``path`` when given; returns the matplotlib figure.
    """
    # A bare Figure (no pyplot): no global backend state is touched.
    from matplotlib.figure import Figure

    present = sorted(split.class_counts())
    classes = present if classes is None else [c for c in classes if c in present]
    if not classes:
        raise ValueError(f"{split.dataset} {split.split}: no samples of the requested classes")
    image = split.modality == "image"
    side = int(round(np.sqrt(split.n_inputs))) if image else 0
    cell = (1.3, 1.3) if image else (2.4, 1.2)
    fig = Figure(figsize=(cell[0] * per_class + 0.8, cell[1] * len(classes) + 0.6))
    axes = fig.subplots(len(classes), per_class, squeeze=False)
    for r, c in enumerate(classes):
        idx = np.flatnonzero(split.labels == c)[:per_class]
        for k in range(per_class):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= idx.size:
                ax.axis("off")
                continue
            x = split.frames[idx[k]]  # [T, n_inputs]
            if image:
                first = x[: max(1, x.shape[0] // 3)].sum(axis=0)
                ax.imshow(first.reshape(side, side), cmap="magma", vmin=0, interpolation="nearest")
            else:
                ax.imshow(x.T, aspect="auto", origin="lower", cmap="Greys", interpolation="nearest")
            if k == 0:
                name = split.class_names[c] if c < len(split.class_names) else str(c)
                ax.set_ylabel(f"{c}: {name}", fontsize=7)
    what = "active bins per pixel, first third of T" if image else "channel × time bin"
    fig.suptitle(f"{split.dataset} {split.split} ({what}; labels: {split.label_map})", fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
