"""The BMI zero-shot experiment (neural activity <-> letters) end to end on tiny stand-ins."""

import json

import numpy as np
import pytest
import yaml

from rram_lsm.cli import main
from rram_lsm.errors import ConfigError
from rram_lsm.experiments.bmi import (
    BmiConfig,
    arbitrary_pairing,
    load_bmi_config,
    macro_count,
    rate_code,
    run_bmi_experiment,
)

TINY = {
    "name": "tiny",
    "data": {"standin": {"neural_train_per_class": 8, "neural_test_per_class": 4,
                         "image_train_per_class": 8, "image_test_per_class": 4,
                         "train_writers": 3, "test_writers": 2}},
    "encoder": {"n_neurons": 24, "neural_const": 0.01, "image_const": 0.01},
    "sources": ["gaussian"],
    "groups": ["stuv", "abcd"],
    "seeds": 2,
    "pca": 20,
    "heads": {"epochs": 3, "n_layers": 2, "temperature": 0.1, "metric": "cosine",
              "standardize": True, "batch_size": 64},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bmi")
    res = run_bmi_experiment(BmiConfig.model_validate(TINY), tmp / "out", tmp / "data", quiet=True)
    return res, tmp


def test_rate_code_probability():
    img = np.full((4, 28, 28), 255, np.uint8)
    img[:, :14] = 0
    f = rate_code(img, 50, 20.0, seed=1)
    assert f.shape == (4, 50, 784) and f.dtype == np.uint8
    on = f.reshape(4, 50, 28, 28)
    assert on[:, :, :14].sum() == 0
    assert on[:, :, 14:].mean() == pytest.approx(0.4, abs=0.01)


def test_arbitrary_pairing_is_a_fixed_derangement():
    s = arbitrary_pairing(3)
    assert sorted(s.tolist()) == list(range(26)) and np.all(s != np.arange(26))
    np.testing.assert_array_equal(s, arbitrary_pairing(3))


def test_config_validation(tmp_path):
    with pytest.raises(ConfigError):
        load_bmi_config(None, {"groups": ["stu"]})
    with pytest.raises(ConfigError):
        load_bmi_config(None, {"nope": 1})
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(TINY))
    assert load_bmi_config(p).encoder.n_neurons == 24
    # keys left out of heads keep the task's defaults (cosine, temperature 0.1)
    h = load_bmi_config(None, {"heads": {"epochs": 3}}).heads
    assert (h.epochs, h.metric, h.temperature, h.n_layers) == (3, "cosine", 0.1, 2)


def test_paper_size_needs_many_macros():
    cfg = BmiConfig()
    assert macro_count(cfg, "neural", 2048) > macro_count(cfg, "neural", 512) >= 1


def test_metrics_layout(tiny_run):
    res, tmp = tiny_run
    m = json.loads((tmp / "out" / "metrics.json").read_text())
    assert m["chance"]["unseen"] == 0.25
    for split in ("seen", "unseen"):
        for key in ("n2i_top1", "i2n_top1"):
            st = m["zero_shot"]["gaussian"][split][key]
            assert set(st) >= {"mean", "std", "per_seed", "per_group"}
            assert len(st["per_seed"]) == 2 and set(st["per_group"]) == {"stuv", "abcd"}
    u = m["zero_shot"]["gaussian"]["unseen"]
    assert 1 / 24 <= u["permutation_p"] <= 1
    assert m["zero_shot_control"]["gaussian"]["unseen"]["n2i_top1"]["mean"] >= 0
    assert "t_p" in u["group_test"]
    assert (tmp / "out" / "report.md").read_text().count("Transfer is") == 1
    assert (tmp / "out" / "zero_shot_groups.png").is_file()


def test_identity_assignment_equals_reported_score(tiny_run):
    """The permutation control scores the selected model: its identity entry is the reported
    unseen top-1 in both directions."""
    res, _ = tiny_run
    for r in res.runs:
        assert r.perm_n2i[0] == pytest.approx(r.metrics["validation"]["unseen_a2i_top1"], abs=1e-6)
        assert r.perm_i2n[0] == pytest.approx(r.metrics["validation"]["unseen_i2a_top1"], abs=1e-6)
        assert len(r.perm_n2i) == 24


def test_cli_guard_and_missing_real_data(tiny_run, tmp_path, capsys):
    _, tmp = tiny_run
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    assert main(["bmi", str(cfg), "--out", str(tmp / "out"), "--data-root", str(tmp / "data")]) == 2
    assert "exists" in capsys.readouterr().err
    real = tmp_path / "real.yaml"
    real.write_text(yaml.safe_dump({**TINY, "data": {"source": "files",
                                                     "neural_path": "w/singleLetters.mat",
                                                     "letters_dir": "emnist"}}))
    assert main(["bmi", str(real), "--out", str(tmp_path / "o"), "--data-root", str(tmp_path)]) == 2
    assert "singleLetters.mat" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # no run folder is made before the inputs are there


@pytest.mark.parametrize("name", ["zero_shot_bmi_builtin.yaml", "zero_shot_bmi_willett_emnist.yaml"])
def test_shipped_configs_validate(name):
    from crossbar.resources import config_file

    cfg = load_bmi_config(config_file(name))
    assert "stuv" in cfg.groups and len(cfg.groups) >= 6 and cfg.seeds >= 3
    assert set(cfg.sources) == {"gaussian", "macro"}
    if "willett" in name:
        assert cfg.encoder.n_neurons == 2048 and cfg.data.source == "files"
