"""The paper's second zero-shot task: intracortical activity during attempted handwriting <->
images of letters (26 letters, 4 held out, 4-way chance 25 %).

Pipeline (``run_bmi_experiment``):

1. data: Willett et al. 2021 ``singleLetters.mat`` (counts clipped at 1, 201 bins; the last
   ``test_fraction`` of each letter's trials are test trials) and E-MNIST letters, or their
   built-in stand-ins (`rram_lsm.data.bmi_builtin`);
2. encoders: a neural LSM (192 inputs, 201 steps, decay 0.95) and an image LSM (784 inputs,
   Bernoulli rate coding over 50 steps with p = pixel x 20 / 50, pixel in [0, 1]), each with
   ``n_neurons`` neurons (the paper: 2,048; tiled over as many macro arrays as needed), weights
   ``gaussian`` (software twin) or ``macro``; features: spike counts in time windows, square-
   rooted; the weight constant of each encoder is tuned for a mean firing rate (training frames
   only) unless given;
3. per held-out group of 4 letters and seed: PCA of each modality's features fitted on the seen
   letters' training data, projection heads (`rram_lsm.heads.train_heads`) trained on seen-letter
   pairs (a neural trial with a random image of the same letter), epoch chosen on a validation
   split of the seen training pairs (``validation``) or on the test set (``paper``, shown only to
   measure the inflation);
4. scores: neural->image (n2i) and image->neural (i2n) top-1 on the unseen letters (4-way) and the
   seen ones (22-way); the permutation control (`rram_lsm.experiments.zs_stats`) of every trained
   model; an arbitrary-pairing control run (neural letter c paired with the images of a fixed
   other letter sigma(c), in training and test); linear probes per modality.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crossbar.fsio import atomic_write_json, atomic_write_text, refuse_overwrite
from crossbar.validation import read_yaml_mapping
from rram_lsm.data.bmi_builtin import BmiStandinConfig, ensure_bmi_builtin
from rram_lsm.data.handwriting import LETTERS
from rram_lsm.errors import ConfigError
from rram_lsm.experiments import zs_stats
from rram_lsm.heads.train import HeadConfig

PAPER_GROUP = "stuv"
DEFAULT_GROUPS = ("stuv", "abcd", "efgh", "ijkl", "mnop", "wxyz")
CHANCE_UNSEEN = 0.25
HEAD_DEFAULTS: dict[str, Any] = {
    "proj_dim": 64, "n_layers": 2, "loss": "supcon", "temperature": 0.1, "metric": "cosine",
    "lr": 1e-3, "batch_size": 128, "epochs": 60, "standardize": True}
"""Heads of the prototype recipe: two layers to a 64-d space, cosine similarity, supervised
contrastive loss across modalities at temperature 0.1."""


class BmiDataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["builtin", "files"] = "builtin"
    neural_path: str | None = Field(None, description="singleLetters.mat (source: files); "
                                    "relative paths are under the data root")
    letters_dir: str | None = Field(None, description="folder of the E-MNIST letters idx files")
    standin: BmiStandinConfig = BmiStandinConfig()
    test_fraction: float | None = Field(None, gt=0, lt=1, description="neural test trials "
                                        "(last ones per letter); None: the stand-in's split, or 0.2")
    n_bins: int = Field(201, ge=10, le=2000)
    image_train_per_class: int | None = Field(None, ge=1, description="cap (E-MNIST: 4,800)")
    image_test_per_class: int | None = Field(None, ge=1)


class BmiEncoderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_neurons: int = Field(512, ge=1, le=100_000)
    neural_decay: float = Field(0.95, ge=0, le=1)
    image_decay: float = Field(0.9, ge=0, le=1)
    v_th: float = Field(5.0, gt=0)
    neural_const: float | None = Field(None, gt=0, description="None: tuned for target_rate")
    image_const: float | None = Field(None, gt=0)
    target_rate: float = Field(0.12, gt=0, lt=1)
    neural_windows: int = Field(10, ge=1)
    image_windows: int = Field(5, ge=1)
    image_steps: int = Field(50, ge=1, le=10_000)
    image_rate_scale: float = Field(20.0, gt=0, description="p = pixel * scale / image_steps")
    engine: Literal["numba", "torch", "reference"] = "numba"
    seed: int = Field(10, ge=0)


class BmiConfig(BaseModel):
    """Experiment config (YAML: ``configs/zero_shot_bmi_*.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "zero_shot_bmi"
    data: BmiDataConfig = BmiDataConfig()
    encoder: BmiEncoderConfig = BmiEncoderConfig()
    sources: tuple[Literal["gaussian", "macro"], ...] = ("gaussian", "macro")
    groups: tuple[str, ...] = DEFAULT_GROUPS
    seeds: int = Field(3, ge=1, le=1000)
    pca: int | None = Field(100, ge=1)
    val_fraction: float = Field(1 / 6, gt=0, lt=1)
    heads: HeadConfig = HeadConfig(**HEAD_DEFAULTS)
    control: bool = True
    control_seed: int = 12345
    probes: bool = True

    @field_validator("heads", mode="before")
    @classmethod
    def _head_defaults(cls, v: Any) -> Any:
        """Keys left out of ``heads`` take this task's defaults, not `HeadConfig`'s."""
        return {**HEAD_DEFAULTS, **v} if isinstance(v, dict) else v

    def model_post_init(self, _: Any) -> None:
        for g in self.groups:
            if len(g) != 4 or len(set(g)) != 4 or any(c not in LETTERS for c in g):
                raise ValueError(f"group {g!r} must be 4 distinct letters a-z")


def load_bmi_config(path: str | os.PathLike | None, overrides: dict | None = None) -> BmiConfig:
    raw = dict(read_yaml_mapping(Path(path), ConfigError, "config")) if path else {}
    raw.update(overrides or {})
    try:
        return BmiConfig.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path or 'bmi config'}: {exc}") from None


