"""Typed results of `run_experiment` and their `metrics.json` form.

`ExperimentResults.to_dict()` is exactly what ``metrics.json`` holds (plus ``schema_version``);
`ExperimentResults.from_dict` / `load` read it back and raise `ResultsError` (a bad-input error)
on a missing, unknown or mistyped key, so a renamed key fails loudly instead of reading as absent.

Units: retrieval and accuracy values are fractions in [0, 1]; ``*_s`` seconds; ``*_j`` joules;
``*_macs`` multiply-accumulate operations. Every `Summary` is over seeds (population std).

This module imports nothing of the pipeline (heads, LSM, data), so reading a saved run is cheap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rram_lsm.experiments.costs import InferenceEnergy, PaperCosts, TrainingCosts
from rram_lsm.experiments.schema import ResultsError, fields, mapping, num, text, whole
from rram_lsm.io import atomic_write_json

SCHEMA_VERSION = 1

__all__ = [
    "SCHEMA_VERSION", "BaselineRetrieval", "Baselines", "Chance", "Costs", "DataInfo",
    "ExperimentResults", "LSMDiagnostics", "ModalityProbes", "PairRun", "PairedSummary",
    "ProbeResult", "ResultsError", "RetrievalBaseline", "SplitRetrieval", "Summary", "Timings",
    "ZeroShotEntry", "ZeroShotResults",
]


# --- summaries -----------------------------------------------------------------------------------

@dataclass
class Summary:
    """One metric over seeds: mean, population std and the value of every seed (same unit)."""

    mean: float
    std: float
    per_seed: list[float]

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        """Summary of ``values`` (NaN mean and std when there are none)."""
        v = np.asarray(list(values), dtype=float)
        return cls(mean=float(v.mean()) if v.size else float("nan"),
                   std=float(v.std()) if v.size else float("nan"),
                   per_seed=[float(x) for x in v])

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "per_seed": list(self.per_seed)}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Summary:
        fields(d, where, ("mean", "std", "per_seed"))
        return cls(**_summary_args(d, where))


def _summary_args(d: Mapping, where: str) -> dict:
    if not isinstance(d["per_seed"], list):
        raise ResultsError(f"{where}.per_seed: expected a list")
    return {"mean": num(d["mean"], f"{where}.mean"), "std": num(d["std"], f"{where}.std"),
            "per_seed": [num(x, f"{where}.per_seed") for x in d["per_seed"]]}


@dataclass
class PairedSummary(Summary):
    """A `Summary` over seeds (each seed: mean over held-out pairs) plus one per pair."""

    per_pair: dict[str, Summary] = field(default_factory=dict)  # "a/b" -> summary over seeds

    def to_dict(self) -> dict:
        return {**super().to_dict(), "per_pair": {k: s.to_dict() for k, s in self.per_pair.items()}}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> PairedSummary:
        fields(d, where, ("mean", "std", "per_seed", "per_pair"))
        pp = mapping(d["per_pair"], f"{where}.per_pair")
        return cls(**_summary_args(d, where),
                   per_pair={k: Summary.from_dict(v, f"{where}.per_pair.{k}") for k, v in pp.items()})


# --- zero-shot retrieval -------------------------------------------------------------------------

@dataclass
class Chance:
    """Chance top-1 retrieval of the seen and the unseen (held-out) test pairs (fractions)."""

    seen: float
    unseen: float

    def to_dict(self) -> dict:
        return {"seen": self.seen, "unseen": self.unseen}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Chance:
        fields(d, where, ("seen", "unseen"))
        return cls(seen=num(d["seen"], f"{where}.seen"), unseen=num(d["unseen"], f"{where}.unseen"))


@dataclass
class SplitRetrieval:
    """Top-k retrieval of one test split: audio query -> image (a2i) and image -> audio (i2a).

    Seen splits hold `Summary` values, the unseen split `PairedSummary` values.
    """

    METRICS: ClassVar[tuple[str, ...]] = ("a2i_top1", "i2a_top1", "a2i_top5", "i2a_top5")
    a2i_top1: Summary
    i2a_top1: Summary
    a2i_top5: Summary
    i2a_top5: Summary

    # zero-shot statistics of the unseen split (optional within schema_version 1; validation
    # protocol only): see `rram_lsm.experiments.zs_stats`
    permutation_p: float | None = None  # a2i, combined over held-out pairs (exact rank-sum test)
    permutation_p_both: float | None = None  # both directions scored together
    permutation: dict | None = None  # zs_stats.PermutationSummary (a2i) as a dict
    group_test: dict | None = None  # zs_stats.GroupTest of the a2i per-pair means vs chance

    STATS: ClassVar[tuple[str, ...]] = ("permutation_p", "permutation_p_both", "permutation",
                                        "group_test")

    def to_dict(self) -> dict:
        out = {k: getattr(self, k).to_dict() for k in self.METRICS}
        out.update({k: getattr(self, k) for k in self.STATS if getattr(self, k) is not None})
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str, kind: type[Summary] = Summary) -> SplitRetrieval:
        fields(d, where, cls.METRICS, cls.STATS)
        stats: dict = {}
        for k in ("permutation_p", "permutation_p_both"):
            if k in d:
                stats[k] = num(d[k], f"{where}.{k}")
        for k in ("permutation", "group_test"):
            if k in d:
                stats[k] = dict(mapping(d[k], f"{where}.{k}"))
        return cls(**{k: kind.from_dict(d[k], f"{where}.{k}") for k in cls.METRICS}, **stats)


@dataclass
class ZeroShotEntry:
    """Zero-shot retrieval of one (protocol, feature mode, weight source)."""

    seen: SplitRetrieval  # the seen classes' test pairs
    unseen: SplitRetrieval  # the held-out pair's test pairs (PairedSummary values)
    best_epoch: Summary  # kept epoch of every (pair, seed) head training (per_seed: one per run)

    def to_dict(self) -> dict:
        return {"seen": self.seen.to_dict(), "unseen": self.unseen.to_dict(),
                "best_epoch": self.best_epoch.to_dict()}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> ZeroShotEntry:
        fields(d, where, ("seen", "unseen", "best_epoch"))
        return cls(seen=SplitRetrieval.from_dict(d["seen"], f"{where}.seen"),
                   unseen=SplitRetrieval.from_dict(d["unseen"], f"{where}.unseen", PairedSummary),
                   best_epoch=Summary.from_dict(d["best_epoch"], f"{where}.best_epoch"))


ZeroShotTable = dict[str, dict[str, ZeroShotEntry]]  # feature mode -> weight source -> entry


def _table_to_dict(t: ZeroShotTable) -> dict:
    return {mode: {src: e.to_dict() for src, e in by_src.items()} for mode, by_src in t.items()}


def _table_from_dict(d: Any, where: str) -> ZeroShotTable:
    return {mode: {src: ZeroShotEntry.from_dict(e, f"{where}.{mode}.{src}")
                   for src, e in mapping(by_src, f"{where}.{mode}").items()}
            for mode, by_src in mapping(d, where).items()}


@dataclass
class ZeroShotResults:
    """Everything of the zero-shot experiment; in metrics.json these are seven top-level keys."""

    by_features: ZeroShotTable  # "zero_shot_by_features": validation protocol (headline)
    paper_by_features: ZeroShotTable  # "zero_shot_paper_protocol_by_features": epoch chosen on test
    headline_features: str  # "zero_shot_headline_features": the first feature mode
    chance: Chance  # "chance"
    held_out_pairs: list[tuple[int, int]]  # "held_out_pairs"
    # "zero_shot_control" (optional): the arbitrary-pairing control, validation protocol,
    # headline features, per weight source
    control: dict[str, ZeroShotEntry] | None = None

    OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("zero_shot_control",)
    KEYS: ClassVar[tuple[str, ...]] = (
        "zero_shot_by_features", "zero_shot_paper_protocol_by_features", "zero_shot",
        "zero_shot_paper_protocol", "zero_shot_headline_features", "chance", "held_out_pairs")

    @property
    def headline(self) -> dict[str, ZeroShotEntry]:
        """Validation protocol, headline features, per weight source ("zero_shot")."""
        return self.by_features.get(self.headline_features, {})

    @property
    def paper_headline(self) -> dict[str, ZeroShotEntry]:
        """Paper protocol, headline features, per weight source ("zero_shot_paper_protocol")."""
        return self.paper_by_features.get(self.headline_features, {})

    @property
    def pair_names(self) -> list[str]:
        """The held-out pairs as the ``per_pair`` keys ("a/b")."""
        return [f"{a}/{b}" for a, b in self.held_out_pairs]

    def to_dict(self) -> dict:
        """The seven top-level metrics.json keys."""
        return {"zero_shot_by_features": _table_to_dict(self.by_features),
                "zero_shot_paper_protocol_by_features": _table_to_dict(self.paper_by_features),
                "zero_shot": {s: e.to_dict() for s, e in self.headline.items()},
                "zero_shot_paper_protocol": {s: e.to_dict() for s, e in self.paper_headline.items()},
                "zero_shot_headline_features": self.headline_features,
                "chance": self.chance.to_dict(),
                "held_out_pairs": [list(p) for p in self.held_out_pairs],
                **({} if self.control is None else
                   {"zero_shot_control": {s: e.to_dict() for s, e in self.control.items()}})}

    @classmethod
    def from_dict(cls, d: Mapping, where: str) -> ZeroShotResults:
        """From the top-level metrics dict (its zero-shot keys; all must be there)."""
        missing = [k for k in cls.KEYS if k not in d]
        if missing:
            raise ResultsError(f"{where}: missing key(s) {missing} (renamed or removed?)")
        out = cls(by_features=_table_from_dict(d["zero_shot_by_features"],
                                               f"{where}: zero_shot_by_features"),
                  paper_by_features=_table_from_dict(d["zero_shot_paper_protocol_by_features"],
                                                     f"{where}: zero_shot_paper_protocol_by_features"),
                  headline_features=text(d["zero_shot_headline_features"],
                                         f"{where}: zero_shot_headline_features"),
                  chance=Chance.from_dict(d["chance"], f"{where}: chance"),
                  held_out_pairs=_pairs(d["held_out_pairs"], f"{where}: held_out_pairs"))
        if "zero_shot_control" in d:
            out.control = {s: ZeroShotEntry.from_dict(e, f"{where}: zero_shot_control.{s}")
                           for s, e in mapping(d["zero_shot_control"],
                                               f"{where}: zero_shot_control").items()}
        # the headline blocks repeat part of the tables: they must agree
        for key, derived in (("zero_shot", out.headline), ("zero_shot_paper_protocol",
                                                           out.paper_headline)):
            stored = {s: ZeroShotEntry.from_dict(e, f"{where}: {key}.{s}")
                      for s, e in mapping(d[key], f"{where}: {key}").items()}
            if stored != derived:
                raise ResultsError(f"{where}: {key} disagrees with its *_by_features table")
        return out


def _pairs(v: Any, where: str) -> list[tuple[int, int]]:
    if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
        raise ResultsError(f"{where}: expected a list of [a, b] class pairs")
    return [(whole(a, where), whole(b, where)) for a, b in v]


@dataclass
class PairRun:
    """One head training for one held-out pair and seed (one row of ``zero_shot_runs.json``)."""

    pair: tuple[int, int]
    seed: int
    best_epoch: dict[str, int]  # protocol ("validation", "paper") -> kept epoch
    metrics: dict[str, dict[str, float]]  # protocol -> {"epoch", "<set>_<a2i|i2a>_top<k>": fraction}
    history: list[dict]  # per epoch (0 = untrained): "epoch", "loss" (None at 0), val_*/seen_*/unseen_*
    chance: Chance
    source: str | None = None  # weight source of the features (set by the runner)
    mode: str | None = None  # feature mode (set by the runner)
    # unseen top-1 of the validation-selected heads under every assignment of the two unseen
    # gallery classes (identity first): "a2i", "i2a", "both" -> [n_assignments] fractions
    permutation: dict[str, list[float]] | None = None
    control: bool = False  # True: a run of the arbitrary-pairing control
    # in memory only, never written: the validation-selected heads (a `TrainResult`) when the
    # trainer was asked to keep them (the run's figures embed test samples with them)
    heads: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = {"pair": list(self.pair), "seed": self.seed, "best_epoch": dict(self.best_epoch),
               "metrics": self.metrics, "history": self.history, "chance": self.chance.to_dict()}
        if self.permutation is not None:
            out["permutation"] = {k: list(v) for k, v in self.permutation.items()}
        if self.control:
            out["control"] = True
        if self.source is not None:
            out["source"] = self.source
        if self.mode is not None:
            out["mode"] = self.mode
        return out


# --- classification, baselines, encoders ------------------------------------------------------

@dataclass
class ProbeResult:
    """A linear probe's test accuracy (fraction); ``seeds`` for probes on LSM features."""

    accuracy: float  # mean over seeds for LSM features
    val_accuracy: float  # validation accuracy at the chosen regularisation (mean over seeds)
    features: str  # feature mode ("rate", "windows") or a description of the raw input
    seeds: Summary | None = None  # accuracy over seeds (None: one deterministic raw-input probe)

    def to_dict(self) -> dict:
        head = self.seeds.to_dict() if self.seeds is not None else {}
        return {**head, "accuracy": self.accuracy, "val_accuracy": self.val_accuracy,
                "features": self.features}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> ProbeResult:
        seeded = isinstance(d, dict) and "per_seed" in d
        fields(d, where, ("accuracy", "val_accuracy", "features")
               + (("mean", "std", "per_seed") if seeded else ()))
        return cls(accuracy=num(d["accuracy"], f"{where}.accuracy"),
                   val_accuracy=num(d["val_accuracy"], f"{where}.val_accuracy"),
                   features=text(d["features"], f"{where}.features"),
                   seeds=Summary(**_summary_args(d, where)) if seeded else None)


