"""Shared fixtures of the whole suite (tests are grouped by package: crossbar/, data/, firmware/,
lsm/, experiments/, project/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossbar import load_preset
from crossbar.defaults import DEFAULT_PRESET
from crossbar.resources import config_file

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spec():
    """The default 512 x 512 preset."""
    return load_preset(DEFAULT_PRESET)


@pytest.fixture(scope="session")
def ideal_spec(spec):
    """The default preset without faults (for statistics that should follow the clean laws)."""
    return spec.with_overrides(faults={"stuck_low_rate": 0.0, "stuck_high_rate": 0.0})


@pytest.fixture(scope="session")
def small_spec(spec):
    """Factory ``small_spec(rows, cols)``: the default preset with small arrays (forces tiling,
    keeps firmware programs short)."""
    cache: dict = {}

    def make(rows: int, cols: int):
        if (rows, cols) not in cache:
            cache[rows, cols] = spec.with_overrides(geometry={"rows": rows, "cols": cols})
        return cache[rows, cols]

    return make


@pytest.fixture(scope="session")
def small_preset_file(tmp_path_factory):
    """Factory ``small_preset_file(rows, cols, name)``: the shipped default preset with small
    arrays, written as a YAML file (for CLIs and configs that take a preset path)."""
    folder = tmp_path_factory.mktemp("presets")

    def make(rows: int, cols: int, name: str) -> str:
        path = folder / f"{name}.yaml"
        if not path.is_file():
            raw = yaml.safe_load(config_file(f"macro/{DEFAULT_PRESET}.yaml").read_text())
            raw["name"] = name
            raw["geometry"]["rows"]["value"] = rows
            raw["geometry"]["cols"]["value"] = cols
            path.write_text(yaml.safe_dump(raw))
        return str(path)

    return make
