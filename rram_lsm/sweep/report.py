"""The sweep report, from the results table alone: ``sweep.md`` and ``figures/``.

* each metric against each axis: mean over all rows with that axis value (dies, seeds and the
  other axes) with a 95 % t-interval of the mean;
* heat maps of the accuracy metric over each pair of axes (mean per cell);
* the energy-per-inference vs accuracy Pareto front over the axis points (means over dies);
* the yield: fraction of dies whose accuracy reaches a threshold, per value of the first axis.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from crossbar.errors import InputError
from crossbar.fsio import atomic_write_text
from rram_lsm.sweep.table import AXIS, METRIC, TABLE, ResultsTable


def interval95(values: list[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95 % t-interval of the mean, n) of the finite ``values``."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, 0
    if v.size == 1:
        return float(v[0]), math.nan, 1
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return float(v.mean()), half, int(v.size)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (energy, accuracy) points no other point beats on both (lower energy,
    higher accuracy), by rising energy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _sort_key(v: Any):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.3g}"


def _fmtv(v: Any) -> str:
    """An axis value for a table: floats to 4 significant digits."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pick(metrics: list[str], chosen: str | None, words: tuple[str, ...]) -> str | None:
    if chosen in metrics:
        return chosen
    return next((m for m in metrics if any(w in m for w in words)), None)


