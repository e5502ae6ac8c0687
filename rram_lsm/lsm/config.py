"""Typed, validated configuration of the LSM encoder.

The reservoir (``N`` LIF neurons, ``T`` steps, binary inputs ``x[t]`` of ``n_inputs`` channels)::

    I[t] = const * (W_in x[t] + W_rec s[t-1])              # uS-valued weights, one constant
    I[t] = const * W_in x[t] + const_rec * W_rec s[t-1]    # if const_rec is set
    reset="zero"     (paper):   u[t] = decay * u[t-1] * (1 - s[t-1]) + I[t]
    reset="subtract" (snnTorch Leaky default): u[t] = decay * u[t-1] + I[t] - v_th * s[t-1]
    s[t] = u[t] > v_th,   u[-1] = 0, s[-1] = 0

Weights are in uS (differential conductances G+ - G- of the macro, or their Gaussian twin), so
``const`` has units of membrane units per uS. Every model forbids unknown keys; an invalid value
raises `rram_lsm.errors.ConfigError` naming the key and the allowed range.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_serializer,
    model_validator,
)

from crossbar.defaults import DEFAULT_PRESET
from crossbar.validation import StrictConfig, format_validation_error, read_yaml_mapping
from rram_lsm.errors import ConfigError
from rram_lsm.lsm.defaults import MODALITY_DEFAULTS, modality_defaults

FeatureName = Literal["rate", "windows", "count", "final_mem"]
Modality = Literal["image", "audio", "custom"]
SPLITS = ("train", "test")


def _format_validation_error(exc: ValidationError, source: str | None) -> str:
    body = format_validation_error(exc, None, "configs/lsm/image.yaml", show_input=True)
    where = f"{source}: " if source else ""
    return f"{where}invalid LSM config:\n  " + body.replace("\n", "\n  ")


# True while a config is being validated: nested models then let pydantic collect their errors
# (with full key paths) instead of each raising a ConfigError of its own.
_VALIDATING: ContextVar[bool] = ContextVar("_VALIDATING", default=False)


class _Config(StrictConfig):
    """Base: strict values (`StrictConfig`), frozen, validation errors raised as `ConfigError`."""

    model_config = ConfigDict(frozen=True)

    def __init__(self, **data: Any) -> None:
        if _VALIDATING.get():
            super().__init__(**data)
            return
        token = _VALIDATING.set(True)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, type(self).__name__)) from None
        finally:
            _VALIDATING.reset(token)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str | None = None):
        token = _VALIDATING.set(True)
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, source or cls.__name__)) from None
        finally:
            _VALIDATING.reset(token)

    def replace(self, **changes: Any):
        """A validated copy with top-level fields replaced."""
        data = self.model_dump()
        data.update(changes)
        return type(self).from_dict(data)


class WeightsConfig(_Config):
    """Where the fixed random weights come from (``weights.source``).

    * ``gaussian``: the paper's software twin -- i.i.d. N(mean, std) weights with ideal
      arithmetic; mean/std default to the statistics of the differential weights of a macro
      formed with ``preset`` / ``form_voltage`` / ``macro_seed`` (dense: no sparsity, unlike the
      macro, whose weights are a mixture of ~0, +-G and G1 - G2).
    * ``macro``: the differential conductances of a simulated macro formed with one pulse of
      ``form_voltage`` (sets the formed fraction, i.e. the sparsity); every step runs as analog
      MVMs with the non-idealities of ``analog``.
    * ``measured``: a conductance map read from ``path`` (``.npy`` / ``.csv`` of uS values,
      [rows, cols], [n_arrays, rows, cols] or the logical [n_inputs + N, 2N] block of pairs, or a
      macro state ``.npz``), used like ``macro``.
    """

    source: Literal["gaussian", "macro", "measured"] = "macro"
    preset: str = Field(DEFAULT_PRESET, description="macro preset name or YAML path")
    form_voltage: float | None = Field(None, gt=0, le=50.0,
                                       description="forming pulse (V); None: preset v_default")
    macro_seed: int | None = Field(None, ge=0, description="die seed; None: the LSM seed")
    gaussian_mean_us: float | None = Field(None, ge=-1e4, le=1e4)
    gaussian_std_us: float | None = Field(None, gt=0, le=1e4)
    path: str | None = Field(None, description="conductance map file (source: measured)")

    @model_validator(mode="after")
    def _check(self) -> WeightsConfig:
        if self.source == "measured" and not self.path:
            raise ValueError("weights.path is required when weights.source is 'measured'")
        return self


class AnalogConfig(_Config):
    """Non-idealities of the analog MVMs (sources ``macro`` and ``measured`` only).

    ``noise``: "output" (exact Gaussian equivalent of per-cell read noise, the fast path),
    "percell" (each active cell re-drawn every step; allows ``ir_drop``) or "off".
    ``adc``: quantise each tile's column currents with the preset's ADC (``adc_bits`` overrides
    its resolution); the full scale is fixed before the run from the ``adc_percentile``-th
    percentile of |ideal column current| recorded on ``calibration_samples`` samples (ideal
    arithmetic, weights at calibration time). ``drift_s``: seconds between that calibration
    (right after forming) and inference; the weights drift, the ADC range does not. ``faults``:
    keep the preset's stuck-at cells (False: a fault-free die).
    """

    noise: Literal["output", "percell", "off"] = "output"
    adc: bool = True
    adc_bits: int | None = Field(None, ge=1, le=24)
    adc_percentile: float | None = Field(None, gt=0, le=100.0)
    calibration_samples: int = Field(256, ge=1, le=100_000)
    ir_drop: bool = False
    drift_s: float = Field(0.0, ge=0, le=1e10)
    faults: bool = True

    @model_validator(mode="after")
    def _check(self) -> AnalogConfig:
        if self.ir_drop and self.noise != "percell":
            raise ValueError("analog.ir_drop needs analog.noise = 'percell'")
        return self


class LSMConfig(_Config):
    """The LSM encoder: reservoir, constants, features, engine and weight source.

    ``features`` (concatenated in order): ``rate`` (mean firing rate per neuron, the paper),
    ``windows`` (spike counts in ``n_windows`` equal time windows, K*N values), ``count``,
    ``final_mem``. ``engine``: ``numba`` (event-driven, CPU), ``torch`` (dense, ``device`` cpu or
    cuda) or ``reference`` (plain numpy, slow). ``dtype``: working precision of sums and
    membranes -- float32 (default) is the fast path; float64 makes the engines agree to the
    last bit with noise off (the tests use it).
    """

    # The six reservoir settings below have no default of their own: a key left out takes the
    # value of the ``modality`` row of `rram_lsm.lsm.defaults` (see `_modality_defaults`).
    modality: Modality = "custom"
    n_inputs: int = Field(ge=1, le=100_000)
    n_neurons: int = Field(ge=1, le=100_000)
    n_steps: int | None = Field(ge=1, le=1_000_000, description="T; None: taken from the data")
    decay: float = Field(ge=0.0, le=1.0)
    v_th: float = Field(gt=0, le=1e6)
    const: float = Field(gt=0, le=1e6, description="weight constant (per uS)")
    const_rec: float | None = Field(None, gt=0, le=1e6,
                                    description="separate recurrent constant; None: const")
    reset: Literal["zero", "subtract"] = "zero"
    features: tuple[FeatureName, ...] = ("rate",)
    n_windows: int = Field(5, ge=1, le=10_000)
    engine: Literal["numba", "torch", "reference"] = "numba"
    device: str = Field("cpu", description="torch engine device: cpu, cuda, cuda:N")
    dtype: Literal["float64", "float32"] = "float32"
    seed: int = Field(10, ge=0, description="weights (gaussian), default die and noise seed")
    weights: WeightsConfig = WeightsConfig()
    analog: AnalogConfig = AnalogConfig()

    @model_validator(mode="before")
    @classmethod
    def _modality_defaults(cls, data: Any) -> Any:
        """Fill the reservoir settings the mapping leaves out from its modality's defaults."""
        if isinstance(data, dict):
            return {**modality_defaults(data.get("modality", "custom")), **data}
        return data

    @model_validator(mode="after")
    def _check(self) -> LSMConfig:
        if not self.features:
            raise ValueError("features must name at least one of rate, windows, count, final_mem")
        if len(set(self.features)) != len(self.features):
            raise ValueError("features must not repeat a name")
        if self.n_steps is not None and "windows" in self.features \
                and self.n_windows > self.n_steps:
            raise ValueError(f"n_windows ({self.n_windows}) exceeds n_steps ({self.n_steps})")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got '{self.device}'")
        return self

    @property
    def separate_constants(self) -> bool:
        return self.const_rec is not None and self.const_rec != self.const

    @classmethod
    def for_modality(cls, modality: str, **overrides: Any) -> LSMConfig:
        """The defaults of ``image`` or ``audio`` (`rram_lsm.lsm.defaults.MODALITY_DEFAULTS`),
        plus ``overrides``."""
        if modality not in MODALITY_DEFAULTS:
            raise ConfigError(f"modality must be one of {sorted(MODALITY_DEFAULTS)}, "
                              f"got '{modality}'")
        return cls.from_dict({**overrides, "modality": modality})

    def digest(self) -> str:
        """Stable sha256 of the resolved values."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def lsm_config_from_dict(raw: dict[str, Any] | None, source: str | None = None) -> LSMConfig:
    """Validate a mapping; a ``modality`` of image/audio fills in that modality's defaults
    for keys the mapping does not set (as `LSMConfig` itself does)."""
    return LSMConfig.from_dict(dict(raw or {}), source=source)


def partial_model(model: type[BaseModel], name: str, exclude: frozenset[str] = frozenset(),
                  nested: dict[str, type[BaseModel]] | None = None) -> type[BaseModel]:
    """A model with the fields of ``model`` (same types and bounds) but every one optional,
    unknown keys forbidden: a typed set of overrides. Fields in ``exclude`` are left out;
    ``nested`` replaces the type of a sub-model field (e.g. by its own partial model). Only the
    keys actually given are dumped (`model_dump` drops unset fields), so
    ``LSMConfig.for_modality(m, **overrides.model_dump())`` applies exactly what was written.
    Cross-field checks are not copied: they run when the full config is built."""
    nested = nested or {}
    fields: dict[str, Any] = {}
    for fname, info in model.model_fields.items():
        if fname in exclude:
            continue
        if fname in nested:
            typ: Any = nested[fname] | None
        elif info.metadata:
            typ = Annotated[(info.annotation, *info.metadata)]  # the same bounds (ge, le, gt)
        else:
            typ = info.annotation
        fields[fname] = (typ, Field(None, description=info.description))
    return create_model(name, __base__=_Overrides, __doc__=f"Optional overrides of `{model.__name__}`.",
                        **fields)


class _Overrides(StrictConfig):
    """Base of `partial_model`s: strict values (`StrictConfig`), frozen, dumps only the keys
    given."""

    model_config = ConfigDict(frozen=True)

    @model_serializer(mode="wrap")
    def _only_given(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


@dataclass(frozen=True)
class EncodeData:
    """The optional ``encode:`` block of an LSM YAML: which data ``rram-lsm encode`` reads."""

    dataset: str | None = None
    split: Literal["train", "test"] | None = None


@dataclass(frozen=True)
class LSMFile:
    """An LSM YAML file: the validated config and its ``encode:`` data block."""

    config: LSMConfig
    encode: EncodeData


def read_lsm_file(path: str | os.PathLike) -> LSMFile:
    """Load an LSM YAML: the `LSMConfig` (at the top level or under a top-level ``lsm:`` key)
    and the optional ``encode: {dataset, split}`` block. Errors are `ConfigError`s naming the
    file and the key."""
    path = Path(path)
    raw = dict(read_yaml_mapping(path, ConfigError, "config"))
    enc = raw.pop("encode", None) or {}
    if not isinstance(enc, dict) or set(enc) - {"dataset", "split"}:
        raise ConfigError(f"{path}: key 'encode' must be a mapping with 'dataset' and/or 'split'")
    split = enc.get("split")
    if split is not None and split not in SPLITS:
        raise ConfigError(f"{path}: encode.split must be one of {SPLITS}, got '{split}'")
    dataset = enc.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise ConfigError(f"{path}: encode.dataset must be a dataset name, got {dataset!r}")
    if "lsm" in raw:
        if set(raw) - {"lsm"}:
            raise ConfigError(f"{path}: unknown top-level key(s) {sorted(set(raw) - {'lsm'})}")
        raw = raw["lsm"] or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: key 'lsm' must be a mapping of LSM settings")
    cfg = lsm_config_from_dict(raw, source=str(path))
    check_references(cfg, str(path))
    return LSMFile(cfg, EncodeData(dataset, split))


def check_references(cfg: LSMConfig, origin: str, prefix: str = "") -> None:
    """Check that the files a config names exist: the macro preset ``weights.preset`` (always
    used: it also sizes the Gaussian twin) and the map ``weights.path`` of measured weights.
    `ConfigError` naming ``origin`` and the key otherwise (before any work starts)."""
    from crossbar.errors import InputError
    from crossbar.spec import load_preset

    try:
        load_preset(cfg.weights.preset)
    except InputError as exc:
        raise ConfigError(f"{origin}: key '{prefix}weights.preset': {exc}") from None
    if cfg.weights.source == "measured" and cfg.weights.path is not None \
            and not Path(cfg.weights.path).is_file():
        raise ConfigError(f"{origin}: key '{prefix}weights.path': {cfg.weights.path}: "
                          "conductance map not found")


def load_lsm_config(path: str | os.PathLike) -> LSMConfig:
    """Load an `LSMConfig` from YAML (see `read_lsm_file`; the ``encode:`` block is dropped)."""
    return read_lsm_file(path).config