@dataclass
class ModalityProbes:
    """Linear probes of one modality: key (source, "<source>_<mode>", "raw", ...) -> result."""

    probes: dict[str, ProbeResult]
    chance: float  # 1 / number of classes

    def to_dict(self) -> dict:
        return {**{k: r.to_dict() for k, r in self.probes.items()}, "chance": self.chance}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> ModalityProbes:
        fields(d, where, ("chance",), open_=True)
        return cls(probes={k: ProbeResult.from_dict(v, f"{where}.{k}")
                           for k, v in d.items() if k != "chance"},
                   chance=num(d["chance"], f"{where}.chance"))


@dataclass
class BaselineRetrieval:
    """Top-1 retrieval of a baseline under one protocol (summaries over seeds, fractions)."""

    METRICS: ClassVar[tuple[str, ...]] = ("seen_a2i_top1", "seen_i2a_top1", "unseen_a2i_top1",
                                          "unseen_i2a_top1")
    seen_a2i_top1: Summary
    seen_i2a_top1: Summary
    unseen_a2i_top1: Summary
    unseen_i2a_top1: Summary

    def to_dict(self) -> dict:
        return {k: getattr(self, k).to_dict() for k in self.METRICS}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> BaselineRetrieval:
        fields(d, where, cls.METRICS)
        return cls(**{k: Summary.from_dict(d[k], f"{where}.{k}") for k in cls.METRICS})


