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
    args = ["run", "--out", str(out), "--data-root", str(root / "data"), "--json",
            "--set", f"cache_dir={root / 'cache'}"]
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

    root = Path(__file__).resolve().parents[2] / "configs"
    names = ["zero_shot_default.yaml", "zero_shot_nmnist_ntidigits.yaml",
             "classify_builtin.yaml", "classify_nmnist_ntidigits.yaml"]
    for n in names:
        load_experiment_config(root / n)
    # the default demo is what `rram-lsm run` runs without a config
    assert load_experiment_config(root / "zero_shot_default.yaml").name == "zero-shot-default"


def test_second_run_reuses_the_feature_cache(tiny_run, tmp_path, capsys):
    """A second run of the same config reads every encoding from the cache and gives the same
    metrics; a changed LSM setting misses the cache for that modality only."""
    from rram_lsm.experiments.runner import run_experiment

    _, _, root = tiny_run
    small = TINY[:2] + ["seeds=1", "workers=1", "zero_shot.held_out_pairs=[[8, 9]]",
                        "zero_shot.max_test_per_class=4", "heads.epochs=2",
                        "heads.batch_size=16", "baselines.protonet.enabled=false",
                        "classify.pca_components=10", f"cache_dir={tmp_path / 'cache'}"]
    cfg = experiment_config_from_dict({}, "<test>", small)

    def run(name, c):
        m = run_experiment(c, tmp_path / name, root / "data")
        return m.to_dict(), capsys.readouterr().out

    first, log1 = run("a", cfg)
    second, log2 = run("b", cfg)
    assert first["timings"]["encode_cache_hits"] == 0 and "0 of 8 splits" in log1
    assert second["timings"]["encode_cache_hits"] == 8 and "8 of 8 splits from the cache" in log2
    saved = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert saved["timings"]["encode_cache_hits"] == 8

    def strip(m):
        return {k: v for k, v in m.items() if k not in ("timings", "runtime_s")}

    assert json.dumps(strip(first), sort_keys=True) == json.dumps(strip(second), sort_keys=True)
    for name in ("conductance", "raster_image", "raster_audio"):  # figures still drawn on a hit
        assert (tmp_path / "b" / "figures" / f"{name}.png").is_file()
    changed = experiment_config_from_dict({}, "<test>", small + ["lsm.image.const=0.01"])
    third, _ = run("c", changed)
    assert third["timings"]["encode_cache_hits"] == 4  # audio hits, image re-encoded


def test_encoded_modality_from_cache_matches_a_fresh_encode(tmp_path):
    """A cache hit provides the same features, raster, ledger and macro as an uncached encode."""
    import numpy as np

    from rram_lsm.experiments.encoding import encode_modality

    cfg = experiment_config_from_dict(
        {"lsm": {"image": {"n_neurons": 12, "n_steps": 10, "n_inputs": 16,
                           "analog": {"calibration_samples": 4}}},
         "cache_dir": str(tmp_path / "cache")}, "<test>")
    rng = np.random.default_rng(0)
    frames = {s: (rng.random((n, 10, 16)) < 0.2).astype(np.uint8)
              for s, n in (("train", 9), ("test", 5))}
    plain = encode_modality(cfg.model_copy(update={"cache_dir": None}), "image", "macro", 3,
                            frames)
    miss = encode_modality(cfg, "image", "macro", 3, frames)
    hit = encode_modality(cfg, "image", "macro", 3, frames)
    assert (plain.cache_hits, miss.cache_hits, hit.cache_hits) == (0, 0, 2)
    for e in (miss, hit):
        for split in ("train", "test"):
            np.testing.assert_array_equal(e.rates[split], plain.rates[split])
            np.testing.assert_array_equal(e.windows[split], plain.windows[split])
        np.testing.assert_array_equal(e.raster, plain.raster)
        assert e.ledger == plain.ledger and e.firing == plain.firing
        assert e.energy_per_sample_j == plain.energy_per_sample_j and e.config == plain.config
        np.testing.assert_array_equal(e.macro.g_us, plain.macro.g_us)
