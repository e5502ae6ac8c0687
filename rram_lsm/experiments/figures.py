"""Figures of a run: conductances, inputs, rasters, similarity, embeddings, zero-shot bars,
training curves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from rram_lsm.experiments.results import PairRun, ZeroShotResults


def _figure(*shape: int, figsize=(11, 4)):
    """A bare Figure (no pyplot, so the caller's backend is left alone) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*shape) if shape else fig.subplots()


def make_figures(fig_dir: Path, cfg, splits: dict, enc: dict, zs_results: list[PairRun],
                 zero_shot: ZeroShotResults | None) -> list[str]:
    """Write the run's PNG figures into ``fig_dir``; returns their file names."""
    fig_dir = Path(fig_dir)
    made: list[str] = []
    seed = cfg.seed_list[0]
    # conductances of the macro that holds the image encoder
    for source in cfg.sources:
        macro = enc[(seed, source)]["image"].macro
        if macro is not None:
            from crossbar.stats import plot_conductances

            p = fig_dir / "conductance.png"
            plot_conductances(macro, p)
            made.append(p.name)
            break
    # inputs and rasters
    from rram_lsm.data import plot_class_examples
    from rram_lsm.lsm import plot_raster

    for m in ("image", "audio"):
        p = fig_dir / f"inputs_{m}.png"
        plot_class_examples(splits[m]["train"], p)
        made.append(p.name)
        e = enc[(seed, cfg.sources[-1])][m]
        if e.raster is not None:
            p = fig_dir / f"raster_{m}.png"
            plot_raster(e.raster, p, frames=splits[m]["train"].frames[0],
                        title=f"{m} LSM ({cfg.sources[-1]} weights), sample 0")
            made.append(p.name)
    if zs_results and zero_shot is not None:
        made += _zero_shot_bars(fig_dir, zero_shot)
        made += _training_curves(fig_dir, zs_results, cfg)
        made += _similarity_and_embedding(fig_dir, cfg, enc, splits, zs_results)
    return made


def embedding_run(cfg) -> tuple[int, str, str, tuple[int, int]]:
    """(seed, source, mode, held-out pair) of the heads the similarity and embedding figures
    show: the first seed, the last weight source, the headline feature mode, the first pair."""
    return (cfg.seed_list[0], cfg.sources[-1], cfg.feature_modes[0],
            tuple(cfg.zero_shot.held_out_pairs[0]))


def keeps_heads(cfg) -> Callable[[PairRun], bool]:
    """For `run_pairs_batched(keep_heads=...)`: True for the (non-control) run whose trained
    heads the figures show (see `embedding_run`), so the figures need no training of their own."""
    want = embedding_run(cfg)
    return lambda r: not r.control and (r.seed, r.source, r.mode, tuple(r.pair)) == want


def _zero_shot_bars(fig_dir: Path, zero_shot: ZeroShotResults) -> list[str]:
    zs = zero_shot.by_features
    chance = zero_shot.chance.unseen
    combos = [(mode, src) for mode in zs for src in zs[mode]]
    if not combos:
        return []
    pairs = list(zs[combos[0][0]][combos[0][1]].unseen.a2i_top1.per_pair)
    fig, axes = _figure(1, 2, figsize=(12, 4))
    width = 0.8 / len(combos)
    for ax, metric in zip(axes, ("a2i_top1", "i2a_top1")):
        for k, (mode, src) in enumerate(combos):
            pp = getattr(zs[mode][src].unseen, metric).per_pair
            means = [pp[p].mean for p in pairs]
            stds = [pp[p].std for p in pairs]
            ax.bar(np.arange(len(pairs)) + k * width, means, width, yerr=stds,
                   label=f"{src}, {mode}", capsize=2)
        ax.axhline(chance, color="k", ls="--", label=f"chance {chance:.2f}")
        ax.set_xticks(np.arange(len(pairs)) + width * (len(combos) - 1) / 2)
        ax.set_xticklabels(pairs)
        ax.set_xlabel("held-out pair")
        ax.set_title(f"zero-shot {metric.replace('_top1', '')} top-1 (validation-selected)")
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("top-1")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    p = fig_dir / "zero_shot_pairs.png"
    fig.savefig(p, dpi=110)
    return [p.name]


def _training_curves(fig_dir: Path, zs_results: list[PairRun], cfg) -> list[str]:
    r = zs_results[0]
    h = r.history
    ep = [x["epoch"] for x in h]
    fig, (ax1, ax2) = _figure(1, 2, figsize=(11, 4))
    ax1.plot(ep[1:], [x["loss"] for x in h[1:]])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.set_title(f"{r.source}, {r.mode}, held out {list(r.pair)}, seed {r.seed}")
    for key, lab in (("val_a2i_top1", "validation a2i"), ("seen_a2i_top1", "test seen a2i"),
                     ("unseen_a2i_top1", "test unseen a2i")):
        ax2.plot(ep, [x[key] for x in h], label=lab)
    ax2.axvline(r.best_epoch["validation"], color="g", ls=":", label="selected (validation)")
    if "paper" in r.best_epoch:
        ax2.axvline(r.best_epoch["paper"], color="r", ls=":", label="selected on test (paper)")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("top-1")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    p = fig_dir / "training_curves.png"
    fig.savefig(p, dpi=110)
    return [p.name]


def _similarity_and_embedding(fig_dir: Path, cfg, enc: dict, splits: dict,
                              zs_results: list[PairRun] = ()) -> list[str]:
    """Similarity matrix and 2-D PCA of the test embeddings under the heads of `embedding_run`:
    those the zero-shot stage kept (``run.heads``), else retrained here (the same seed and
    validation-selected epoch, so the same heads up to float rounding)."""
    from matplotlib import colormaps

    from rram_lsm.experiments.zero_shot import pair_indices
    from rram_lsm.heads.train import embed

    seed, source, mode, pair = embedding_run(cfg)
    zc = cfg.zero_shot
    idx = pair_indices(splits, pair, zc.class_pool, zc.train_excluded, zc.val_fraction,
                       zc.max_test_per_class, seed)
    e = enc[(seed, source)]
    fi = {s: e["image"].features(mode, s) for s in ("train", "test")}
    fa = {s: e["audio"].features(mode, s) for s in ("train", "test")}
    wanted = keeps_heads(cfg)
    res = next((r.heads for r in zs_results if r.heads is not None and wanted(r)), None)
    if res is None:
        from rram_lsm.heads.train import RetrievalSet, train_heads

        val = RetrievalSet(fa["train"][idx.val_aud], idx.val_y, fi["train"][idx.val_img], idx.val_y)
        res = train_heads(fa["train"][idx.train_aud], fi["train"][idx.train_img], idx.train_y, val,
                          {}, cfg.heads, seed=seed, patience=zc.patience)
    aud_i = np.concatenate([idx.seen_aud, idx.unseen_aud])
    img_i = np.concatenate([idx.seen_img, idx.unseen_img])
    y = np.concatenate([idx.seen_y, idx.unseen_y])
    order = np.argsort(y, kind="stable")
    ea = embed(res, fa["test"][aud_i], "audio")[order]
    ei = embed(res, fi["test"][img_i], "image")[order]
    ys = y[order]
    # small matrices right after torch work: one BLAS thread (threads woken while torch's are
    # still spinning can take a second on a busy machine for a millisecond of arithmetic)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        sim = ea @ ei.T
        # 2-D PCA of both modalities' embeddings
        both = np.concatenate([ea, ei])
        both = both - both.mean(0)
        _, _, vt = np.linalg.svd(both, full_matrices=False)
        xy = both @ vt[:2].T
    fig, ax = _figure(figsize=(6.5, 5.5))
    im = ax.imshow(sim, cmap="magma", interpolation="nearest")
    bounds = np.flatnonzero(np.diff(ys)) + 0.5
    for b in bounds:
        ax.axhline(b, color="w", lw=0.5)
        ax.axvline(b, color="w", lw=0.5)
    ticks = [np.mean(np.flatnonzero(ys == c)) for c in np.unique(ys)]
    ax.set_xticks(ticks)
    ax.set_xticklabels(np.unique(ys))
    ax.set_yticks(ticks)
    ax.set_yticklabels(np.unique(ys))
    ax.set_xlabel("image (test)")
    ax.set_ylabel("audio query (test)")
    ax.set_title(f"cross-modal similarity ({source}, {mode}; unseen {pair[0]}/{pair[1]})")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    p1 = fig_dir / "similarity.png"
    fig.savefig(p1, dpi=110)
    fig, ax = _figure(figsize=(6.5, 5.5))
    cmap = colormaps["tab10"]
    n = len(ea)
    for c in np.unique(ys):
        m = ys == c
        ax.scatter(*xy[:n][m].T, s=10, marker="o", color=cmap(int(c) % 10), alpha=0.6,
                   label=f"{c}{' (unseen)' if c in pair else ''}")
        ax.scatter(*xy[n:][m].T, s=14, marker="x", color=cmap(int(c) % 10), alpha=0.6)
    ax.set_title("embeddings (PCA): o audio, x image")
    ax.legend(fontsize=7, markerscale=1.5)
    fig.tight_layout()
    p2 = fig_dir / "embeddings.png"
    fig.savefig(p2, dpi=110)
    return [p1.name, p2.name]
