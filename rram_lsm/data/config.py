"""Typed, validated configuration of the data layer (binning, stand-in generators, pairing).

Every model forbids unknown keys; an invalid value raises `rram_lsm.errors.ConfigError` naming the
key and the allowed range.  YAML files (``configs/data/*.yaml``) load through `load_data_config`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from crossbar.validation import StrictConfig, format_validation_error, read_yaml_mapping
from rram_lsm.errors import ConfigError

LabelMapName = Literal["paper", "tonic"]


def _format_validation_error(exc: ValidationError, source: str | None) -> str:
    body = format_validation_error(exc, None, "configs/data/default.yaml", show_input=True)
    where = f"{source}: " if source else ""
    return f"{where}invalid data config:\n  " + body.replace("\n", "\n  ")


# True while a config is being validated: nested models then let pydantic collect their errors
# (with full key paths) instead of raising ConfigError themselves.
_VALIDATING: ContextVar[bool] = ContextVar("_VALIDATING", default=False)


class _Config(StrictConfig):
    """Base of all data configs: strict values (`StrictConfig`), frozen, errors raised as
    ConfigError."""

    model_config = ConfigDict(frozen=True)

    #: Old key -> new key. Keys ending in ``_us`` were microseconds here but microsiemens in
    #: crossbar / lsm / firmware; they are ``_usec`` now. The old names still load, with a warning.
    RENAMED_KEYS: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _accept_renamed_keys(cls, data: Any) -> Any:
        if not cls.RENAMED_KEYS or not isinstance(data, dict):
            return data
        old = [k for k in cls.RENAMED_KEYS if k in data]
        if not old:
            return data
        both = [k for k in old if cls.RENAMED_KEYS[k] in data]
        if both:
            raise ValueError(f"give only {cls.RENAMED_KEYS[both[0]]!r} ({both[0]!r} is its old name)")
        warnings.warn(
            f"{cls.__name__}: deprecated key(s) "
            + ", ".join(f"{k!r} (now {cls.RENAMED_KEYS[k]!r})" for k in old)
            + "; microsecond keys end in _usec (_us means microsiemens)",
            DeprecationWarning,
            stacklevel=2,
        )
        return rename_legacy_keys(cls, data)

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
        """Validate a plain mapping (e.g. parsed YAML); ``source`` names the file in errors."""
        token = _VALIDATING.set(True)
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(_format_validation_error(exc, source or cls.__name__)) from None
        finally:
            _VALIDATING.reset(token)

    def digest(self) -> str:
        """Stable hex digest of the resolved values (used as a cache key)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def rename_legacy_keys(cls: type[_Config], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``cls``'s old key names replaced by the new ones (no warning; used to read
    manifests written before a rename)."""
    return {cls.RENAMED_KEYS.get(k, k): v for k, v in data.items()}


def _check_range(lo_hi: tuple[float, float], name: str) -> None:
    if lo_hi[0] > lo_hi[1]:
        raise ValueError(f"{name}: lower bound {lo_hi[0]} exceeds upper bound {lo_hi[1]}")


# ---------------------------------------------------------------------------------------------
# Binning
# ---------------------------------------------------------------------------------------------


class ImageBinning(_Config):
    """N-MNIST-style events → binary frames [T, crop·crop] (paper: one polarity, 16×16, T = 50)."""

    polarity: Literal[0, 1] = Field(0, description="polarity kept, in tonic's convention: 0 = OFF, 1 = ON")
    crop: int = Field(16, ge=1, le=34, description="centre crop size (px) of the 34×34 sensor")
    n_time_bins: int = Field(50, ge=1, le=100_000, description="T, number of time bins")
    bin_usec: int = Field(6_000, ge=1, le=10_000_000, description="time-bin width in µs")
    t_start_usec: int = Field(0, ge=0, le=10_000_000, description="start of the first bin in µs")

    RENAMED_KEYS: ClassVar[dict[str, str]] = {"bin_us": "bin_usec", "t_start_us": "t_start_usec"}


class AudioBinning(_Config):
    """N-TIDIGITS-style events → binary frames [T, n_channels].

    ``scheme="paper"``: 1 ms (``base_bin_usec``) bins over [0, last event], then the time axis is
    split into ``n_time_bins`` equal chunks of ceil(n_bins / T) fine bins (``torch.chunk``
    semantics: per-utterance time normalisation), OR-ed within a chunk and zero-padded at the end.
    ``scheme="fixed"``: ``n_time_bins`` bins of ``bin_usec`` from t = 0; later events are dropped.
    """

    scheme: Literal["paper", "fixed"] = "paper"
    n_channels: int = Field(64, ge=1, le=4096, description="cochlea channels (inputs)")
    n_time_bins: int = Field(129, ge=1, le=100_000, description="T, number of time bins")
    base_bin_usec: int = Field(1_000, ge=1, le=1_000_000, description="paper scheme: fine bin, µs")
    bin_usec: int = Field(10_000, ge=1, le=10_000_000, description="fixed scheme: bin width, µs")

    RENAMED_KEYS: ClassVar[dict[str, str]] = {"base_bin_us": "base_bin_usec", "bin_us": "bin_usec"}


class BinningConfig(_Config):
    """Binning of both modalities."""

    image: ImageBinning = ImageBinning()
    audio: AudioBinning = AudioBinning()


def frame_shape(binning: BinningConfig, modality: str) -> tuple[int, int]:
    """``(T, n_inputs)`` of the binary frames of ``modality`` ("image" or "audio") binned with
    ``binning``: the one place that says how many steps (and input channels) an encoder of that
    modality sees. Image: (n_time_bins, crop²); audio: (n_time_bins, n_channels)."""
    if modality == "image":
        return binning.image.n_time_bins, binning.image.crop ** 2
    if modality == "audio":
        return binning.audio.n_time_bins, binning.audio.n_channels
    raise ConfigError(f"modality must be 'image' or 'audio', got '{modality}'")


def frame_steps(binning: BinningConfig, modality: str) -> int:
    """T, the number of time steps of a ``modality`` sample binned with ``binning``."""
    return frame_shape(binning, modality)[0]


# ---------------------------------------------------------------------------------------------
# Stand-in generators
# ---------------------------------------------------------------------------------------------


class DigitsDVSConfig(_Config):
    """digits-dvs: scikit-learn digits → augmentation → saccades → DVS pixel model → N-MNIST .bin.

    Units: px, µs, log-intensity units for thresholds, Hz for noise.
    """

    test_source_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="share of the 1,797 source digits reserved for test"
    )
    digit_size_px: float = Field(20.0, gt=2.0, le=34.0, description="size of the 8×8 digit (px)")
    rotation_deg: float = Field(12.0, ge=0.0, le=90.0, description="max |rotation|, degrees")
    scale_range: tuple[float, float] = Field((0.88, 1.12), description="random scale factor range")
    shift_px: float = Field(1.5, ge=0.0, le=8.0, description="max |shift| per axis (px)")
    blur_px: float = Field(0.7, ge=0.0, le=5.0, description="Gaussian blur sigma (px)")
    saccade_usec: int = Field(100_000, ge=1_000, le=1_000_000, description="one saccade, µs")
    step_usec: int = Field(2_000, ge=10, le=10_000, description="simulation step, µs")
    saccade_jitter: float = Field(0.15, ge=0.0, le=0.9, description="relative amplitude jitter")
    log_eps: float = Field(0.33, gt=0.0, le=10.0, description="background level in log(I + eps)")
    threshold_mean: float = Field(0.2, gt=0.0, le=5.0, description="mean contrast threshold")
    threshold_mean_jitter: float = Field(0.1, ge=0.0, le=0.9, description="per-sample, relative")
    threshold_sigma: float = Field(0.03, ge=0.0, le=1.0, description="per-pixel mismatch (abs)")
    refractory_usec: int = Field(1_000, ge=0, le=100_000, description="pixel refractory period, µs")
    noise_rate_hz: float = Field(0.2, ge=0.0, le=1_000.0, description="background events/px/s")

    RENAMED_KEYS: ClassVar[dict[str, str]] = {
        "saccade_us": "saccade_usec", "step_us": "step_usec", "refractory_us": "refractory_usec"}

    @model_validator(mode="after")
    def _ranges(self) -> DigitsDVSConfig:
        _check_range(self.scale_range, "scale_range")
        if self.scale_range[0] <= 0:
            raise ValueError("scale_range: must be > 0")
        return self


ENGLISH_ACCENTS = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)


class SpokenDigitsConfig(_Config):
    """spoken-digits: espeak-ng words → gammatone cochlea → per-channel LIF → N-TIDIGITS18 HDF5.

    Units: s for times (names say so), Hz, dB, wpm (espeak speaking rate).
    """

    test_voice_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="share of espeak voice variants reserved for test"
    )
    accents: tuple[str, ...] = Field(ENGLISH_ACCENTS, min_length=1)
    exclude_variants: tuple[str, ...] = ("whisper", "whisperf")
    rate_wpm: tuple[int, int] = Field((110, 220), description="espeak speaking rate range")
    pitch: tuple[int, int] = Field((15, 90), description="espeak pitch range (0..99)")
    pitch_range: tuple[int, int] = Field((20, 80), description="espeak intonation range (0..99)")
    onset_s: tuple[float, float] = Field((0.0, 0.08), description="leading silence range, s")
    tail_s: float = Field(0.05, ge=0.0, le=2.0, description="trailing silence, s")
    snr_db: tuple[float, float] = Field((25.0, 45.0), description="white-noise SNR range, dB")
    rms: float = Field(0.05, gt=0.0, le=1.0, description="speech level after normalisation")
    n_channels: int = Field(64, ge=1, le=256, description="cochlea channels")
    f_min_hz: float = Field(100.0, gt=0.0, le=20_000.0)
    f_max_hz: float = Field(7_000.0, gt=0.0, le=20_000.0)
    gain_jitter: float = Field(0.15, ge=0.0, le=0.9, description="per-utterance gain, relative")
    lif_tau_s: float = Field(0.005, gt=0.0, le=1.0, description="LIF membrane time constant, s")
    lif_gain: float = Field(700.0, gt=0.0, le=1e6, description="LIF input gain")
    gain_sigma: float = Field(0.1, ge=0.0, le=1.0, description="per-channel gain mismatch (log)")
    threshold_sigma: float = Field(0.05, ge=0.0, le=0.5, description="per-channel threshold (rel)")
    refractory_s: float = Field(0.002, ge=0.0, le=0.1, description="LIF refractory period, s")
    noise_rate_hz: float = Field(1.0, ge=0.0, le=1_000.0, description="spontaneous events/ch/s")
    block_size: int = Field(
        250, ge=1, le=100_000, description="utterances per fresh synthesis process (determinism)"
    )

    @model_validator(mode="after")
    def _ranges(self) -> SpokenDigitsConfig:
        for name in ("rate_wpm", "pitch", "pitch_range", "onset_s", "snr_db"):
            _check_range(getattr(self, name), name)
        if not 80 <= self.rate_wpm[0]:
            raise ValueError("rate_wpm: espeak accepts 80..450 wpm")
        if self.rate_wpm[1] > 450:
            raise ValueError("rate_wpm: espeak accepts 80..450 wpm")
        for name in ("pitch", "pitch_range"):
            lo, hi = getattr(self, name)
            if lo < 0 or hi > 99:
                raise ValueError(f"{name}: espeak accepts 0..99")
        if self.f_min_hz >= self.f_max_hz:
            raise ValueError("f_min_hz must be below f_max_hz")
        return self


class BuiltinConfig(_Config):
    """Sizes and generator settings of the built-in stand-ins."""

    per_class_train: int = Field(150, ge=1, le=100_000, description="train samples per class")
    per_class_test: int = Field(50, ge=1, le=100_000, description="test samples per class")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    digits_dvs: DigitsDVSConfig = DigitsDVSConfig()
    spoken_digits: SpokenDigitsConfig = SpokenDigitsConfig()


# ---------------------------------------------------------------------------------------------
# Pairing
# ---------------------------------------------------------------------------------------------


class PairingConfig(_Config):
    """Cross-modal pairing by class (paper: seen 1–7, unseen 8–9, digit 0 unused)."""

    seen_classes: tuple[int, ...] = Field((1, 2, 3, 4, 5, 6, 7), min_length=1)
    unseen_classes: tuple[int, ...] = (8, 9)
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="share of train pairs → val")
    max_test_per_class: int | None = Field(100, ge=1, description="test pairs per class (paper)")
    order: Literal["dataset", "shuffled"] = Field(
        "dataset", description="pair samples in dataset order (paper) or after a seeded shuffle"
    )

    @model_validator(mode="after")
    def _disjoint(self) -> PairingConfig:
        both = set(self.seen_classes) & set(self.unseen_classes)
        if both:
            raise ValueError(f"classes {sorted(both)} are both seen and unseen")
        for c in (*self.seen_classes, *self.unseen_classes):
            if not 0 <= c <= 10:
                raise ValueError(f"class {c} outside 0..10")
        return self


class DataConfig(_Config):
    """The ``data`` section of an experiment: which data, how binned, how labelled and paired."""

    image_dataset: Literal["nmnist", "digits-dvs"] = "digits-dvs"
    audio_dataset: Literal["ntidigits", "spoken-digits"] = "spoken-digits"
    label_map: LabelMapName = "paper"
    binning: BinningConfig = BinningConfig()
    builtin: BuiltinConfig = BuiltinConfig()
    pairing: PairingConfig = PairingConfig()


def load_data_config(path: str | os.PathLike) -> DataConfig:
    """Load a `DataConfig` from a YAML file (a top-level ``data:`` key is accepted too)."""
    path = Path(path)
    raw = read_yaml_mapping(path, ConfigError, "config")
    if set(raw) == {"data"}:
        raw = raw["data"]
    return DataConfig.from_dict(raw, source=str(path))
