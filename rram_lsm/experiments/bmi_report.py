"""Report and figure of the BMI zero-shot experiment (`rram_lsm.experiments.bmi`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def figure(results, out: Path) -> list[str]:
    """Per-group bars of unseen neural->image top-1 per weight source, with chance, the
    permutation null (mean score over the 23 wrong assignments) and the control."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crossbar.fsio import save_figure

    sources = list(results.zero_shot)
    if not sources:
        return []
    fig, axes = plt.subplots(1, len(sources), figsize=(5.5 * len(sources), 3.8), squeeze=False)
    for ax, src in zip(axes[0], sources):
        s = results.zero_shot[src].unseen
        groups = list(s.n2i_top1.per_group)
        x = np.arange(len(groups))
        ax.bar(x - 0.2, [s.n2i_top1.per_group[g] for g in groups], 0.4, label="true pairing")
        ctrl = results.zero_shot_control.get(src)
        if ctrl is not None:
            ax.bar(x + 0.2, [ctrl.unseen.n2i_top1.per_group.get(g, np.nan) for g in groups], 0.4,
                   color="0.6", label="arbitrary-pairing control")
        null = s.permutation["per_group_null_mean"]
        ax.scatter(x - 0.2, [null[g] for g in groups], marker="_", s=300, color="k",
                   label="permutation null (mean of 23)", zorder=3)
        for xi, g in zip(x, groups):
            ax.text(xi - 0.2, s.n2i_top1.per_group[g] + 0.02, f"p={s.permutation['per_group_p'][g]:.2f}",
                    ha="center", fontsize=7)
        ax.axhline(results.chance["unseen"], color="r", ls="--", lw=1, label="chance 25 %")
        ax.set_xticks(x, groups)
        ax.set_ylim(0, 1)
        ax.set_ylabel("unseen neural->image top-1")
        ax.set_title(f"{src}: mean {_pct(s.n2i_top1.mean)} %, perm. p = {s.permutation_p:.2g}")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, out / "zero_shot_groups.png")
    plt.close(fig)
    return ["zero_shot_groups.png"]


def _row(name: str, s, key: str) -> str:
    st = getattr(s, key)
    return f"| {name} | {_pct(st.mean)} ± {_pct(st.std)} | " + " | ".join(
        _pct(v) for v in st.per_group.values()) + " |"


def table(results) -> str:
    """Markdown table of unseen top-1 per source / protocol / control."""
    src0 = next(iter(results.zero_shot))
    groups = list(results.zero_shot[src0].unseen.n2i_top1.per_group)
    lines = ["| condition | mean ± sd over seeds (%) | " + " | ".join(groups) + " |",
             "|---|---|" + "---|" * len(groups)]
    for src, s in results.zero_shot.items():
        lines.append(_row(f"{src} n2i (validation)", s.unseen, "n2i_top1"))
        lines.append(_row(f"{src} i2n (validation)", s.unseen, "i2n_top1"))
        if src in results.zero_shot_control:
            lines.append(_row(f"{src} n2i control", results.zero_shot_control[src].unseen, "n2i_top1"))
        lines.append(_row(f"{src} n2i (paper protocol)", results.zero_shot_paper[src].unseen,
                          "n2i_top1"))
    return "\n".join(lines)


def report_text(results, figures: list[str]) -> str:
    cfg = results.config
    out = [f"# {cfg['name']}: neural activity <-> handwritten letters, zero-shot", ""]
    out += ["## Verdict", ""]
    for src, v in results.verdict.items():
        out += [f"- **{src}**: {v}"]
    out += ["", "Statistics: per held-out group the seeds' scores under each of the 24 assignments "
            "of the unseen image letters to the unseen neural letters are averaged; the true "
            "assignment's rank gives p = rank / 24; groups are combined with the exact "
            "distribution of the summed ranks (Fisher's method beside it). The group-level test "
            "treats held-out groups as the unit (seeds averaged within a group): one-sided "
            "one-sample t-test against 25 % (Wilcoxon signed-rank beside it).", ""]
    out += ["## Unseen letters, top-1 (4-way, chance 25 %)", "", table(results), ""]
    out += ["| source | unseen n2i | unseen i2n | seen n2i (22-way) | seen i2n | perm. p n2i "
            "(rank-sum) | Fisher p | perm. p both dirs | t-test p | Wilcoxon p | control n2i | "
            "control perm. p |", "|---" * 12 + "|"]
    for src, s in results.zero_shot.items():
        c = results.zero_shot_control.get(src)
        gt = s.unseen.group_test
        out.append(
            f"| {src} | {_pct(s.unseen.n2i_top1.mean)} | {_pct(s.unseen.i2n_top1.mean)} | "
            f"{_pct(s.seen.n2i_top1.mean)} | {_pct(s.seen.i2n_top1.mean)} | "
            f"{s.unseen.permutation_p:.3g} | {s.unseen.permutation['fisher_p']:.3g} | "
            f"{s.unseen.permutation_p_both:.3g} | {gt['t_p']:.3g} | {gt['wilcoxon_p']:.3g} | "
            f"{_pct(c.unseen.n2i_top1.mean) if c else '-'} | "
            f"{f'{c.unseen.permutation_p:.3g}' if c else '-'} |")
    if "gaussian" in results.zero_shot and "macro" in results.zero_shot:
        zs = results.zero_shot
        d = zs["macro"].unseen.n2i_top1.mean - zs["gaussian"].unseen.n2i_top1.mean
        out += ["", f"Macro minus Gaussian (unseen n2i): {100 * d:+.1f} points."]
    out += ["", "## Encoders", "", "| modality | source | const | mean rate | silent | arrays "
            "(this size) | arrays at 2,048 neurons | energy / sample | samples / s |",
            "|---" * 9 + "|"]
    for e in results.encoders:
        out.append(f"| {e.modality} | {e.source} | {e.const:.4g} | {e.mean_rate:.3f} | "
                   f"{e.silent_fraction:.3f} | {e.n_arrays} | {e.n_arrays_paper_size} | "
                   f"{e.energy_per_sample_j:.3g} J | {e.samples_per_s:.0f} |")
    if results.probes:
        out += ["", "## Linear probes (26-way, test split)", ""]
        for src, p in results.probes.items():
            out.append(f"- {src}: neural {_pct(p['neural'])} %, image {_pct(p['image'])} %")
    out += ["", "## Data", "", "```", str(results.data), "```", ""]
    out += [f"![per-group bars]({f})" for f in figures]
    out += ["", f"Run time: {results.seconds:.0f} s.", ""]
    return "\n".join(out)