@dataclass
class RetrievalBaseline:
    """A retrieval baseline on the first held-out pair (LSM-ProtoNet, SRNN-CLIP)."""

    pair: tuple[int, int]
    features_source: str  # weight source of the features, or "trainable"
    features: str  # feature mode
    validation: BaselineRetrieval
    paper: BaselineRetrieval
    epochs: int | None = None  # SRNN-CLIP only
    note: str | None = None  # SRNN-CLIP only

    def to_dict(self) -> dict:
        out = {"pair": list(self.pair), "features_source": self.features_source,
               "features": self.features, "validation": self.validation.to_dict(),
               "paper": self.paper.to_dict()}
        if self.epochs is not None:
            out["epochs"] = self.epochs
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str) -> RetrievalBaseline:
        fields(d, where, ("pair", "features_source", "features", "validation", "paper"),
               ("epochs", "note"))
        return cls(pair=_pairs([d["pair"]], f"{where}.pair")[0],
                   features_source=text(d["features_source"], f"{where}.features_source"),
                   features=text(d["features"], f"{where}.features"),
                   validation=BaselineRetrieval.from_dict(d["validation"], f"{where}.validation"),
                   paper=BaselineRetrieval.from_dict(d["paper"], f"{where}.paper"),
                   epochs=whole(d["epochs"], f"{where}.epochs") if "epochs" in d else None,
                   note=text(d["note"], f"{where}.note") if "note" in d else None)