# ---------------------------------------------------------------------------- data


@dataclass
class BmiData:
    neural: dict[str, np.ndarray]  # split -> uint8 [n, T, 192] (clipped at 1)
    neural_y: dict[str, np.ndarray]  # split -> int64 0-25
    images: dict[str, np.ndarray]  # split -> uint8 [n, 28, 28]
    images_y: dict[str, np.ndarray]
    info: dict


def _cap(y: np.ndarray, per_class: int | None) -> np.ndarray:
    if per_class is None:
        return np.arange(y.size)
    keep = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in np.unique(y)])
    return np.sort(keep)


def load_bmi_data(cfg: BmiConfig, data_root: str | os.PathLike) -> BmiData:
    from rram_lsm.data import emnist, willett

    d = cfg.data
    root = Path(data_root)
    info: dict = {"source": d.source}
    if d.source == "builtin":
        paths = ensure_bmi_builtin(root, d.standin, progress=True)
        neural_path, letters_dir = paths["neural"], paths["letters"]
        frac = d.test_fraction or d.standin.test_fraction
        for sub in ("neural-handwriting", "letters"):
            man = json.loads((root / sub / "manifest.json").read_text())
            info[f"{sub}_seconds_per_1000"] = man.get("seconds_per_1000")
    else:
        if not d.neural_path or not d.letters_dir:
            raise ConfigError("data.source 'files' needs data.neural_path and data.letters_dir")
        neural_path, letters_dir = root / d.neural_path, root / d.letters_dir
        frac = d.test_fraction or 0.2
    cubes = willett.read_single_letters(neural_path, n_bins=d.n_bins, clip=1)
    neural, neural_y = {"train": [], "test": []}, {"train": [], "test": []}
    for c, ch in enumerate(LETTERS):
        tr, te = willett.split_trials(len(cubes[ch]), frac)
        for split, idx in (("train", tr), ("test", te)):
            neural[split].append(cubes[ch][idx])
            neural_y[split].append(np.full(idx.size, c, np.int64))
    neural = {k: np.concatenate(v) for k, v in neural.items()}
    neural_y = {k: np.concatenate(v) for k, v in neural_y.items()}
    images, images_y = {}, {}
    for split, cap in (("train", d.image_train_per_class), ("test", d.image_test_per_class)):
        x, y = emnist.read_emnist_letters(letters_dir, split)
        keep = _cap(y, cap)
        images[split], images_y[split] = x[keep], y[keep]
    info.update(neural_path=str(neural_path), letters_dir=str(letters_dir), test_fraction=frac,
                n_neural={k: int(v.size) for k, v in neural_y.items()},
                n_images={k: int(v.size) for k, v in images_y.items()})
    return BmiData(neural, neural_y, images, images_y, info)


