"""Features from reservoir activity, firing-rate diagnostics and raster plots."""

from __future__ import annotations

import os

import numpy as np

FEATURE_DOC = {
    "rate": "mean firing rate per neuron over the T steps (the paper), [N]",
    "windows": "spike counts per neuron in K equal time windows (window of t: t*K//T), [K*N], "
               "window-major",
    "count": "total spike count per neuron, [N]",
    "final_mem": "membrane potential after the last step, [N]",
}


def assemble_features(names: tuple[str, ...], counts: np.ndarray, final_mem: np.ndarray,
                      n_steps: int) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Concatenate the named features (see `FEATURE_DOC`) into [B, F] float32.

    counts: [B, K, N] spike counts per window; final_mem: [B, N]. Returns the features and the
    layout [(name, width), ...] in column order.
    """
    b_n, _, n = counts.shape
    parts, layout = [], []
    for name in names:
        if name == "rate":
            f = counts.sum(axis=1, dtype=np.float64) / n_steps
        elif name == "count":
            f = counts.sum(axis=1, dtype=np.float64)
        elif name == "windows":
            f = counts.reshape(b_n, -1).astype(np.float64)
        elif name == "final_mem":
            f = np.asarray(final_mem, np.float64)
        else:  # pragma: no cover - the config validates names
            raise ValueError(f"unknown feature '{name}'")
        parts.append(f.astype(np.float32))
        layout.append((name, f.shape[1]))
    return np.concatenate(parts, axis=1), layout


def firing_stats(rates: np.ndarray, saturated_above: float = 0.9) -> dict[str, float]:
    """Firing-rate statistics of rates [B, N] (spikes per step).

    Keys: ``mean_rate`` (over samples and neurons), ``std_neuron_rate`` (spread of the
    per-neuron mean rates), ``p10_neuron_rate`` / ``median_neuron_rate`` / ``p90_neuron_rate``,
    ``silent_fraction`` (neurons that never fire on any sample), ``saturated_fraction``
    (neurons whose mean rate exceeds ``saturated_above``), ``silent_sample_fraction`` (samples
    on which no neuron fires).
    """
    rates = np.asarray(rates, np.float64)
    if rates.size == 0:
        return {k: float("nan") for k in ("mean_rate", "std_neuron_rate", "p10_neuron_rate",
                                          "median_neuron_rate", "p90_neuron_rate",
                                          "silent_fraction", "saturated_fraction",
                                          "silent_sample_fraction")}
    per_neuron = rates.mean(axis=0)
    p10, p50, p90 = np.percentile(per_neuron, [10, 50, 90])
    return {
        "mean_rate": float(rates.mean()),
        "std_neuron_rate": float(per_neuron.std()),
        "p10_neuron_rate": float(p10),
        "median_neuron_rate": float(p50),
        "p90_neuron_rate": float(p90),
        "silent_fraction": float(np.mean(rates.max(axis=0) == 0)),
        "saturated_fraction": float(np.mean(per_neuron > saturated_above)),
        "silent_sample_fraction": float(np.mean(rates.max(axis=1) == 0)),
    }


def plot_raster(raster: np.ndarray, path: str | os.PathLike, frames: np.ndarray | None = None,
                title: str = "LSM raster") -> None:
    """Save a raster [T, N] (and optionally the input frames [T, n_in] above it) as PNG."""
    # a bare Figure (no pyplot): leaves the caller's backend (e.g. a notebook's) alone
    from matplotlib.figure import Figure

    raster = np.asarray(raster)
    n_ax = 2 if frames is not None else 1
    fig = Figure(figsize=(8, 2.5 * n_ax + 1))
    axes = fig.subplots(n_ax, 1, sharex=True, squeeze=False)
    if frames is not None:
        t_in, i_in = np.nonzero(np.asarray(frames))
        axes[0, 0].scatter(t_in, i_in, s=1, c="#555555")
        axes[0, 0].set_ylabel("input")
        axes[0, 0].set_title(title)
    t_s, j_s = np.nonzero(raster)
    ax = axes[-1, 0]
    ax.scatter(t_s, j_s, s=1, c="#aa2222")
    ax.set_xlabel("step t")
    ax.set_ylabel("neuron")
    if frames is None:
        ax.set_title(title)
    ax.set_xlim(-0.5, raster.shape[0] - 0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
