"""Summary statistics of a macro's conductance state (what `rram-lsm macro stats` prints)."""

from __future__ import annotations

import os

import numpy as np

from crossbar import kernels as K
from crossbar.device import breakdown_cdf
from crossbar.fsio import save_figure
from crossbar.ledger import Ledger
from crossbar.macro import Macro, book_mvm


def energy_per_mvm(macro: Macro, active_fraction: float = 0.5, array: int = 0) -> float:
    """Energy (J) of one full-array binary MVM on differential pairs with ``active_fraction``
    of the rows driven, one ADC conversion per pair (computed on a scratch ledger)."""
    g = macro.g_us[array]
    n_active = int(round(active_fraction * macro.rows))
    x = np.zeros((1, macro.rows))
    x[0, np.linspace(0, macro.rows - 1, n_active).astype(int)] = 1.0
    ledger = Ledger()
    book_mvm(macro.spec, ledger, x, g[:, 0::2], g[:, 1::2], n_out=macro.cols // 2, adc_used=True)
    return ledger.total_energy_j


def macro_stats(macro: Macro, form_voltage: float | None = None) -> dict:
    """Statistics of the current state; keys are documented in README (`macro stats`).

    A statistic of an empty set (e.g. ``g_formed_mean_us`` when no cell formed) is NaN here;
    JSON has no NaN, so `rram-lsm macro stats --json` and ``stats.json`` write it as null
    (`crossbar.validation.finite_or_none`)."""
    spec = macro.spec
    g = macro.g_us
    formed = g > spec.forming.g_formed_threshold_us
    status = macro.status
    pristine = status == K.PRISTINE
    w = g[:, :, 0::2] - g[:, :, 1::2]
    out = {
        "preset": spec.name,
        "n_arrays": macro.n_arrays,
        "rows": macro.rows,
        "cols": macro.cols,
        "cells": macro.n_cells,
        "formed_fraction": float(formed.mean()),
        "g_formed_mean_us": float(g[formed].mean()) if formed.any() else float("nan"),
        "g_formed_std_us": float(g[formed].std()) if formed.any() else float("nan"),
        "g_pristine_mean_us": float(g[pristine].mean()) if pristine.any() else float("nan"),
        "stuck_low_fraction": float((status == K.STUCK_LOW).mean()),
        "stuck_high_fraction": float((status == K.STUCK_HIGH).mean()),
        "weight_mean": float(w.mean()),
        "weight_std": float(w.std()),
        "weight_nonzero_fraction": float(np.mean(np.abs(w) > spec.forming.g_formed_threshold_us / 2)),
        "energy_per_mvm_j": energy_per_mvm(macro),
        "clock_s": macro.clock_s,
        "ledger": macro.ledger.report(),
        "assumptions": sum(v.startswith("assumption") for v in spec.provenance.values()),
        "sourced": sum(v.startswith("source") for v in spec.provenance.values()),
    }
    if form_voltage is not None:
        fl = spec.faults
        out["form_voltage"] = form_voltage
        out["formed_fraction_expected"] = float(
            breakdown_cdf(spec, form_voltage) * (1 - fl.stuck_low_rate - fl.stuck_high_rate)
            + fl.stuck_high_rate
        )
    return out


def plot_conductances(macro: Macro, path: str | os.PathLike, array: int = 0) -> None:
    """Histogram (log scale) and map of one array's conductances, saved as PNG."""
    # a bare Figure (no pyplot): does not touch the caller's backend, e.g. a notebook's
    from matplotlib.figure import Figure

    g = macro.g_us[array]
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    bins = np.logspace(np.log10(max(g.min(), 1e-3)), np.log10(g.max() * 1.05), 80)
    ax1.hist(g.ravel(), bins=bins, color="#336699")
    ax1.set_xscale("log")
    ax1.axvline(macro.spec.forming.g_formed_threshold_us, color="r", ls="--",
                label="formed threshold (20 kOhm)")
    ax1.set_xlabel("conductance (uS)")
    ax1.set_ylabel("cells")
    ax1.legend()
    ax1.set_title(f"{macro.spec.name}: conductance histogram")
    im = ax2.imshow(g, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax2, label="uS")
    ax2.set_title(f"array {array} conductance map")
    ax2.set_xlabel("column")
    ax2.set_ylabel("row")
    fig.tight_layout()
    save_figure(fig, path)