def rate_code(images: np.ndarray, n_steps: int, scale: float, seed: int) -> np.ndarray:
    """Bernoulli rate coding: uint8 [n, T, 784] with P(spike) = pixel * scale / T, pixel in
    [0, 1] (the authors' image encoding)."""
    rng = np.random.default_rng(seed)
    p = images.reshape(len(images), 1, -1).astype(np.float32) / 255.0 * (scale / n_steps)
    return (rng.random((len(images), n_steps, p.shape[2]), dtype=np.float32) < p).astype(np.uint8)


# ---------------------------------------------------------------------------- encoders


def lsm_config(cfg: BmiConfig, modality: str, source: str, const: float | None = None):
    from rram_lsm.lsm import LSMConfig

    e = cfg.encoder
    neural = modality == "neural"
    return LSMConfig.from_dict({
        "modality": "custom", "n_inputs": 192 if neural else 784, "n_neurons": e.n_neurons,
        "n_steps": cfg.data.n_bins if neural else e.image_steps,
        "decay": e.neural_decay if neural else e.image_decay, "v_th": e.v_th,
        "const": const or (e.neural_const if neural else e.image_const) or 0.008,
        "features": ["windows"], "n_windows": e.neural_windows if neural else e.image_windows,
        "engine": e.engine, "seed": e.seed + (0 if neural else 1), "weights": {"source": source}})


def macro_count(cfg: BmiConfig, modality: str, n_neurons: int) -> int:
    """Macro arrays (256 Kb each in the default preset) the reservoir is tiled over."""
    from rram_lsm.lsm.synapses import plan_layout, resolve_spec

    c = lsm_config(cfg, modality, "macro")
    return int(plan_layout(resolve_spec(c), c.n_inputs, n_neurons, False).n_arrays)


@dataclass
class EncoderReport:
    modality: str
    source: str
    const: float
    mean_rate: float
    silent_fraction: float
    n_arrays: int
    n_arrays_paper_size: int  # at 2,048 neurons
    energy_per_sample_j: float
    samples_per_s: float