@dataclass
class Baselines:
    """The baselines that ran (None: disabled)."""

    lsm_protonet: RetrievalBaseline | None = None
    srnn_clip: RetrievalBaseline | None = None
    rnn_classifier: dict[str, Summary] | None = None  # modality -> test accuracy over seeds

    @property
    def empty(self) -> bool:
        return self.lsm_protonet is None and self.srnn_clip is None and self.rnn_classifier is None

    def to_dict(self) -> dict:
        out: dict = {}
        for name in ("lsm_protonet", "srnn_clip"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name).to_dict()
        if self.rnn_classifier is not None:
            out["rnn_classifier"] = {m: s.to_dict() for m, s in self.rnn_classifier.items()}
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Baselines:
        fields(d, where, (), ("lsm_protonet", "srnn_clip", "rnn_classifier"))
        rnn = d.get("rnn_classifier")
        return cls(**{k: RetrievalBaseline.from_dict(d[k], f"{where}.{k}")
                      for k in ("lsm_protonet", "srnn_clip") if k in d},
                   rnn_classifier=None if rnn is None else {
                       m: Summary.from_dict(s, f"{where}.rnn_classifier.{m}")
                       for m, s in mapping(rnn, f"{where}.rnn_classifier").items()})


@dataclass
class Costs:
    """Training cost (MACs) and inference energy (J) of LSM + heads against the references."""

    training: TrainingCosts
    energy: InferenceEnergy | None  # None when no RRAM weight source ran
    paper: PaperCosts = field(default_factory=PaperCosts)

    @property
    def training_ratio(self) -> float:
        return self.training.training_ratio

    @property
    def energy_ratio(self) -> float | None:
        return self.energy.energy_ratio if self.energy is not None else None

    def to_dict(self) -> dict:
        return {"training": self.training.to_dict(), "training_ratio": self.training_ratio,
                "energy": self.energy.to_dict() if self.energy is not None else None,
                "energy_ratio": self.energy_ratio, "paper": self.paper.to_dict()}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Costs:
        fields(d, where, ("training", "training_ratio", "energy", "energy_ratio", "paper"))
        return cls(training=TrainingCosts.from_dict(d["training"], f"{where}.training"),
                   energy=None if d["energy"] is None else
                   InferenceEnergy.from_dict(d["energy"], f"{where}.energy"),
                   paper=PaperCosts.from_dict(d["paper"], f"{where}.paper"))


