"""The experiment config (`rram-lsm run CONFIG`): a YAML file validated into `ExperimentConfig`.

Unknown keys, wrong types and out-of-range values raise `ConfigError` naming the file, the dotted
key and the allowed range. ``--set key=value`` overrides use dotted keys (values parsed as YAML).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from crossbar.validation import (
    StrictConfig,
    check_strict_scalar,
    format_validation_error,
    read_yaml_mapping,
)
from rram_lsm.data.config import DataConfig, frame_shape
from rram_lsm.errors import ConfigError
from rram_lsm.heads.train import HeadConfig
from rram_lsm.lsm.config import AnalogConfig, LSMConfig, WeightsConfig, check_references, partial_model
from rram_lsm.lsm.defaults import DEFAULT_CACHE_DIR

FeatureMode = Literal["rate", "windows"]
Source = Literal["gaussian", "macro", "measured"]
EXAMPLE = "configs/zero_shot_default.yaml"


class _Section(StrictConfig):
    """A section of the experiment config (strict values, unknown keys forbidden)."""


# What an experiment sets itself is not an LSM override: the seed (``seeds``, ``first_seed`` and
# ``lsm.audio_seed_offset``), the engine and device (top-level ``engine`` / ``device``), the
# weight source (``sources``) and the modality (the section's name).
WeightsOverrides = partial_model(WeightsConfig, "WeightsOverrides", frozenset({"source"}))
AnalogOverrides = partial_model(AnalogConfig, "AnalogOverrides")
LSMOverrides = partial_model(LSMConfig, "LSMOverrides",
                             frozenset({"modality", "seed", "engine", "device"}),
                             {"weights": WeightsOverrides, "analog": AnalogOverrides})
LSMOverrides.__doc__ = """Typed overrides of one modality's LSM defaults: the fields of `LSMConfig`
(same types and bounds), all optional, unknown keys forbidden; see `resolve_lsm_config`."""


class LSMPair(_Section):
    """Overrides of the per-modality LSM defaults (`rram_lsm.lsm.defaults.MODALITY_DEFAULTS`)."""

    image: LSMOverrides = Field(default_factory=LSMOverrides)  # type: ignore[valid-type]
    audio: LSMOverrides = Field(default_factory=LSMOverrides)  # type: ignore[valid-type]
    audio_seed_offset: int = Field(100, ge=0, description="audio LSM seed = seed + offset")


class ZeroShotConfig(_Section):
    enabled: bool = True
    # each pair is held out in turn; the seen classes are the rest of `class_pool`
    held_out_pairs: list[tuple[int, int]] = Field(
        default_factory=lambda: [(8, 9), (1, 7), (2, 5), (3, 6), (0, 4)], min_length=1)
    class_pool: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    # digit 0 is unused for training in the paper; it still serves as a held-out class
    train_excluded: tuple[int, ...] = (0,)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    max_test_per_class: int | None = Field(100, ge=1)
    patience: int | None = Field(10, ge=1, description="stop after this many epochs without a "
                                 "validation improvement (None: run all epochs)")
    # the arbitrary-pairing control (each audio class paired with a fixed other digit's images,
    # in training and test), run for the headline features and every weight source
    control: bool = True

    @field_validator("held_out_pairs")
    @classmethod
    def _pairs(cls, v):
        for a, b in v:
            if a == b or not (0 <= a <= 9 and 0 <= b <= 9):
                raise ValueError(f"held-out pair ({a}, {b}) must be two different digits 0-9")
        return v


class ClassifyConfig(_Section):
    enabled: bool = True
    readout: Literal["ridge", "logistic"] = "ridge"
    raw_baselines: bool = True
    pca_components: int = Field(200, ge=1, le=10000)
    val_fraction: float = Field(0.2, gt=0, lt=1)


class BaselineToggle(_Section):
    enabled: bool = True
    epochs: int = Field(100, ge=1, le=10000)
    seeds: int = Field(1, ge=1, le=100)


class BaselinesConfig(_Section):
    protonet: BaselineToggle = BaselineToggle(enabled=True, epochs=100, seeds=5)
    srnn_clip: BaselineToggle = BaselineToggle(enabled=False, epochs=10, seeds=1)
    rnn_classifier: BaselineToggle = BaselineToggle(enabled=False, epochs=20, seeds=1)


class CostsConfig(_Section):
    e_mac_j: float = Field(4.6e-12, gt=0, description="digital MAC energy (Horowitz ISSCC 2014)")
    e_weight_read_j: float = Field(5.0e-12, ge=0, description="SRAM weight fetch per MAC")


class ExperimentConfig(_Section):
    name: str = "zero-shot"
    data: DataConfig = DataConfig()
    lsm: LSMPair = LSMPair()
    sources: list[Source] = Field(default_factory=lambda: ["gaussian", "macro"], min_length=1)
    feature_modes: list[FeatureMode] = Field(default_factory=lambda: ["windows", "rate"],
                                             min_length=1)
    seeds: int = Field(5, ge=1, le=1000)
    first_seed: int = Field(0, ge=0)
    engine: Literal["numba", "torch"] = "numba"
    device: str = "cpu"
    workers: int = Field(2, ge=1, le=256, description="parallel head-training processes")
    heads: HeadConfig = HeadConfig()
    zero_shot: ZeroShotConfig = ZeroShotConfig()
    classify: ClassifyConfig = ClassifyConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    costs: CostsConfig = CostsConfig()
    cache_dir: str | None = Field(DEFAULT_CACHE_DIR, description="folder of cached LSM encodings "
                                  "(shared with `rram-lsm encode`); null: always re-encode")

    @field_validator("heads", mode="before")
    @classmethod
    def _strict_heads(cls, value: Any) -> Any:
        # `HeadConfig` (rram_lsm.heads) is lax; its scalars get the same strict types here
        if isinstance(value, dict):
            for key, v in value.items():
                fld = HeadConfig.model_fields.get(key)
                if fld is not None:
                    try:
                        check_strict_scalar(fld.annotation, v)
                    except ValueError as exc:
                        raise ValueError(f"heads.{key}: {exc}") from None
        return value

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section")
    node[keys[-1]] = value


def parse_overrides(items: list[str] | None) -> list[tuple[str, Any]]:
    out = []
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set '{item}': expected key=value (e.g. seeds=3)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except (yaml.YAMLError, RecursionError) as exc:
            raise ConfigError(f"--set {key}: value '{raw[:80]}' is not valid YAML "
                              f"({exc or 'nested too deeply'})") from None
        out.append((key.strip(), value))
    return out


def _validated(data: dict, origin: str) -> ExperimentConfig:
    try:
        cfg = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin, EXAMPLE, show_input=True)) from None
    except ConfigError as exc:  # nested configs that raise ConfigError themselves
        raise ConfigError(f"{origin}: {exc}") from None
    _validate_lsm(cfg, origin)
    return cfg


def experiment_config_from_dict(raw: dict | None, origin: str = "<config>",
                                overrides: list[str] | None = None) -> ExperimentConfig:
    """Validate a parsed config (``origin`` names it in errors), then apply ``--set`` overrides.

    The config is checked on its own first, so that an error names the file when the file is at
    fault and ``--set`` when an override is."""
    data = copy.deepcopy(dict(raw or {}))
    pairs = parse_overrides(overrides)
    if not pairs:
        return _validated(data, origin)
    _validated(copy.deepcopy(data), origin)
    for key, value in pairs:
        _set_dotted(data, key, value)
    shown = [o if len(o) <= 80 else o[:77] + "..." for o in overrides or []]
    return _validated(data, "--set " + " --set ".join(shown))


def resolve_lsm_config(cfg: ExperimentConfig, modality: str, source: str, seed: int) -> LSMConfig:
    """The `LSMConfig` of one encoder of the experiment: the ``modality`` defaults, then the
    ``lsm.<modality>`` overrides, then what the experiment decides: the weight ``source``, the
    seed (``seed``, plus ``lsm.audio_seed_offset`` for audio), the engine and the device. Unless
    overridden, the reservoir reads the frames of the data binning (its T and inputs), and the
    features are ``rate`` and ``windows`` (the experiment's two feature modes)."""
    over = getattr(cfg.lsm, modality).model_dump()
    weights = {**(over.pop("weights", None) or {}), "source": source}
    n_steps, n_inputs = frame_shape(cfg.data.binning, modality)
    over.setdefault("n_steps", n_steps)
    over.setdefault("n_inputs", n_inputs)
    over.setdefault("features", ("rate", "windows"))
    s = seed if modality == "image" else seed + cfg.lsm.audio_seed_offset
    return LSMConfig.for_modality(modality, **over, weights=weights, seed=s, engine=cfg.engine,
                                  device=cfg.device)


def _validate_lsm(cfg: ExperimentConfig, origin: str) -> None:
    """Build every encoder's config once, so that a cross-field error surfaces at load."""
    for modality in ("image", "audio"):
        for source in cfg.sources:
            try:
                lsm = resolve_lsm_config(cfg, modality, source, cfg.first_seed)
            except ConfigError as exc:
                raise ConfigError(f"{origin}: lsm.{modality}: {exc}") from None
            check_references(lsm, origin, prefix=f"lsm.{modality}.")


def load_experiment_config(path: str | os.PathLike | None = None,
                           overrides: list[str] | None = None) -> ExperimentConfig:
    """Load ``path`` (None: the built-in default demo) with ``--set`` overrides."""
    if path is None:
        return experiment_config_from_dict({}, "<default>", overrides)
    p = Path(path)
    raw = read_yaml_mapping(p, ConfigError, "config")
    return experiment_config_from_dict(raw, str(p), overrides)
