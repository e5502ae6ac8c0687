"""Bad sweep specs end with exit 2 naming the axis before any trial starts; spec forms."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rram_lsm.cli import main
from rram_lsm.errors import ConfigError
from rram_lsm.sweep.plan import plan_trials
from rram_lsm.sweep.spec import axis_values, load_sweep_spec, sweep_spec_from_dict

REPO = Path(__file__).resolve().parents[2]
BASE = {"zero_shot": {"enabled": False}, "seeds": 1, "sources": ["macro"]}


@pytest.mark.parametrize(("axes", "needle"), [
    ({"lsm.image.nonsense": [1, 2]}, "lsm.image.nonsense"),  # unknown dotted key
    ({"lsm.image.analog.adc_bits": []}, "lsm.image.analog.adc_bits"),  # empty axis
    ({"lsm.image.analog.drift_s": {"start": 0, "stop": 10, "step": 0}}, "lsm.image.analog.drift_s"),
    ({"lsm.image.analog.adc_bits": [4, 0]}, "lsm.image.analog.adc_bits"),  # rejected value
    ({"lsm.audio.n_neurons": ["many"]}, "lsm.audio.n_neurons"),
    ({"preset.read.nope": [0.1]}, "preset.read.nope"),  # unknown preset key
    ({"preset.faults.stuck_low_rate": [-0.5]}, "preset.faults.stuck_low_rate"),  # rejected
])
def test_bad_spec_exits_2_naming_the_axis(tmp_path, capsys, axes, needle):
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"name": "bad", "base": BASE, "axes": axes, "dies": {"n": 2}}))
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--data-root", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (out / "results.csv").exists()


def test_ranges_and_distributions():
    assert axis_values("a", {"start": 1, "stop": 1000, "num": 4, "log": True}) == pytest.approx(
        [1, 10, 100, 1000])
    assert axis_values("a", {"start": 50, "stop": 200, "step": 50, "int": True}) == [50, 100, 150, 200]
    assert axis_values("a", {"start": 1, "stop": 100, "step": 10, "log": True}) == pytest.approx(
        [1, 10, 100])
    with pytest.raises(ConfigError, match="'a'.*num"):
        axis_values("a", {"start": 1, "stop": 2})
    with pytest.raises(ConfigError, match="'x'.*distribution"):
        sweep_spec_from_dict({"base": BASE, "axes": {"x": {"distribution": "uniform", "low": 0,
                                                              "high": 1}}})


def test_random_mode_plans_n_seeded_trials(tmp_path):
    raw = {"base": BASE, "mode": "random", "n": 4, "seed": 3, "dies": {"n": 2},
           "axes": {"lsm.image.weights.form_voltage": {"distribution": "uniform", "low": 2.5,
                                                       "high": 3.5},
                    "lsm.image.analog.adc_bits": [4, 6]}}
    a = plan_trials(sweep_spec_from_dict(raw), tmp_path)
    b = plan_trials(sweep_spec_from_dict(raw), tmp_path)
    assert len(a) == 8 and [t.key for t in a] == [t.key for t in b]
    assert all(2.5 <= t.params["lsm.image.weights.form_voltage"] <= 3.5 for t in a)
    assert {t.config["lsm"]["image"]["weights"]["macro_seed"] for t in a} == {0, 1}


def test_preset_axis_writes_a_derived_preset(tmp_path):
    raw = {"base": BASE, "axes": {"preset.faults.stuck_low_rate": [0.0, 0.05]}}
    trials = plan_trials(sweep_spec_from_dict(raw), tmp_path)
    from crossbar.spec import load_preset

    rates = {load_preset(t.config["lsm"]["image"]["weights"]["preset"]).faults.stuck_low_rate
             for t in trials}
    assert rates == {0.0, 0.05}


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_sweeps_plan(tmp_path, path):
    spec = load_sweep_spec(path)
    assert spec.dies.n >= 10
    # every axis value validated (one die keeps this quick)
    one_die = spec.model_copy(update={"dies": spec.dies.model_copy(update={"n": 1})})
    assert len(plan_trials(one_die, tmp_path)) >= 5
