"""`rram-lsm sweep`: a tiny sweep on a local 2-CPU Ray (grid 2 x 2 x 2 dies), the results table,
a failing trial, the resume after a kill, the report from the table alone."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rram_lsm.cli import main
from rram_lsm.sweep.engine import run_sweep, trial_row
from rram_lsm.sweep.report import pareto_front, write_report
from rram_lsm.sweep.spec import sweep_spec_from_dict

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]

# classification probes only, on a few built-in samples and small reservoirs: ~1 s a trial
BASE = {"name": "tiny", "zero_shot": {"enabled": False},
        "classify": {"enabled": True, "raw_baselines": False},
        "baselines": {"protonet": {"enabled": False}, "rnn_classifier": {"enabled": False}},
        "seeds": 1, "sources": ["macro"], "feature_modes": ["rate"],
        "data": {"image_dataset": "digits-dvs", "audio_dataset": "spoken-digits",
                 "builtin": {"per_class_train": 6, "per_class_test": 2}},
        "lsm": {"image": {"n_neurons": 24}, "audio": {"n_neurons": 24}}}
METRICS = ["classify.image.macro.accuracy", "energy_per_inference_j.macro",
           "lsm.macro.image.firing.mean_rate"]


def tiny_spec(**extra) -> dict:
    return {"name": "tiny", "base": BASE, "mode": "grid",
            "axes": {"lsm.image.analog.adc_bits": [3, 6], "preset.read.noise_relative": [0.0, 0.1]},
            "dies": {"n": 2}, "metrics": METRICS, **extra}


def read_rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray of 2 CPUs for the module (starting Ray takes seconds)."""
    os.environ.setdefault("PYTHONPATH", str(REPO))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


# first: before the module's Ray starts (two local Rays would share the 2 CPUs)
def test_resume_after_kill(tmp_path):
    """Kill a running sweep (CLI on a local 2-CPU Ray, its whole process group) once rows
    appear; the rerun skips the finished trials and runs the rest, each exactly once."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(tiny_spec(dies={"n": 2})))
    out = tmp_path / "s"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "rram_lsm", "sweep", str(spec_path), "--out",
                             str(out), "--data-root", str(tmp_path / "data"), "--max-concurrent", "2",
                             "--quiet"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if (out / "results.csv").exists() and len(read_rows(out)) >= 1:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {r["key"] for r in read_rows(out)}
    assert 1 <= len(done) < 8
    spec = sweep_spec_from_dict(tiny_spec(dies={"n": 2}))
    o = run_sweep(spec, out, tmp_path / "data", progress=False, executor="serial")
    assert o.skipped == len(done) and o.ran == 8 - len(done) and o.failed == 0
    rows = read_rows(out)
    assert len(rows) == 8 and len({r["key"] for r in rows}) == 8


def test_tiny_sweep_on_ray_table_rerun_report(local_ray, tmp_path):
    spec = sweep_spec_from_dict(tiny_spec())
    out = tmp_path / "sweep"
    o = run_sweep(spec, out, tmp_path / "data", progress=False)
    assert (o.trials, o.ran, o.skipped, o.failed) == (8, 8, 0, 0)
    rows = read_rows(out)
    assert len(rows) == 8 and len({r["key"] for r in rows}) == 8
    assert {(r["axis:lsm.image.analog.adc_bits"], r["axis:preset.read.noise_relative"], r["die"])
            for r in rows} == {(b, n, d) for b in ("3", "6") for n in ("0.0", "0.1")
                               for d in ("0", "1")}
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert 0.0 <= float(r["metric:classify.image.macro.accuracy"]) <= 1.0
        assert float(r["metric:energy_per_inference_j.macro"]) > 0
    # each die differs (its own macro): the accuracy or the energy moves between dies
    by_die = {r["die"]: r["metric:energy_per_inference_j.macro"] for r in rows
              if r["axis:lsm.image.analog.adc_bits"] == "3" and r["axis:preset.read.noise_relative"] == "0.0"}
    assert by_die["0"] != by_die["1"]
    # a rerun skips every finished trial
    again = run_sweep(spec, out, tmp_path / "data", progress=False)
    assert (again.ran, again.skipped) == (0, 8)
    # the report from the table alone (CLI), after removing what an earlier report wrote
    assert main(["sweep", "report", str(out)]) == 0
    md = (out / "sweep.md").read_text()
    assert "8 trials in the table: 8 ok" in md and "Pareto front" in md and "Yield" in md
    figs = {p.name for p in (out / "figures").iterdir()}
    assert {"pareto.png", "yield.png", "vs_lsm_image_analog_adc_bits.png",
            "heat_lsm_image_analog_adc_bits__preset_read_noise_relative.png"} <= figs


def test_failing_trial_is_recorded_and_the_sweep_goes_on(local_ray, tmp_path):
    spec = sweep_spec_from_dict(tiny_spec(axes={"lsm.image.analog.adc_bits": [4]}, dies={"n": 3}))

    def flaky(trial, splits, metrics):  # nested: Ray ships it by value
        if trial["die"] == 1:
            raise RuntimeError("die 1 broke")
        return trial_row(trial, splits, metrics)

    # a trial that raises inside the experiment is recorded too (bad data for die 2 only)
    def flaky_inside(trial, splits, metrics):
        if trial["die"] == 2:
            splits = {m: {} for m in splits}
        return flaky(trial, splits, metrics)

    o = run_sweep(spec, tmp_path / "s", tmp_path / "data", progress=False, trial_fn=flaky_inside)
    assert (o.ran, o.failed) == (3, 2)
    rows = {r["die"]: r for r in read_rows(tmp_path / "s")}
    assert rows["0"]["status"] == "ok"
    assert rows["1"]["status"] == "error" and "die 1 broke" in rows["1"]["error"]
    assert rows["2"]["status"] == "error" and "KeyError" in rows["2"]["error"]
    assert "Failed trials" in write_report(tmp_path / "s").read_text()
    # a rerun retries the failed trials only
    o2 = run_sweep(spec, tmp_path / "s", tmp_path / "data", progress=False, executor="serial")
    assert (o2.skipped, o2.ran, o2.failed) == (1, 2, 0)
    assert len(read_rows(tmp_path / "s")) == 3


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.7), (3.0, 0.9), (0.5, 0.1)]
    assert pareto_front(pts) == [4, 0, 2, 3]
