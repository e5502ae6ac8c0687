"""`rram-lsm encode` and the feature cache."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from rram_lsm.cli import main
from rram_lsm.lsm import LiquidStateMachine, load_lsm_config
from rram_lsm.lsm.cache import CacheWarning, encode_cached, load_features, save_features
from rram_lsm.lsm.defaults import DEFAULT_CACHE_DIR

CONFIG = {"lsm": {"n_inputs": 16, "n_neurons": 12, "n_steps": 10, "const": 0.03,
                  "seed": 1, "dtype": "float64",
                  "analog": {"calibration_samples": 8}}}


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((20, 10, 16)) < 0.2).astype(np.uint8)
    y = np.arange(20) % 4
    np.savez(tmp_path / "frames.npz", frames=x, labels=y)
    cfg = tmp_path / "lsm.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    return tmp_path, x, y, cfg


def run(capsys, *argv):
    code = main(list(map(str, argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_encode_writes_then_reuses(setup, capsys):
    tmp, x, y, cfg = setup
    out = tmp / "feat.npz"
    code, so, _ = run(capsys, "encode", cfg, "--frames", tmp / "frames.npz", "--out", out,
                      "--json")
    assert code == 0
    first = json.loads(so)
    assert first["reused"] is False and first["features_shape"] == [20, 12]
    arrays, record = load_features(out, first["key"])
    np.testing.assert_array_equal(arrays["labels"], y)
    # independent expectation: the same LSM, calibrated on the same frames, noise key of train
    lsm = LiquidStateMachine(load_lsm_config(cfg))
    lsm.calibrate(x[:8])
    np.testing.assert_array_equal(arrays["features"], lsm.encode(x).features)
    assert record["meta"]["ledger"]["counts"]["adc_conversions"] == 20 * 10 * 12
    code, so, _ = run(capsys, "encode", cfg, "--frames", tmp / "frames.npz", "--out", out,
                      "--json")
    assert code == 0 and json.loads(so)["reused"] is True
    # another seed -> another key; the named --out is not overwritten without --force
    code, _, err = run(capsys, "encode", cfg, "--frames", tmp / "frames.npz", "--out", out,
                       "--seed", 2)
    assert code == 2 and "other inputs" in err
    code, so, _ = run(capsys, "encode", cfg, "--frames", tmp / "frames.npz", "--out", out,
                      "--seed", 2, "--force", "--json")
    assert code == 0 and json.loads(so)["key"] != first["key"]


def test_default_cache_folder_and_corrupt_file(setup, capsys, monkeypatch):
    tmp, *_ = setup
    monkeypatch.chdir(tmp)
    code, so, _ = run(capsys, "encode", "lsm.yaml", "--frames", "frames.npz", "--json")
    path = tmp / json.loads(so)["out"]
    assert path.parent.name == DEFAULT_CACHE_DIR and path.is_file()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated write
    code, so, err = run(capsys, "encode", "lsm.yaml", "--frames", "frames.npz", "--json")
    assert code == 0 and json.loads(so)["reused"] is False
    assert "corrupt" in err
    code, so, _ = run(capsys, "encode", "lsm.yaml", "--frames", "frames.npz", "--json")
    assert json.loads(so)["reused"] is True


def test_cache_detects_tampered_arrays(tmp_path):
    p = tmp_path / "c.npz"
    save_features(p, "k1", {"a": np.arange(5)}, {"x": 1})
    assert load_features(p, "k1")[1]["meta"] == {"x": 1}
    assert load_features(p, "other") is None
    with np.load(p) as z:
        items = {k: z[k] for k in z.files}
    items["a"] = np.arange(5) + 1
    np.savez(p, **items)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert load_features(p, "k1") is None
    assert any(issubclass(i.category, CacheWarning) for i in w)


def test_encode_calls_load_split_for_datasets(setup, capsys, monkeypatch):
    tmp, x, y, cfg = setup
    calls = []

    def fake_load_split(dataset, split, data_root, binning=None):
        calls.append((dataset, split, str(data_root)))
        k = 0 if split == "train" else 1
        return SimpleNamespace(frames=x[k::2], labels=y[k::2], dataset=dataset, split=split)

    import rram_lsm.data

    monkeypatch.setattr(rram_lsm.data, "load_split", fake_load_split)
    code, so, _ = run(capsys, "encode", cfg, "--dataset", "nmnist", "--split", "test",
                      "--data-root", tmp / "root", "--out", tmp / "t.npz", "--json")
    assert code == 0, so
    assert ("nmnist", "test", str(tmp / "root")) in calls
    assert ("nmnist", "train", str(tmp / "root")) in calls  # ADC calibration data
    arrays, rec = load_features(tmp / "t.npz")
    np.testing.assert_array_equal(arrays["labels"], y[1::2])
    assert rec["meta"]["split"] == "test" and rec["meta"]["calibration"]["samples"] == 8


def test_bad_inputs_exit_2(setup, capsys):
    tmp, *_ = setup
    bad = tmp / "bad.yaml"
    bad.write_text("lsm: {n_neurons: -3}\n")
    code, _, err = run(capsys, "encode", bad, "--frames", tmp / "frames.npz")
    assert code == 2 and "n_neurons" in err
    code, _, err = run(capsys, "encode", tmp / "lsm.yaml", "--frames", tmp / "nope.npz")
    assert code == 2 and "not found" in err
    wrong = tmp / "wrong.npz"
    np.savez(wrong, frames=np.zeros((3, 10, 5), np.uint8))
    code, _, err = run(capsys, "encode", tmp / "lsm.yaml", "--frames", wrong)
    assert code == 2 and "inputs" in err


def test_library_encode_matches_the_cli_and_stores_the_raster(setup, capsys):
    """`rram-lsm encode` is a thin wrapper of `encode_cached`: same key, same file, same arrays;
    the raster of sample 0 is in the file, so --raster works on a cache hit too."""
    tmp, x, y, cfg = setup
    lsm_cfg = load_lsm_config(cfg)
    res = encode_cached(lsm_cfg, x, y, dataset="frames", cache_dir=tmp / "cache")
    assert res.reused is False and res.path.parent == tmp / "cache"
    lsm = LiquidStateMachine(lsm_cfg)
    lsm.calibrate(x[:8])
    np.testing.assert_array_equal(res.arrays["raster"], lsm.raster(x, 0))
    png = tmp / "r.png"
    code, so, _ = run(capsys, "encode", cfg, "--frames", tmp / "frames.npz", "--cache-dir",
                      tmp / "cache", "--raster", png, "--json")
    out = json.loads(so)
    assert code == 0 and out["reused"] is True and out["key"] == res.key
    assert out["out"] == str(res.path) and png.stat().st_size > 1000
    # the test split draws another noise stream: another key
    test = encode_cached(lsm_cfg, x, y, split="test", dataset="frames", cache_dir=tmp / "cache")
    assert test.key != res.key and not test.reused
    # no cache folder: encode only, write nothing
    off = encode_cached(lsm_cfg, x, y, cache_dir=None)
    assert off.path is None and not off.reused
    np.testing.assert_array_equal(off.arrays["features"], res.arrays["features"])


def test_shipped_config_encode_block(tmp_path, capsys, monkeypatch):
    """configs/lsm/*.yaml name their dataset in the `encode:` block, read by the one loader that
    the CLI uses too."""
    import rram_lsm.data
    from rram_lsm.errors import DataError
    from rram_lsm.lsm.config import read_lsm_file

    root = Path(__file__).resolve().parents[2] / "configs" / "lsm"
    assert read_lsm_file(root / "image.yaml").encode.dataset == "digits-dvs"
    assert read_lsm_file(root / "audio.yaml").encode.dataset == "spoken-digits"
    calls = []

    def fake_load_split(dataset, split, data_root, binning=None):
        calls.append((dataset, split))
        raise DataError(f"{dataset}: not here")

    monkeypatch.setattr(rram_lsm.data, "load_split", fake_load_split)
    code, _, err = run(capsys, "encode", root / "audio.yaml", "--data-root", tmp_path,
                       "--dataset", "ntidigits")
    assert code == 2 and calls == [("ntidigits", "train")] and "not here" in err
