"""Macro presets: the shipped preset is sourced and valid; bad presets fail naming the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crossbar import SpecError, load_spec, spec_from_dict
from crossbar.spec import preset_dirs

PRESET = preset_dirs()[-1] / "rram-40nm-256kb.yaml"


def _raw():
    return yaml.safe_load(PRESET.read_text())


def test_shipped_preset_every_value_sourced(spec):
    raw = _raw()
    n_leaves = sum(len(v) for k, v in raw.items() if isinstance(v, dict))
    assert len(spec.provenance) == n_leaves
    assert all(p.startswith(("source: ", "assumption: ")) for p in spec.provenance.values())
    # values sourced from the group's published figures (docs/physics-sources.md)
    assert spec.geometry.rows * spec.geometry.cols == 256 * 1024
    assert spec.forming.v_start == 3.0 and spec.forming.v_step == 0.05
    assert spec.forming.g_formed_threshold_us == pytest.approx(1e6 / 20e3)
    assert spec.pristine.g_median_us == pytest.approx(1e6 / 10e6)


@pytest.mark.parametrize(
    ("mutate", "key", "fragment"),
    [
        (lambda r: r["forming"].__setitem__("v_strat", {"value": 3.0, "source": "x"}),
         "forming.v_strat", "unknown key"),
        (lambda r: r["pristine"]["g_median_us"].__setitem__("value", -0.1),
         "pristine.g_median_us", "greater than 0"),
        (lambda r: r["read"]["v_read"].pop("assumption"), "read.v_read", "no 'source:'"),
        (lambda r: r["geometry"]["rows"].__setitem__("value", "many"), "geometry.rows",
         "integer"),
        (lambda r: r["periphery"]["adc_bits"].__setitem__("value", 40), "periphery.adc_bits",
         "allowed: le 24"),
        (lambda r: r.pop("energy"), "energy", "missing"),
        (lambda r: r["read"].__setitem__("v_read", 0.1), "read.v_read", "must be a mapping"),
    ],
)
def test_bad_preset_names_the_key(mutate, key, fragment):
    raw = _raw()
    mutate(raw)
    with pytest.raises(SpecError) as err:
        spec_from_dict(raw, origin="bad.yaml")
    msg = str(err.value)
    assert "bad.yaml" in msg and key in msg and fragment in msg


def test_load_spec_reports_missing_and_unparsable_files(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("geometry: [1, 2\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)


def test_override_revalidates(spec):
    s = spec.with_overrides(read={"noise_relative": 0.0})
    assert s.read.noise_relative == 0 and s.provenance["read.noise_relative"] == "override"
    with pytest.raises(SpecError, match="read.noise_relative"):
        spec.with_overrides(read={"noise_relative": -1})


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rram_lsm", *args], capture_output=True,
                          text=True, timeout=300)


def test_cli_macro_stats_json(tmp_path, ideal_spec):
    r = _cli("macro", "stats", "--json", "--seed", "3", "--form-voltage", "3.5",
             "--out", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    for k in ("rows", "cols", "formed_fraction", "g_formed_mean_us", "g_formed_std_us",
              "g_pristine_mean_us", "weight_mean", "weight_std", "energy_per_mvm_j"):
        assert k in s
    assert (s["rows"], s["cols"]) == (512, 512)
    assert abs(s["formed_fraction"] - s["formed_fraction_expected"]) < 0.01
    assert s["energy_per_mvm_j"] > 0
    assert Path(tmp_path / "o" / "conductance.png").stat().st_size > 1000
    # the run folder is not overwritten silently
    r2 = _cli("macro", "stats", "--out", str(tmp_path / "o"))
    assert r2.returncode == 2 and "--force" in r2.stderr


def test_cli_bad_input_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    raw = _raw()
    raw["forming"]["v_start"] = {"value": 3.0}
    bad.write_text(yaml.safe_dump(raw))
    r = _cli("macro", "stats", "--spec", str(bad))
    assert r.returncode == 2
    assert "forming.v_start" in r.stderr and "Traceback" not in r.stderr
    r = _cli("macro", "stats", "--form-voltage", "9")
    assert r.returncode == 2 and "absolute-maximum" in r.stderr
    r = _cli("macro", "stats", "--preset", "no-such-chip")
    assert r.returncode == 2 and "unknown macro preset" in r.stderr
