"""The sweep spec: a YAML file validated into `SweepSpec`.

Example::

    name: adc-bits-noise
    base: ../classify_builtin.yaml        # path (relative to the spec) or an inline mapping
    set: {seeds: 1}                       # dotted overrides of the base, applied to every trial
    mode: grid                            # or: random (n trials, seed)
    axes:
      lsm.image.analog.adc_bits: [3, 4, 6, 8]
      preset.read.noise_relative: {start: 0.0, stop: 0.1, num: 3}        # linear range
      lsm.image.analog.drift_s: {start: 1, stop: 3.2e8, num: 5, log: true}  # log range
      lsm.image.weights.form_voltage: {distribution: uniform, low: 2.5, high: 3.5}  # random only
    dies: {n: 10, first: 0}               # Monte-Carlo over macro seeds (each trial its own die)
    metrics: [classify.image.macro.accuracy]   # dotted paths into the results (default: headline)

Axis keys are dotted keys of the experiment config; several config keys joined by commas make a
linked axis (``lsm.image.n_neurons,lsm.audio.n_neurons`` sets both to each value);
``preset.<section>.<key>`` is a value of the macro preset that has no LSM key (the sweep writes a
derived preset file per value and points ``lsm.<modality>.weights.preset`` at it).
Errors raise `ConfigError` naming the axis.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossbar.validation import format_validation_error, read_yaml_mapping
from rram_lsm.errors import ConfigError

PRESET_PREFIX = "preset."
EXAMPLE = "configs/sweeps/adc_bits_noise.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Dies(_Strict):
    """The die axis: ``n`` macro seeds ``first .. first + n - 1`` (``weights.macro_seed`` of both
    modalities; the audio die is offset by ``audio_offset`` so the two macros differ)."""

    n: int = Field(1, ge=1, le=100_000)
    first: int = Field(0, ge=0)
    audio_offset: int = Field(100_000, ge=0)


class ReportConfig(_Strict):
    yield_threshold: float | None = Field(None, description="accuracy a die must reach to count "
                                          "as good (None: the median of the yield metric)")
    yield_metric: str | None = None
    energy_metric: str | None = None
    accuracy_metric: str | None = None


class SweepSpec(_Strict):
    name: str = "sweep"
    base: str | dict | None = None  # experiment config: path or inline mapping; None: the default
    set: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["grid", "random"] = "grid"
    n: int | None = Field(None, ge=1, le=1_000_000, description="trials (random mode)")
    seed: int = Field(0, ge=0)
    axes: dict[str, Any] = Field(default_factory=dict)
    dies: Dies = Dies()
    metrics: list[str] | None = None
    report: ReportConfig = ReportConfig()
    keep_cache: bool = False  # False: trials encode without the shared feature cache
    modalities: list[Literal["image", "audio"]] = Field(
        default_factory=lambda: ["image", "audio"],
        description="LSMs a preset.* axis applies to")


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where}: expected a finite number, got {v!r}")
    return float(v)


def _as_int_if_whole(values: list[float], ints: bool) -> list:
    return [int(round(v)) for v in values] if ints else [float(v) for v in values]


def axis_values(key: str, raw: Any) -> list | dict:
    """The values of one axis: a list (grid or random choice) or a distribution (a dict with
    ``distribution``; random mode only). `ConfigError` names the axis on a bad form."""
    where = f"sweep axis '{key}'"
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: empty list of values")
        return list(raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a list, a range {{start, stop, num|step, log}} or "
                          f"a distribution {{distribution, low, high}}; got {raw!r}")
    if "distribution" in raw:
        kind = raw["distribution"]
        allowed = {"uniform": {"low", "high"}, "loguniform": {"low", "high"},
                   "normal": {"mean", "std"}, "randint": {"low", "high"}}
        if kind not in allowed:
            raise ConfigError(f"{where}: unknown distribution {kind!r}; one of {sorted(allowed)}")
        extra = set(raw) - allowed[kind] - {"distribution"}
        missing = allowed[kind] - set(raw)
        if extra or missing:
            raise ConfigError(f"{where}: {kind} takes {sorted(allowed[kind])}"
                              + (f"; unknown {sorted(extra)}" if extra else "")
                              + (f"; missing {sorted(missing)}" if missing else ""))
        vals = {k: _num(raw[k], f"{where}.{k}") for k in allowed[kind]}
        if "low" in vals and not vals["low"] < vals["high"]:
            raise ConfigError(f"{where}: low must be below high")
        if kind == "loguniform" and vals["low"] <= 0:
            raise ConfigError(f"{where}: loguniform needs low > 0")
        if kind == "normal" and vals["std"] <= 0:
            raise ConfigError(f"{where}: normal needs std > 0")
        return {"distribution": kind, **vals}
    extra = set(raw) - {"start", "stop", "num", "step", "log", "int"}
    if extra:
        raise ConfigError(f"{where}: unknown range key(s) {sorted(extra)} (start, stop, num, step, "
                          "log, int)")
    if "start" not in raw or "stop" not in raw:
        raise ConfigError(f"{where}: a range needs start and stop")
    start, stop = _num(raw["start"], f"{where}.start"), _num(raw["stop"], f"{where}.stop")
    log, ints = bool(raw.get("log", False)), bool(raw.get("int", False))
    if ("num" in raw) == ("step" in raw):
        raise ConfigError(f"{where}: a range takes exactly one of num and step")
    if "num" in raw:
        num = raw["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ConfigError(f"{where}: num must be an integer >= 1, got {num!r}")
        if log:
            if start <= 0 or stop <= 0:
                raise ConfigError(f"{where}: a log range needs start and stop > 0")
            vals = np.geomspace(start, stop, num)
        else:
            vals = np.linspace(start, stop, num)
    else:
        step = _num(raw["step"], f"{where}.step")
        if step == 0 or (log and step <= 1):
            raise ConfigError(f"{where}: step {step} never reaches stop"
                              + (" (a log range's step is a factor > 1)" if log else ""))
        if (stop - start) * (1 if log else step) < 0 and not log:
            raise ConfigError(f"{where}: step {step} goes away from stop")
        if log:
            if start <= 0 or stop < start:
                raise ConfigError(f"{where}: a log range needs 0 < start <= stop")
            n = int(math.floor(math.log(stop / start) / math.log(step) + 1e-9)) + 1
            vals = start * step ** np.arange(n)
        else:
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            vals = start + step * np.arange(n)
        if n > 1_000_000:
            raise ConfigError(f"{where}: range has {n} values (at most 1,000,000)")
    out = _as_int_if_whole(list(vals), ints)
    if not out:
        raise ConfigError(f"{where}: empty range")
    return out


def sweep_spec_from_dict(raw: dict, origin: str = "<sweep>", root: Path | None = None) -> SweepSpec:
    """Validate a parsed sweep spec; the base config path is resolved against ``root``."""
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, origin, EXAMPLE, show_input=True)) from None
    if not spec.axes:
        raise ConfigError(f"{origin}: no axes (key 'axes': dotted config key -> values)")
    axes = {}
    for key, val in spec.axes.items():
        parts = key.split(",") if isinstance(key, str) else [None]
        if any(not p or any(not q for q in p.split(".")) for p in parts):
            raise ConfigError(f"{origin}: sweep axis {key!r}: not a dotted key")
        if len(parts) > 1 and any(p.startswith(PRESET_PREFIX) for p in parts):
            raise ConfigError(f"{origin}: sweep axis '{key}': preset axes cannot be linked")
        if key.startswith(PRESET_PREFIX) and len(key.split(".")) != 3:
            raise ConfigError(f"{origin}: sweep axis '{key}': preset axes are "
                              "preset.<section>.<key>")
        try:
            axes[key] = axis_values(key, val)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
        if isinstance(axes[key], dict) and spec.mode == "grid":
            raise ConfigError(f"{origin}: sweep axis '{key}': a distribution needs mode: random")
    if spec.mode == "random" and spec.n is None:
        raise ConfigError(f"{origin}: mode random needs n (the number of trials)")
    if isinstance(spec.base, str) and root is not None and not Path(spec.base).is_absolute():
        candidate = root / spec.base
        spec = spec.model_copy(update={"base": str(candidate)})
    return spec.model_copy(update={"axes": axes})


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Load and validate a sweep spec file (`ConfigError` naming the file and the axis)."""
    p = Path(path)
    raw = read_yaml_mapping(p, ConfigError, "sweep spec")
    return sweep_spec_from_dict(raw, str(p), root=p.parent)
