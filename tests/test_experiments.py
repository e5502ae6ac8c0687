"""The experiment pipeline end to end on a tiny configuration, and its CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rram_lsm.errors import ConfigError
from rram_lsm.experiments.config import experiment_config_from_dict, load_experiment_config
from rram_lsm.experiments.results import ExperimentResults

TINY = [
    "data.builtin.per_class_train=8", "data.builtin.per_class_test=4",
    "seeds=2", "workers=1",
    "zero_shot.held_out_pairs=[[8, 9], [2, 5]]", "zero_shot.max_test_per_class=4",
    "heads.epochs=3", "heads.batch_size=16",
    "baselines.protonet.epochs=2", "baselines.protonet.seeds=1",
    "baselines.srnn_clip.enabled=true", "baselines.srnn_clip.epochs=1",
    "baselines.rnn_classifier.enabled=true", "baselines.rnn_classifier.epochs=1",
    "classify.pca_components=10",
]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rram_lsm", *args], capture_output=True,
                          text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    out = root / "run"
    args = ["run", "--out", str(out), "--data-root", str(root / "data"), "--json"]
    for s in TINY:
        args += ["--set", s]
    r = _cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, json.loads(r.stdout), root


def _is_frac(x):
    return 0.0 <= x <= 1.0


def test_metrics_have_the_documented_keys(tiny_run):
    out, m, _ = tiny_run
    for source in ("gaussian", "macro"):
        for block in ("zero_shot", "zero_shot_paper_protocol"):
            z = m[block][source]
            for split in ("seen", "unseen"):
                for metric in ("a2i_top1", "i2a_top1"):
                    e = z[split][metric]
                    assert set(e) >= {"mean", "std", "per_seed"}
                    assert len(e["per_seed"]) == 2 and all(map(_is_frac, e["per_seed"]))
            assert set(z["unseen"]["a2i_top1"]["per_pair"]) == {"8/9", "2/5"}
        for modality in ("image", "audio"):
            assert _is_frac(m["classify"][modality][source]["accuracy"])
    for modality in ("image", "audio"):
        assert _is_frac(m["classify"][modality]["raw"]["accuracy"])
    # chance levels: seen = 7 of digits 1-9 held out pair removed -> 1/7; unseen 2-way -> 1/2
    assert m["chance"]["seen"] == pytest.approx(1 / 7)
    assert m["chance"]["unseen"] == pytest.approx(0.5)
    assert m["costs"]["training_ratio"] > 1 and m["costs"]["energy_ratio"] > 0
    b = m["baselines"]
    for name in ("lsm_protonet", "srnn_clip"):
        assert _is_frac(b[name]["validation"]["unseen_a2i_top1"]["mean"])
    for modality in ("image", "audio"):
        assert _is_frac(b["rnn_classifier"][modality]["mean"])
    assert m["runtime_s"] > 0
    # the paper protocol picks its epoch on the test set, so it can only score higher there
    for source in ("gaussian", "macro"):
        v = m["zero_shot"][source]["unseen"]["a2i_top1"]["mean"]
        p = m["zero_shot_paper_protocol"][source]["unseen"]["a2i_top1"]["mean"]
        assert p >= v - 1e-9


def test_run_folder_contents(tiny_run):
    out, m, _ = tiny_run
    assert (out / "config.yaml").is_file() and (out / "metrics.json").is_file()
    report = (out / "report.md").read_text()
    assert "Zero-shot cross-modal retrieval" in report and "numbers on different data" in report
    assert "chance" in report
    for name in ("conductance", "inputs_image", "inputs_audio", "raster_image", "raster_audio",
                 "similarity", "embeddings", "zero_shot_pairs", "training_curves"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000, name
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["zero_shot"]["macro"]["seen"]["a2i_top1"]["mean"] == \
        m["zero_shot"]["macro"]["seen"]["a2i_top1"]["mean"]
    # --json prints metrics.json plus the run folder; both read back as typed results
    assert saved["schema_version"] == 1
    assert {k: v for k, v in m.items() if k != "out"} == saved and m["out"] == str(out)
    assert ExperimentResults.load(out).to_dict() == saved
    # the resolved config re-validates
    cfg = load_experiment_config(out / "config.yaml")
    assert cfg.seeds == 2


def test_existing_run_folder_is_not_overwritten(tiny_run):
    out, _, root = tiny_run
    r = _cli("run", "--out", str(out), "--data-root", str(root / "data"))
    assert r.returncode == 2 and "--force" in r.stderr and "Traceback" not in r.stderr


def test_bad_config_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("heads: {batch_size: 1}\nseeds: 2\n")
    r = _cli("run", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "heads.batch_size" in r.stderr and "Traceback" not in r.stderr
    r = _cli("run", "--set", "zero_shot.held_out_pairs=[[3, 3]]", "--out", str(tmp_path / "o2"))
    assert r.returncode == 2 and "held_out_pairs" in r.stderr
    r = _cli("run", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2 and "not found" in r.stderr


def test_config_validation_in_process():
    with pytest.raises(ConfigError, match="unknown key"):
        experiment_config_from_dict({"sedes": 3}, "x.yaml")
    with pytest.raises(ConfigError, match="lsm.image"):
        experiment_config_from_dict({"lsm": {"image": {"decay": 7}}}, "x.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        experiment_config_from_dict({}, "x.yaml", ["seeds"])


def test_shipped_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "configs"
    names = ["zero_shot_default.yaml", "zero_shot_nmnist_ntidigits.yaml",
             "classify_builtin.yaml", "classify_nmnist_ntidigits.yaml"]
    for n in names:
        load_experiment_config(root / n)
    # the default demo is what `rram-lsm run` runs without a config
    assert load_experiment_config(root / "zero_shot_default.yaml").name == "zero-shot-default"