@dataclass
class LSMDiagnostics:
    """An encoder's firing statistics on the training split and its energy, mean over seeds."""

    firing: dict[str, float]  # mean_rate (spikes / neuron / step), silent_fraction, ...
    energy_per_sample_j: float  # macro ledger energy per encoded sample (0 for Gaussian weights)

    def to_dict(self) -> dict:
        return {"firing": dict(self.firing), "energy_per_sample_j": self.energy_per_sample_j}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> LSMDiagnostics:
        fields(d, where, ("firing", "energy_per_sample_j"))
        firing = mapping(d["firing"], f"{where}.firing")
        return cls(firing={k: num(v, f"{where}.firing.{k}") for k, v in firing.items()},
                   energy_per_sample_j=num(d["energy_per_sample_j"], f"{where}.energy_per_sample_j"))


@dataclass
class DataInfo:
    """One modality's dataset: name, label map and sample counts."""

    dataset: str
    label_map: str
    train: int
    test: int

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "label_map": self.label_map, "train": self.train,
                "test": self.test}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> DataInfo:
        fields(d, where, ("dataset", "label_map", "train", "test"))
        return cls(dataset=text(d["dataset"], f"{where}.dataset"),
                   label_map=text(d["label_map"], f"{where}.label_map"),
                   train=whole(d["train"], f"{where}.train"), test=whole(d["test"], f"{where}.test"))


