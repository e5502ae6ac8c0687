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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossbar.validation import format_validation_error, read_yaml_mapping
from rram_lsm.errors import ConfigError

FeatureName = Literal["rate", "windows", "count", "final_mem"]
Modality = Literal["image", "audio", "custom"]

# Per-modality defaults (the paper's; docs/design.md). The constants are ours, chosen
# for a mean firing rate of about 10-15 % on the default macro's weights (std ~ 78 uS): see
# `rram_lsm.lsm.tuning` and the comment in configs/lsm/*.yaml for how they were found.
MODALITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {"n_inputs": 256, "n_neurons": 200, "n_steps": 50, "decay": 0.9, "v_th": 5.0,
              "const": 0.008},
    "audio": {"n_inputs": 64, "n_neurons": 200, "n_steps": 129, "decay": 0.97, "v_th": 5.3,
              "const": 0.0095},
}


def _format_validation_error(exc: ValidationError, source: str | None) -> str:
    body = format_validation_error(exc, None, "configs/lsm/image.yaml", show_input=True)
    where = f"{source}: " if source else ""
    return f"{where}invalid LSM config:\n  " + body.replace("\n", "\n  ")


class _Config(BaseModel):
    """Base: frozen, unknown keys forbidden, validation errors raised as `ConfigError`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, type(self).__name__)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str | None = None):
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, source or cls.__name__)) from None

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
    preset: str = Field("rram-40nm-256kb", description="macro preset name or YAML path")
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

    modality: Modality = "custom"
    n_inputs: int = Field(256, ge=1, le=100_000)
    n_neurons: int = Field(200, ge=1, le=100_000)
    n_steps: int | None = Field(None, ge=1, le=1_000_000,
                                description="T; None: taken from the data")
    decay: float = Field(0.9, ge=0.0, le=1.0)
    v_th: float = Field(5.0, gt=0, le=1e6)
    const: float = Field(0.008, gt=0, le=1e6, description="weight constant (per uS)")
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
        """Paper defaults of ``image`` (256 in, 200 neurons, T 50, decay 0.9, Vth 5.0) or
        ``audio`` (64 in, 200 neurons, T 129, decay 0.97, Vth 5.3), plus ``overrides``."""
        if modality not in MODALITY_DEFAULTS:
            raise ConfigError(f"modality must be one of {sorted(MODALITY_DEFAULTS)}, "
                              f"got '{modality}'")
        data = {"modality": modality, **MODALITY_DEFAULTS[modality], **overrides}
        return cls.from_dict(data)

    def digest(self) -> str:
        """Stable sha256 of the resolved values."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def lsm_config_from_dict(raw: dict[str, Any] | None, source: str | None = None) -> LSMConfig:
    """Validate a mapping; a ``modality`` of image/audio fills in that modality's defaults
    for keys the mapping does not set."""
    raw = dict(raw or {})
    mod = raw.get("modality")
    if isinstance(mod, str) and mod in MODALITY_DEFAULTS:
        raw = {**MODALITY_DEFAULTS[mod], **raw}
    return LSMConfig.from_dict(raw, source=source)


def load_lsm_config(path: str | os.PathLike) -> LSMConfig:
    """Load an `LSMConfig` from YAML (a top-level ``lsm:`` key is accepted too; an ``encode:``
    block, the data of `rram-lsm encode`, is ignored here)."""
    path = Path(path)
    raw = read_yaml_mapping(path, ConfigError, "config")
    raw = dict(raw)
    raw.pop("encode", None)  # the data block of `rram-lsm encode`
    if "lsm" in raw and isinstance(raw["lsm"], dict):
        raw = raw["lsm"]
    return lsm_config_from_dict(raw, source=str(path))
