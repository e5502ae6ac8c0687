"""Typed, validated macro presets.

A preset YAML file gives every physical number as a *sourced leaf*::

    forming:
      v_start: {value: 3.0, source: "[ESGNN] forming sweeps start at 3 V"}
      breakdown_std_v: {value: 0.25, assumption: "quasi-normal spread; value not published"}

`load_spec` checks that each leaf carries `source` or `assumption`, strips the provenance into
`MacroSpec.provenance` (dotted key -> text) and validates the bare values into the typed
`MacroSpec` below. Every problem raises `SpecError` naming the file, the dotted key and the allowed
range. Units (docs/design.md): conductance in uS, voltage in V, time in s unless a name says ns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crossbar.defaults import DEFAULT_PRESET
from crossbar.errors import SpecError
from crossbar.resources import config_dir, config_file, list_config_files
from crossbar.validation import format_validation_error, read_yaml_mapping

PRESET_DIR_ENV = "RRAM_LSM_PRESETS"
PRESET_EXAMPLE = f"configs/macro/{DEFAULT_PRESET}.yaml"


class _Section(BaseModel):
    # strict: a quoted number ("0.1"), a boolean for a number (rows: true) or a float for an
    # integer (rows: 2.0) is an error, not silently converted; floats may be written as integers.
    # NaN and infinities are refused everywhere (no physical value of a preset is infinite).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Geometry(_Section):
    rows: int = Field(gt=0, le=65536)
    cols: int = Field(gt=0, le=65536)
    cell: Literal["1T1R", "1R"] = "1T1R"


class Read(_Section):
    v_read: float = Field(gt=0, le=5.0)
    t_read_ns: float = Field(gt=0, le=1e6)
    noise_relative: float = Field(ge=0, le=1.0)
    noise_floor_us: float = Field(ge=0, le=1000.0)


class Pristine(_Section):
    g_median_us: float = Field(gt=0, le=1000.0)
    g_sigma_log: float = Field(ge=0, le=5.0)


class Forming(_Section):
    v_start: float = Field(gt=0, le=20.0)
    v_step: float = Field(gt=0, le=5.0)
    v_default: float = Field(gt=0, le=20.0)
    breakdown_mean_v: float = Field(gt=0, le=20.0)
    breakdown_std_v: float = Field(ge=0, le=10.0)
    g_formed_threshold_us: float = Field(gt=0, le=10000.0)
    g_formed_mean_us: float = Field(gt=0, le=10000.0)
    g_formed_std_us: float = Field(ge=0, le=10000.0)
    g_formed_max_us: float = Field(gt=0, le=10000.0)
    compliance_ua: float = Field(gt=0, le=10000.0)
    t_pulse_ns: float = Field(gt=0, le=1e9)

    @model_validator(mode="after")
    def _ordered(self) -> Forming:
        if not self.g_formed_threshold_us < self.g_formed_max_us:
            raise ValueError("g_formed_threshold_us must be below g_formed_max_us")
        return self


class Switching(_Section):
    g_min_us: float = Field(gt=0, le=10000.0)
    g_max_us: float = Field(gt=0, le=10000.0)
    v_set_threshold: float = Field(ge=0, le=20.0)
    v_reset_threshold: float = Field(ge=0, le=20.0)
    set_rate_per_v: float = Field(ge=0, le=100.0)
    reset_rate_per_v: float = Field(ge=0, le=100.0)
    t_ref_ns: float = Field(gt=0, le=1e9)
    c2c_std: float = Field(ge=0, le=5.0)

    @model_validator(mode="after")
    def _ordered(self) -> Switching:
        if not self.g_min_us < self.g_max_us:
            raise ValueError("g_min_us must be below g_max_us")
        return self


class Drift(_Section):
    t0_s: float = Field(gt=0, le=1e9)
    nu_mean: float = Field(ge=-1.0, le=1.0)
    nu_std: float = Field(ge=0, le=1.0)


class Faults(_Section):
    stuck_low_rate: float = Field(ge=0, le=1.0)
    stuck_high_rate: float = Field(ge=0, le=1.0)
    g_stuck_low_us: float = Field(ge=0, le=10000.0)
    g_stuck_high_us: float = Field(ge=0, le=10000.0)

    @model_validator(mode="after")
    def _total(self) -> Faults:
        if self.stuck_low_rate + self.stuck_high_rate > 1.0:
            raise ValueError("stuck_low_rate + stuck_high_rate must not exceed 1")
        return self


class Periphery(_Section):
    adc_bits: int = Field(ge=1, le=24)
    adc_range_rule: Literal["percentile", "max", "fixed"]
    adc_percentile: float = Field(gt=0, le=100.0)
    adc_fixed_range_ua: float = Field(gt=0, le=1e6)
    adcs_per_array: int = Field(ge=1, le=65536)
    t_adc_ns: float = Field(ge=0, le=1e6)
    tia_v_fullscale: float = Field(gt=0, le=10.0)
    r_wire_ohm: float = Field(ge=0, le=1e4)
    ir_drop: bool = False


class Ratings(_Section):
    v_form_max: float = Field(gt=0, le=50.0)
    v_set_max: float = Field(gt=0, le=50.0)
    v_reset_max: float = Field(gt=0, le=50.0)
    v_wl_max: float = Field(gt=0, le=50.0)
    v_read_max: float = Field(gt=0, le=50.0)
    t_pulse_max_ns: float = Field(gt=0, le=1e12)
    compliance_max_ua: float = Field(gt=0, le=1e5)


class Energy(_Section):
    e_adc_j: float = Field(ge=0, le=1e-6)
    e_wordline_j: float = Field(ge=0, le=1e-6)
    e_cell_read_overhead_j: float = Field(ge=0, le=1e-6)
    e_write_overhead_j: float = Field(ge=0, le=1e-3)


class MacroSpec(_Section):
    """The validated physical description of one macro (see the preset YAML for units/sources)."""

    name: str
    description: str = ""
    geometry: Geometry
    read: Read
    pristine: Pristine
    forming: Forming
    switching: Switching
    drift: Drift
    faults: Faults
    periphery: Periphery
    ratings: Ratings
    energy: Energy
    provenance: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> MacroSpec:
        if self.read.v_read > self.ratings.v_read_max:
            raise ValueError("read.v_read exceeds ratings.v_read_max")
        if self.forming.v_start > self.ratings.v_form_max:
            raise ValueError("forming.v_start exceeds ratings.v_form_max")
        if self.forming.compliance_ua > self.ratings.compliance_max_ua:
            raise ValueError("forming.compliance_ua exceeds ratings.compliance_max_ua")
        return self

    @property
    def cells(self) -> int:
        return self.geometry.rows * self.geometry.cols

    def with_overrides(self, **sections: dict[str, Any]) -> MacroSpec:
        """Return a copy with some values replaced, e.g. ``with_overrides(read={"noise_relative": 0})``.

        The copy is re-validated; changed keys get provenance ``override``.
        """
        data = self.model_dump()
        prov = dict(self.provenance)
        for section, values in sections.items():
            if section not in data or not isinstance(data[section], dict):
                raise SpecError(f"{self.name}: unknown section '{section}' in override")
            for key, value in values.items():
                if key not in data[section]:
                    raise SpecError(f"{self.name}: unknown key '{section}.{key}' in override")
                data[section][key] = value
                prov[f"{section}.{key}"] = "override"
        data["provenance"] = prov
        return _validate(data, origin=f"{self.name} (override)")


# --- loading -------------------------------------------------------------------------------

_META_KEYS = {"name", "description"}
_PROVENANCE_KEYS = ("source", "assumption")


def _strip_provenance(node: Any, path: str, origin: str, prov: dict[str, str]) -> Any:
    """Turn sourced leaves into bare values, recording where each value comes from."""
    if not isinstance(node, dict):
        raise SpecError(
            f"{origin}: key '{path}' must be a mapping {{value: ..., source: ...}} or a section; "
            f"got {type(node).__name__}"
        )
    if "value" in node:
        extra = set(node) - {"value", *_PROVENANCE_KEYS}
        if extra:
            raise SpecError(
                f"{origin}: key '{path}' has unknown field(s) {sorted(extra)}; "
                "a leaf holds only 'value' and 'source' or 'assumption'"
            )
        texts = [node[k] for k in _PROVENANCE_KEYS if k in node]
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise SpecError(
                f"{origin}: key '{path}' has no 'source:' or 'assumption:'; every preset value must "
                "say where it comes from (add source: \"<paper, figure>\" or assumption: \"<why>\")"
            )
        label = "source" if "source" in node else "assumption"
        prov[path] = f"{label}: {node[label]}"
        return node["value"]
    return {k: _strip_provenance(v, f"{path}.{k}", origin, prov) for k, v in node.items()}


def _validate(data: dict[str, Any], origin: str) -> MacroSpec:
    try:
        return MacroSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, origin, PRESET_EXAMPLE, show_input=True)) from None


def spec_from_dict(raw: dict[str, Any], origin: str = "<dict>") -> MacroSpec:
    """Validate a preset given as a parsed YAML mapping with sourced leaves."""
    if not isinstance(raw, dict):
        raise SpecError(f"{origin}: a macro preset must be a YAML mapping at the top level")
    prov: dict[str, str] = {}
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _META_KEYS:
            data[key] = value
        else:
            data[key] = _strip_provenance(value, key, origin, prov)
    data["provenance"] = prov
    return _validate(data, origin)


def load_spec(path: str | os.PathLike) -> MacroSpec:
    """Load and validate a preset YAML file."""
    raw = read_yaml_mapping(path, SpecError, "preset")
    return spec_from_dict(raw, origin=str(path))


PRESET_SUBDIR = "macro"  # the shipped presets: configs/macro/<name>.yaml (`crossbar.resources`)


def _env_dirs() -> list[Path]:
    env = os.environ.get(PRESET_DIR_ENV)
    return [Path(p) for p in env.split(os.pathsep) if p] if env else []


def preset_dirs() -> list[Path]:
    """Folders searched for named presets: $RRAM_LSM_PRESETS, then the shipped presets' folder.

    The shipped folder is left out only for a zipped install (its files are still found by
    `list_presets` / `load_preset`)."""
    shipped = config_dir(PRESET_SUBDIR)
    return _env_dirs() + ([shipped] if shipped is not None else [])


def list_presets() -> list[str]:
    """Names of all presets: those in $RRAM_LSM_PRESETS folders and the shipped ones."""
    names: set[str] = set()
    for d in _env_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    names.update(n[: -len(".yaml")] for n in list_config_files(PRESET_SUBDIR))
    return sorted(names)


def load_preset(name: str = DEFAULT_PRESET) -> MacroSpec:
    """Load a named preset (a file ``<name>.yaml`` in $RRAM_LSM_PRESETS folders, else a shipped
    preset), or a path to a YAML file."""
    if name.endswith((".yaml", ".yml")) or os.sep in name or "/" in name:
        return load_spec(name)
    for d in _env_dirs():
        candidate = d / f"{name}.yaml"
        if candidate.is_file():
            return load_spec(candidate)
    shipped = config_file(f"{PRESET_SUBDIR}/{name}.yaml", required=False)
    if shipped is not None:
        return load_spec(shipped)
    raise SpecError(
        f"unknown macro preset '{name}'; available: {', '.join(list_presets()) or '(none found)'}; "
        f"or pass a YAML file with --spec"
    )