@dataclass
class Timings:
    """Wall-clock seconds of each stage (None: the stage did not run). Fields after
    ``encode_cache_hits`` are optional in metrics.json (added within schema_version 1)."""

    data_s: float
    encode_s: float
    baselines_s: float
    figures_s: float
    zero_shot_s: float | None = None
    classify_s: float | None = None
    encode_cache_hits: int = 0  # splits read from the feature cache (4 per (seed, source))
    zero_shot_trainings: int | None = None  # head trainings of the zero-shot grid
    zero_shot_epochs: int | None = None  # epochs they ran in total (early stopping ends them)
    protonet_s: float | None = None  # part of baselines_s
    srnn_clip_s: float | None = None  # part of baselines_s
    rnn_classifier_s: float | None = None  # part of baselines_s
    costs_s: float | None = None

    _ORDER: ClassVar[tuple[str, ...]] = ("data_s", "encode_s", "encode_cache_hits", "zero_shot_s",
                                         "zero_shot_trainings", "zero_shot_epochs", "classify_s",
                                         "baselines_s", "protonet_s", "srnn_clip_s",
                                         "rnn_classifier_s", "costs_s", "figures_s")
    _COUNTS: ClassVar[tuple[str, ...]] = ("encode_cache_hits", "zero_shot_trainings",
                                          "zero_shot_epochs")
    _STAGES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("data_s", "data"), ("encode_s", "LSM encodings"), ("zero_shot_s", "head trainings"),
        ("classify_s", "linear probes"), ("baselines_s", "baselines"),
        ("costs_s", "costs"), ("figures_s", "figures"))

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self._ORDER if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Timings:
        fields(d, where, ("data_s", "encode_s", "baselines_s", "figures_s"),
               tuple(k for k in cls._ORDER
                     if k not in ("data_s", "encode_s", "baselines_s", "figures_s")))
        out = {k: (whole if k in cls._COUNTS else num)(v, f"{where}.{k}") for k, v in d.items()}
        return cls(**out)

    def table(self, runtime_s: float | None = None) -> str:
        """The stage timings as a small text table (seconds and share of the run)."""
        total = runtime_s if runtime_s else sum(getattr(self, k) or 0.0 for k, _ in self._STAGES)
        lines = ["stage timings:", f"  {'stage':<16} {'s':>8} {'%':>6}"]
        for key, name in self._STAGES:
            v = getattr(self, key)
            if v is not None:
                lines.append(f"  {name:<16} {v:8.1f} {100 * v / total:6.1f}")
        lines.append(f"  {'total':<16} {total:8.1f}")
        return "\n".join(lines)


# --- the whole run ---------------------------------------------------------------------------------

