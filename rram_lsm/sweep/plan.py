"""The sweep plan: every trial's resolved and validated experiment config, keyed by its hash.

A trial is one point of the axes (grid product or random draw) on one die. All trials are
validated before any runs, so that a bad axis value ends the sweep at once, naming the axis.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crossbar.errors import InputError
from crossbar.fsio import atomic_write_text
from rram_lsm.errors import ConfigError
from rram_lsm.experiments.config import ExperimentConfig, experiment_config_from_dict
from rram_lsm.sweep.spec import PRESET_PREFIX, SweepSpec

DIE_COLUMN = "die"


@dataclass
class Trial:
    """One trial: axis values (``params``: axis key -> value), its die and its config."""

    key: str  # hash of the resolved config (16 hex digits)
    params: dict[str, Any]
    die: int
    config: dict  # the validated `ExperimentConfig` as a JSON-able mapping
    overrides: list[str] = field(default_factory=list)  # dotted key=value applied to the base

    def experiment_config(self) -> ExperimentConfig:
        return ExperimentConfig.model_validate(self.config)


def base_config_dict(spec: SweepSpec) -> tuple[dict, str]:
    """The base experiment config mapping and its name for errors."""
    if spec.base is None:
        from rram_lsm.experiments.runner import default_config_path

        path = default_config_path()
        if path is None:
            return {}, "<default>"
        return yaml.safe_load(Path(path).read_text()) or {}, str(path)
    if isinstance(spec.base, dict):
        return copy.deepcopy(spec.base), "<sweep base>"
    from crossbar.validation import read_yaml_mapping

    return read_yaml_mapping(Path(spec.base), ConfigError, "base config"), spec.base


def _points(spec: SweepSpec) -> list[dict[str, Any]]:
    keys = list(spec.axes)
    if spec.mode == "grid":
        return [dict(zip(keys, combo)) for combo in itertools.product(*(spec.axes[k] for k in keys))]
    rng = np.random.default_rng(spec.seed)
    out = []
    for _ in range(spec.n or 0):
        point = {}
        for k in keys:
            ax = spec.axes[k]
            if isinstance(ax, list):
                point[k] = ax[int(rng.integers(len(ax)))]
            elif ax["distribution"] == "uniform":
                point[k] = float(rng.uniform(ax["low"], ax["high"]))
            elif ax["distribution"] == "loguniform":
                point[k] = float(np.exp(rng.uniform(np.log(ax["low"]), np.log(ax["high"]))))
            elif ax["distribution"] == "normal":
                point[k] = float(rng.normal(ax["mean"], ax["std"]))
            else:  # randint, both ends included
                point[k] = int(rng.integers(int(ax["low"]), int(ax["high"]) + 1))
        out.append(point)
    return out


def _yaml_value(v: Any) -> str:
    return json.dumps(v)  # JSON is YAML: the --set parser reads it back exactly


def derived_preset(base_name: str, values: dict[str, Any], folder: Path) -> Path:
    """Write ``load_preset(base_name).with_overrides(...)`` as a preset YAML into ``folder``
    (file named by the content's hash, so equal presets share one file) and return its path."""
    from crossbar.spec import load_preset

    sections: dict[str, dict] = {}
    for dotted, v in values.items():
        section, key = dotted[len(PRESET_PREFIX):].split(".")
        sections.setdefault(section, {})[key] = v
    spec = load_preset(base_name).with_overrides(**sections)
    text = yaml.safe_dump(preset_to_yaml_dict(spec), sort_keys=False)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = folder / f"{spec.name}-{digest}.yaml"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path


def preset_to_yaml_dict(spec) -> dict:
    """A `MacroSpec` as a preset mapping with sourced leaves (what `spec_from_dict` reads)."""
    data = spec.model_dump(mode="json")
    prov = data.pop("provenance", {}) or {}

    def wrap(node: Any, path: str) -> Any:
        if isinstance(node, dict) and f"{path}" not in prov:
            return {k: wrap(v, f"{path}.{k}") for k, v in node.items()}
        text = prov.get(path, "assumption: sweep")
        label, _, why = text.partition(": ")
        if label not in ("source", "assumption") or label == "assumption" and text.endswith(
                "override"):
            label, why = "assumption", "set by the sweep"
        if path in prov and prov[path] == "override":
            label, why = "assumption", "set by the sweep"
        return {"value": node, label: why or "set by the sweep"}

    out: dict = {}
    for k, v in data.items():
        out[k] = v if k in ("name", "description") else wrap(v, k)
    return out


def config_hash(cfg: dict, root: Path | None = None) -> str:
    """16 hex digits of the SHA-256 of the config's JSON (derived preset paths relative to the
    sweep folder, so a moved folder keeps its keys)."""
    text = json.dumps(cfg, sort_keys=True)
    if root is not None:
        text = text.replace(str(root), "<sweep>")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _axis_overrides(key: str, value: Any) -> list[str]:
    """``key=value`` items of one axis (a linked axis ``a,b`` sets each of its keys)."""
    return [f"{k}={_yaml_value(value)}" for k in key.split(",")]


def _check_axis_alone(base: dict, origin: str, key: str, value: Any) -> None:
    """Validate one axis value on the base config alone, so an error names this axis."""
    try:
        experiment_config_from_dict(base, origin, _axis_overrides(key, value))
    except InputError as exc:
        raise ConfigError(f"sweep axis '{key}' = {value!r}: {exc}") from None


def plan_trials(spec: SweepSpec, out_dir: Path) -> list[Trial]:
    """All trials of ``spec``, validated (`ConfigError` naming the axis on a bad value)."""
    base, origin = base_config_dict(spec)
    base_over = [f"{k}={_yaml_value(v)}" for k, v in spec.set.items()]
    if not spec.keep_cache:
        base_over.append("cache_dir=null")
    base_over.append("workers=1")  # one process per trial: Ray spreads the trials
    try:
        base_cfg = experiment_config_from_dict(base, origin, base_over)
    except InputError as exc:
        raise ConfigError(f"sweep 'set' / base config: {exc}") from None
    base_dict = base_cfg.model_dump(mode="json")
    presets_dir = out_dir.resolve() / "presets"  # absolute: the trials may run elsewhere
    # each plain axis value alone first: the error then names the axis
    for key, values in spec.axes.items():
        if key.startswith(PRESET_PREFIX) or not isinstance(values, list):
            continue
        for v in values:
            _check_axis_alone(base_dict, origin, key, v)
    trials: list[Trial] = []
    seen: set[str] = set()
    from rram_lsm.experiments.config import resolve_lsm_config

    base_preset = {m: resolve_lsm_config(base_cfg, m, "macro", base_cfg.first_seed).weights.preset
                   for m in ("image", "audio")}
    for point in _points(spec):
        for die in range(spec.dies.first, spec.dies.first + spec.dies.n):
            over: list[str] = []
            preset_vals = {k: v for k, v in point.items() if k.startswith(PRESET_PREFIX)}
            for k, v in point.items():
                if not k.startswith(PRESET_PREFIX):
                    over += _axis_overrides(k, v)
            if preset_vals:
                for m in spec.modalities:
                    name = base_preset[m]
                    try:
                        path = derived_preset(name, preset_vals, presets_dir)
                    except InputError as exc:
                        axes = ", ".join(f"'{k}' = {v!r}" for k, v in preset_vals.items())
                        raise ConfigError(f"sweep axis {axes}: {exc}") from None
                    over.append(f"lsm.{m}.weights.preset={_yaml_value(str(path))}")
            over.append(f"lsm.image.weights.macro_seed={die}")
            over.append(f"lsm.audio.weights.macro_seed={die + spec.dies.audio_offset}")
            try:
                cfg = experiment_config_from_dict(base_dict, origin, over)
            except InputError as exc:
                axes = ", ".join(f"'{k}' = {v!r}" for k, v in point.items())
                raise ConfigError(f"sweep axis {axes} (die {die}): {exc}") from None
            cfg_dict = cfg.model_dump(mode="json")
            key = config_hash(cfg_dict, out_dir.resolve())
            if key in seen:
                continue  # random draws or equal values can repeat a config: run it once
            seen.add(key)
            trials.append(Trial(key=key, params=dict(point), die=die, config=cfg_dict,
                                overrides=over))
    return trials