def encode_modality(cfg: BmiConfig, modality: str, source: str,
                    frames: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], EncoderReport]:
    """Features (sqrt of window counts, float32 [n, K * N]) of the train/test frames."""
    from rram_lsm.lsm import LiquidStateMachine, tune_constant

    c = lsm_config(cfg, modality, source)
    # tuning and ADC calibration read the first samples they are given: take them across all
    # letters (the training frames are sorted by letter)
    n = len(frames["train"])
    sample = frames["train"][:: max(1, n // 256)][:256]
    given = cfg.encoder.neural_const if modality == "neural" else cfg.encoder.image_const
    if given is None:
        tr = tune_constant(c, sample, method="rate", target_rate=cfg.encoder.target_rate,
                           tol=0.01, n_samples=256, max_iter=12)
        c = lsm_config(cfg, modality, source, tr.const)
    lsm = LiquidStateMachine(c)
    lsm.calibrate(frames["train"][:: max(1, n // c.analog.calibration_samples)])
    out, energy, n_tot, secs, stats = {}, 0.0, 0, 0.0, None
    for split in ("train", "test"):
        enc = lsm.encode(frames[split], batch_size=512)
        out[split] = np.sqrt(enc.window_counts.reshape(len(enc.window_counts), -1)).astype(np.float32)
        energy += float(enc.ledger.get("total_energy_j", 0.0))
        n_tot += len(enc.features)
        secs += enc.seconds
        if split == "train":
            stats = enc.firing_stats()
    n_arr = int(lsm.synapses.info.get("n_arrays", 0)) if source == "macro" else \
        macro_count(cfg, modality, cfg.encoder.n_neurons)
    rep = EncoderReport(modality, source, float(c.const), float(stats["mean_rate"]),
                        float(stats["silent_fraction"]), n_arr, macro_count(cfg, modality, 2048),
                        energy / max(n_tot, 1), n_tot / max(secs, 1e-9))
    return out, rep


# ---------------------------------------------------------------------------- heads


class _PCA:
    """Centre + top-k principal components (fitted on the given rows)."""

    def __init__(self, x: np.ndarray, k: int | None) -> None:
        self.mu = x.mean(0)
        self.basis = None
        if k and k < min(x.shape):
            _, _, vt = np.linalg.svd(x - self.mu, full_matrices=False)
            self.basis = vt[:k].T

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = x - self.mu
        return (z @ self.basis if self.basis is not None else z).astype(np.float32)


@dataclass
class GroupRun:
    """One trained model: held-out group x seed (x control)."""

    group: str
    seed: int
    control: bool
    metrics: dict[str, dict[str, float]]  # protocol -> {seen_a2i_top1, unseen_i2a_top1, ...}
    best_epoch: dict[str, int]
    perm_n2i: list[float]  # permutation scores, identity first (validation protocol)
    perm_i2n: list[float]
    perm_both: list[float]


def _pairs(y_n: np.ndarray, y_i: np.ndarray, classes, rng) -> tuple[np.ndarray, np.ndarray]:
    """Each neural trial of ``classes`` with a random image of the same class (cycling a
    shuffled list so images repeat as little as possible)."""
    ni, ii = [], []
    for c in classes:
        n_idx = np.flatnonzero(y_n == c)
        i_idx = rng.permutation(np.flatnonzero(y_i == c))
        if i_idx.size == 0 or n_idx.size == 0:
            raise ConfigError(f"letter {LETTERS[c]} has no training samples in one modality")
        ni.append(n_idx)
        ii.append(i_idx[np.arange(n_idx.size) % i_idx.size])
    return np.concatenate(ni), np.concatenate(ii)


def run_group(cfg: BmiConfig, fn: dict, fi: dict, data: BmiData, img_labels: dict,
              group: str, seed: int, control: bool) -> GroupRun:
    """Train and score one model; ``img_labels`` are the image labels used for pairing (the
    true ones, or sigma^-1 of them for the arbitrary-pairing control)."""
    import torch

    from rram_lsm.heads.train import RetrievalSet, embed, train_heads

    unseen = [LETTERS.index(c) for c in group]
    seen = [c for c in range(26) if c not in unseen]
    rng = np.random.default_rng([seed, LETTERS.index(group[0]), int(control)])
    yn_tr, yi_tr = data.neural_y["train"], img_labels["train"]
    n_idx, i_idx = _pairs(yn_tr, yi_tr, seen, rng)
    y = yn_tr[n_idx]
    is_val = np.zeros(y.size, bool)
    for c in seen:
        k = np.flatnonzero(y == c)
        is_val[rng.choice(k, max(1, int(round(cfg.val_fraction * k.size))), replace=False)] = True
    pn, pi = _PCA(fn["train"][n_idx[~is_val]], cfg.pca), _PCA(fi["train"][i_idx[~is_val]], cfg.pca)
    yn_te, yi_te = data.neural_y["test"], img_labels["test"]

    def split_set(classes):
        qn = np.isin(yn_te, classes)
        qi = np.isin(yi_te, classes)
        return RetrievalSet(pn(fn["test"][qn]), yn_te[qn], pi(fi["test"][qi]), yi_te[qi])

    val = RetrievalSet(pn(fn["train"][n_idx[is_val]]), y[is_val], pi(fi["train"][i_idx[is_val]]),
                       y[is_val])
    evals = {"seen": split_set(seen), "unseen": split_set(unseen)}
    res = train_heads(pn(fn["train"][n_idx[~is_val]]), pi(fi["train"][i_idx[~is_val]]), y[~is_val],
                      val, evals, cfg.heads, seed=seed)
    u = evals["unseen"]
    a = torch.nn.functional.normalize(torch.as_tensor(embed(res, u.audio, "audio")), dim=-1)
    b = torch.nn.functional.normalize(torch.as_tensor(embed(res, u.image, "image")), dim=-1)
    sim = (a @ b.T).numpy()
    perms = {d: zs_stats.permutation_scores(sim, u.audio_labels, u.image_labels, unseen, d)[0]
             for d in ("q2g", "g2q", "both")}
    return GroupRun(group, seed, control, res.metrics, res.best_epoch, perms["q2g"].tolist(),
                    perms["g2q"].tolist(), perms["both"].tolist())


def arbitrary_pairing(seed: int) -> np.ndarray:
    """A fixed derangement sigma of the 26 letters (sigma[c] != c): neural letter c is paired
    with the images of letter sigma[c]."""
    rng = np.random.default_rng(seed)
    while True:
        s = rng.permutation(26)
        if np.all(s != np.arange(26)):
            return s


# ---------------------------------------------------------------------------- results


@dataclass
class Stat:
    """A metric: mean and std over seeds (each seed averaged over groups), per seed, per group
    (each group averaged over seeds)."""

    mean: float
    std: float
    per_seed: list[float]
    per_group: dict[str, float]

    @classmethod
    def of(cls, table: dict[tuple[str, int], float]) -> Stat:
        groups = sorted({g for g, _ in table})
        seeds = sorted({s for _, s in table})
        per_seed = [float(np.mean([table[(g, s)] for g in groups])) for s in seeds]
        per_group = {g: float(np.mean([table[(g, s)] for s in seeds])) for g in groups}
        return cls(float(np.mean(per_seed)), float(np.std(per_seed)), per_seed, per_group)


@dataclass
class SplitScores:
    n2i_top1: Stat
    i2n_top1: Stat


@dataclass
class UnseenScores(SplitScores):
    permutation_p: float  # n2i, combined over groups (exact rank-sum test)
    permutation_p_both: float  # both directions scored together
    permutation: dict  # zs_stats.PermutationSummary (n2i) as a dict
    group_test: dict  # zs_stats.GroupTest of the n2i per-group means vs chance


@dataclass
class SourceScores:
    seen: SplitScores
    unseen: UnseenScores
    best_epoch: float


@dataclass
class BmiResults:
    config: dict
    chance: dict
    zero_shot: dict[str, SourceScores]
    zero_shot_paper: dict[str, SourceScores]
    zero_shot_control: dict[str, SourceScores]
    probes: dict[str, dict[str, float]]
    encoders: list[EncoderReport]
    data: dict
    verdict: dict[str, str]
    seconds: float
    schema: str = "rram-lsm/bmi-metrics/1"
    runs: list[GroupRun] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("runs")
        return d


def summarise(runs: list[GroupRun], protocol: str) -> SourceScores:
    def table(key):
        return {(r.group, r.seed): r.metrics[protocol][key] for r in runs}

    seen = SplitScores(Stat.of(table("seen_a2i_top1")), Stat.of(table("seen_i2a_top1")))
    by_group: dict[str, list] = {}
    by_group_both: dict[str, list] = {}
    for r in runs:
        by_group.setdefault(r.group, []).append(np.asarray(r.perm_n2i))
        by_group_both.setdefault(r.group, []).append(np.asarray(r.perm_both))
    perm = zs_stats.summarise_permutations(by_group)
    perm_both = zs_stats.summarise_permutations(by_group_both)
    n2i = Stat.of(table("unseen_a2i_top1"))
    unseen = UnseenScores(n2i, Stat.of(table("unseen_i2a_top1")), perm.combined_p,
                          perm_both.combined_p, perm.to_dict(),
                          zs_stats.group_test(list(n2i.per_group.values()), CHANCE_UNSEEN).to_dict())
    return SourceScores(seen, unseen, float(np.mean([r.best_epoch[protocol] for r in runs])))


def verdict(s: SourceScores, control: SourceScores | None) -> str:
    u = s.unseen
    gt = u.group_test
    shown = u.permutation_p < 0.05 and gt["t_p"] < 0.05 and u.n2i_top1.mean > CHANCE_UNSEEN
    words = (f"unseen neural->image top-1 {100 * u.n2i_top1.mean:.1f} % over "
             f"{gt['n_groups']} held-out groups (chance 25 %); group-level one-sided t-test "
             f"p = {gt['t_p']:.3g}, Wilcoxon p = {gt['wilcoxon_p']:.3g}; permutation p "
             f"(rank-sum over groups) = {u.permutation_p:.3g}")
    if control is not None:
        words += (f"; arbitrary-pairing control {100 * control.unseen.n2i_top1.mean:.1f} % "
                  f"(permutation p = {control.unseen.permutation_p:.3g})")
    if shown:
        return ("Transfer is shown: " + words + ". The true letter assignment beats the other 23 "
                "assignments of the held-out letters more often than chance allows, so the heads "
                "learnt a relation (pen movement <-> letter shape) that carries to unseen letters.")
    return ("Transfer is NOT shown: " + words + ". Against the permutation null and with groups "
            "as the unit, the score cannot be told from chance.")


# ---------------------------------------------------------------------------- entry point


def run_bmi_experiment(cfg: BmiConfig | str | os.PathLike | None, out_dir: str | os.PathLike,
                       data_root: str | os.PathLike = "data_cache", force: bool = False,
                       quiet: bool = False) -> BmiResults:
    """Run the BMI zero-shot experiment; writes ``metrics.json``, ``report.md`` and figures
    into ``out_dir``."""
    t0 = time.perf_counter()
    if not isinstance(cfg, BmiConfig):
        cfg = load_bmi_config(cfg)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        refuse_overwrite(out, force)  # a non-empty run folder needs force

    def say(msg: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    data = load_bmi_data(cfg, data_root)
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are there (nothing half-made)
    say(f"data: {data.info['n_neural']} neural trials, {data.info['n_images']} images")
    frames_n = data.neural
    frames_i = {s: rate_code(data.images[s], cfg.encoder.image_steps, cfg.encoder.image_rate_scale,
                             cfg.encoder.seed + (0 if s == "train" else 1)) for s in ("train", "test")}
    sigma = arbitrary_pairing(cfg.control_seed)
    inv = np.argsort(sigma)  # image letter d stands for neural letter sigma^-1(d)
    ctrl_labels = {s: inv[data.images_y[s]] for s in ("train", "test")}
    zs, paper, ctrl, probes, encs, all_runs = {}, {}, {}, {}, [], []
    for source in cfg.sources:
        fn, rn = encode_modality(cfg, "neural", source, frames_n)
        fi, ri = encode_modality(cfg, "image", source, frames_i)
        encs += [rn, ri]
        say(f"{source}: encoded (neural const {rn.const:.4g} rate {rn.mean_rate:.3f}, image const "
            f"{ri.const:.4g} rate {ri.mean_rate:.3f})")
        if cfg.probes:
            from rram_lsm.heads.probe import linear_probe

            probes[source] = {
                m: linear_probe(f["train"], y["train"], f["test"], y["test"], pca=200).accuracy
                for m, f, y in (("neural", fn, data.neural_y), ("image", fi, data.images_y))}
            say(f"{source}: 26-way probes {probes[source]}")
        runs, cruns = [], []
        for group in cfg.groups:
            for seed in range(cfg.seeds):
                runs.append(run_group(cfg, fn, fi, data, data.images_y, group, seed, False))
                if cfg.control:
                    cruns.append(run_group(cfg, fn, fi, data, ctrl_labels, group, seed, True))
            say(f"{source}: group {group}: unseen n2i "
                f"{np.mean([r.metrics['validation']['unseen_a2i_top1'] for r in runs[-cfg.seeds:]]):.3f}")
        zs[source] = summarise(runs, "validation")
        paper[source] = summarise(runs, "paper")
        if cruns:
            ctrl[source] = summarise(cruns, "validation")
        all_runs += runs + cruns
    results = BmiResults(
        config=cfg.model_dump(mode="json"), chance={"unseen": CHANCE_UNSEEN, "seen": 1 / 22},
        zero_shot=zs, zero_shot_paper=paper, zero_shot_control=ctrl, probes=probes,
        encoders=encs, data=data.info,
        verdict={s: verdict(zs[s], ctrl.get(s)) for s in zs}, seconds=time.perf_counter() - t0,
        runs=all_runs)
    from rram_lsm.experiments.bmi_report import figure, report_text

    figs = figure(results, out)
    atomic_write_json(out / "metrics.json", results.to_dict())
    atomic_write_json(out / "runs.json", [asdict(r) for r in all_runs])
    atomic_write_text(out / "report.md", report_text(results, figs))
    say(f"done in {results.seconds:.0f} s -> {out}")
    return results