@dataclass
class ExperimentResults:
    """What `run_experiment` returns and ``metrics.json`` holds."""

    runtime_s: float  # wall clock of the whole run
    timings: Timings
    data: dict[str, DataInfo]  # modality ("image", "audio") -> dataset
    builtin_data: bool  # True: the built-in stand-in data (not the paper's datasets)
    lsm: dict[str, dict[str, LSMDiagnostics]]  # weight source -> modality -> diagnostics
    baselines: Baselines
    costs: Costs
    zero_shot: ZeroShotResults | None = None  # None: zero-shot disabled
    classify: dict[str, ModalityProbes] | None = None  # modality -> probes; None: disabled

    schema_version: ClassVar[int] = SCHEMA_VERSION
    _REQUIRED: ClassVar[tuple[str, ...]] = ("schema_version", "runtime_s", "timings", "data",
                                            "builtin_data", "lsm", "baselines", "costs")

    def to_dict(self) -> dict:
        """The metrics.json object (NaN stays NaN; absent blocks are left out)."""
        out: dict = {"schema_version": self.schema_version, "runtime_s": self.runtime_s,
                     "timings": self.timings.to_dict(),
                     "data": {m: i.to_dict() for m, i in self.data.items()},
                     "builtin_data": self.builtin_data,
                     "lsm": {src: {m: x.to_dict() for m, x in by_mod.items()}
                             for src, by_mod in self.lsm.items()}}
        if self.zero_shot is not None:
            out.update(self.zero_shot.to_dict())
        if self.classify is not None:
            out["classify"] = {m: p.to_dict() for m, p in self.classify.items()}
        out["baselines"] = self.baselines.to_dict()
        out["costs"] = self.costs.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str = "metrics") -> ExperimentResults:
        """Read a metrics.json object back; `ResultsError` names any missing / unknown key."""
        if not isinstance(d, dict):
            raise ResultsError(f"{where}: expected a JSON object, got {type(d).__name__}")
        version = d.get("schema_version")
        if version is None:
            raise ResultsError(f"{where}: no schema_version (written by an older rram-lsm); "
                               f"this version reads schema_version {SCHEMA_VERSION}")
        if version != SCHEMA_VERSION:
            raise ResultsError(f"{where}: schema_version {version!r} is not supported; this "
                               f"version reads schema_version {SCHEMA_VERSION}")
        zs_present = [k for k in ZeroShotResults.KEYS if k in d]
        if zs_present:  # the zero-shot keys come all together: name a missing one first
            fields(d, where, ZeroShotResults.KEYS, open_=True)
        fields(d, where, cls._REQUIRED,
               ("classify",) + ZeroShotResults.KEYS + ZeroShotResults.OPTIONAL_KEYS)
        return cls(
            runtime_s=num(d["runtime_s"], f"{where}: runtime_s"),
            timings=Timings.from_dict(d["timings"], f"{where}: timings"),
            data={m: DataInfo.from_dict(v, f"{where}: data.{m}")
                  for m, v in mapping(d["data"], f"{where}: data").items()},
            builtin_data=_bool(d["builtin_data"], f"{where}: builtin_data"),
            lsm={src: {m: LSMDiagnostics.from_dict(x, f"{where}: lsm.{src}.{m}")
                       for m, x in mapping(by_mod, f"{where}: lsm.{src}").items()}
                 for src, by_mod in mapping(d["lsm"], f"{where}: lsm").items()},
            baselines=Baselines.from_dict(d["baselines"], f"{where}: baselines"),
            costs=Costs.from_dict(d["costs"], f"{where}: costs"),
            zero_shot=ZeroShotResults.from_dict(d, where) if zs_present else None,
            classify=None if "classify" not in d else {
                m: ModalityProbes.from_dict(p, f"{where}: classify.{m}")
                for m, p in mapping(d["classify"], f"{where}: classify").items()})

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``metrics.json`` (sorted keys, indented; atomic)."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExperimentResults:
        """Read a run's ``metrics.json`` (or a run folder holding one)."""
        p = Path(path)
        if p.is_dir():
            p = p / "metrics.json"
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultsError(f"{p}: not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResultsError(f"{p}: not a readable metrics.json ({exc})") from None
        return cls.from_dict(d, str(p))


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ResultsError(f"{where}: expected true or false, got {v!r}")
    return v