def write_report(folder: str | Path) -> Path:
    """Write ``sweep.md`` and ``figures/*.png`` of the sweep folder from its table (and its
    ``spec.json`` for the report settings, if present); returns the path of sweep.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    if not (folder / TABLE).exists():
        raise InputError(f"{folder}: no {TABLE} (not a sweep folder, or no trial finished yet)")
    table = ResultsTable(folder)
    spec = json.loads((folder / "spec.json").read_text()) if (folder / "spec.json").exists() else {}
    rep = spec.get("report") or {}
    axes, metrics = table.axes, table.metrics
    rows = list(table.rows.values())
    ok = [r for r in rows if r.get("status") == "ok"]
    bad = [r for r in rows if r.get("status") != "ok"]
    acc = _pick(metrics, rep.get("accuracy_metric"), ("accuracy", "top1"))
    energy = _pick(metrics, rep.get("energy_metric"), ("energy",))
    figs = folder / "figures"
    figs.mkdir(exist_ok=True)
    md = [f"# Sweep {spec.get('name', folder.name)}", "",
          f"{len(rows)} trials in the table: {len(ok)} ok, {len(bad)} failed; axes: "
          + ", ".join(f"`{a}`" for a in axes) + f"; dies per point: "
          f"{len({r.get('die') for r in rows})}.", ""]

    # --- metric vs each axis ---
    for axis in axes:
        groups: dict[Any, list[dict]] = defaultdict(list)
        for r in ok:
            groups[r.get(AXIS + axis)].append(r)
        values = sorted(groups, key=_sort_key)
        md += [f"## Against `{axis}`", "", "| value | n | " + " | ".join(f"`{m}`" for m in metrics)
               + " |", "|---|---|" + "---|" * len(metrics)]
        stats_by_m = {m: [interval95([g.get(METRIC + m) for g in groups[v]]) for v in values]
                      for m in metrics}
        for i, v in enumerate(values):
            cells = [f"{_fmt(stats_by_m[m][i][0])} ± {_fmt(stats_by_m[m][i][1])}" for m in metrics]
            md.append(f"| {_fmtv(v)} | {len(groups[v])} | " + " | ".join(cells) + " |")
        md.append("")
        numeric = all(_sort_key(v)[0] == 0 for v in values)
        x = np.array([float(v) for v in values]) if numeric else np.arange(len(values))
        fig, axs = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), squeeze=False)
        for ax, m in zip(axs[0], metrics):
            mean = np.array([s[0] for s in stats_by_m[m]])
            half = np.nan_to_num(np.array([s[1] for s in stats_by_m[m]]))
            ax.errorbar(x, mean, yerr=half, marker="o", capsize=3)
            ax.set_xlabel(axis)
            ax.set_ylabel(m, fontsize=7)
            if numeric and len(x) > 1 and x.min() > 0 and x.max() / x.min() > 100:
                ax.set_xscale("log")
            if not numeric:
                ax.set_xticks(x, [str(v) for v in values], rotation=30)
        fig.suptitle(f"mean ± 95 % interval over dies / other axes vs {axis}", fontsize=9)
        fig.tight_layout()
        name = f"vs_{_slug(axis)}.png"
        fig.savefig(figs / name, dpi=110)
        plt.close(fig)
        md += [f"![{axis}](figures/{name})", ""]

    # --- heat maps over pairs of axes ---
    if acc is not None:
        for a, b in itertools.combinations(axes, 2):
            va = sorted({r.get(AXIS + a) for r in ok}, key=_sort_key)
            vb = sorted({r.get(AXIS + b) for r in ok}, key=_sort_key)
            grid = np.full((len(va), len(vb)), np.nan)
            for i, x_ in enumerate(va):
                for j, y_ in enumerate(vb):
                    grid[i, j] = interval95([r.get(METRIC + acc) for r in ok if r.get(AXIS + a) == x_
                                             and r.get(AXIS + b) == y_])[0]
            fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(vb), 1.0 + 0.5 * len(va)))
            im = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis")
            ax.set_xticks(range(len(vb)), [str(v) for v in vb], rotation=30, fontsize=7)
            ax.set_yticks(range(len(va)), [str(v) for v in va], fontsize=7)
            ax.set_xlabel(b, fontsize=8)
            ax.set_ylabel(a, fontsize=8)
            fig.colorbar(im, ax=ax, label=acc.split(".")[-2] if "." in acc else acc)
            fig.tight_layout()
            name = f"heat_{_slug(a)}__{_slug(b)}.png"
            fig.savefig(figs / name, dpi=110)
            plt.close(fig)
            md += [f"## `{acc}` over `{a}` × `{b}`", "", f"![heat map](figures/{name})", ""]

    # --- Pareto front: energy per inference vs accuracy over axis points ---
    if acc is not None and energy is not None and ok:
        pts: dict[tuple, list[dict]] = defaultdict(list)
        for r in ok:
            pts[tuple(r.get(AXIS + a) for a in axes)].append(r)
        keys = list(pts)
        xy = [(interval95([r.get(METRIC + energy) for r in pts[k]])[0],
               interval95([r.get(METRIC + acc) for r in pts[k]])[0]) for k in keys]
        finite = [i for i, p in enumerate(xy) if all(math.isfinite(c) for c in p)]
        front = [finite[i] for i in pareto_front([xy[i] for i in finite])]
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.scatter([xy[i][0] for i in finite], [xy[i][1] for i in finite], s=12, alpha=0.5,
                   label="axis points (mean over dies)")
        ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "r-o", ms=4, label="Pareto front")
        ax.set_xlabel(f"{energy} (J)", fontsize=8)
        ax.set_ylabel(acc, fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(figs / "pareto.png", dpi=110)
        plt.close(fig)
        md += ["## Energy per inference vs accuracy: Pareto front", "",
               "| " + " | ".join(f"`{a}`" for a in axes) + f" | `{energy}` | `{acc}` |",
               "|" + "---|" * (len(axes) + 2)]
        for i in front:
            md.append("| " + " | ".join(_fmtv(v) for v in keys[i]) + f" | {_fmt(xy[i][0])} | "
                      f"{_fmt(xy[i][1])} |")
        md += ["", "![Pareto front](figures/pareto.png)", ""]

    # --- yield: fraction of dies reaching the threshold, per value of the first axis ---
    ymetric = rep.get("yield_metric") if rep.get("yield_metric") in metrics else acc
    if ymetric is not None and axes and ok:
        allv = [r.get(METRIC + ymetric) for r in ok if math.isfinite(r.get(METRIC + ymetric) or math.nan)]
        thr = rep.get("yield_threshold")
        thr = float(np.median(allv)) if thr is None and allv else thr
        first = axes[0]
        values = sorted({r.get(AXIS + first) for r in ok}, key=_sort_key)
        md += [f"## Yield: fraction of dies with `{ymetric}` ≥ {_fmt(thr)}", "",
               f"| `{first}` | dies | yield |", "|---|---|---|"]
        ys = []
        for v in values:
            vals = [r.get(METRIC + ymetric) for r in ok if r.get(AXIS + first) == v]
            y = float(np.mean([x is not None and x >= thr for x in vals])) if vals else math.nan
            ys.append(y)
            md.append(f"| {_fmtv(v)} | {len(vals)} | {_fmt(y)} |")
        numeric = all(_sort_key(v)[0] == 0 for v in values)
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        x = [float(v) for v in values] if numeric else list(range(len(values)))
        ax.plot(x, ys, "o-")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(first)
        ax.set_ylabel(f"yield ({ymetric.split('.')[-2] if '.' in ymetric else ymetric} ≥ {_fmt(thr)})",
                      fontsize=8)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in values], rotation=30)
        fig.tight_layout()
        fig.savefig(figs / "yield.png", dpi=110)
        plt.close(fig)
        md += ["", "![yield](figures/yield.png)", ""]

    if bad:
        md += ["## Failed trials", "", "| key | die | error |", "|---|---|---|"]
        md += [f"| {r['key']} | {r.get('die')} | {str(r.get('error', '')).replace('|', '/')} |"
               for r in bad]
        md.append("")
    path = folder / "sweep.md"
    atomic_write_text(path, "\n".join(md))
    return path


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s)
