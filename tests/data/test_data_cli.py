"""``rram-lsm data build`` / ``data info``: JSON output, exit codes, messages on stderr."""

from __future__ import annotations

import json

import pytest

from rram_lsm.cli import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "data"
    rc = main(
        [
            "data",
            "build",
            "--out",
            str(out),
            "--per-class-train",
            "2",
            "--per-class-test",
            "1",
            "--seed",
            "1",
            "--quiet",
        ]
    )
    assert rc == 0
    return out


def test_build_then_info_json(root, capsys):
    rc = main(["data", "info", "--data-root", str(root), "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    info = json.loads(out)  # exactly one JSON object on stdout
    assert set(info) == {"digits-dvs", "spoken-digits"}
    for name, n_classes in (("digits-dvs", 10), ("spoken-digits", 11)):
        for split, per_class in (("train", 2), ("test", 1)):
            s = info[name][split]
            assert s["samples"] == n_classes * per_class and s["classes"] == n_classes
            assert s["events_min"] <= s["events_mean"] <= s["events_max"]


def test_info_human(root, capsys):
    assert main(["data", "info", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "digits-dvs (image)" in out and "spoken-digits (audio)" in out


def test_build_refuses_overwrite_then_force_json(root, capsys):
    args = [
        "data",
        "build",
        "--out",
        str(root),
        "--per-class-train",
        "1",
        "--per-class-test",
        "1",
        "--only",
        "digits-dvs",
        "--quiet",
    ]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "rram-lsm: error:" in err and "--force" in err and "Traceback" not in err
    assert main([*args, "--force", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    d = result["datasets"]["digits-dvs"]
    assert d["samples"] == {"train": 10, "test": 10} and d["per_class_train"] == 1
    assert set(result["datasets"]) == {"digits-dvs"}


def test_info_without_data_exits_2(tmp_path, capsys):
    assert main(["data", "info", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no datasets found" in err and "NMNIST" in err and "n-tidigits.hdf5" in err


def test_info_reports_real_layout(tmp_path, capsys):
    from rram_lsm.data.formats import encode_nmnist_bin

    for digit in (1, 7):
        p = tmp_path / "NMNIST" / "Test" / str(digit) / "00001.bin"
        p.parent.mkdir(parents=True)
        p.write_bytes(encode_nmnist_bin([1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 0]))
    assert main(["data", "info", "--data-root", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info) == ["nmnist"]
    assert info["nmnist"]["test"]["samples"] == 2 and info["nmnist"]["test"]["events_mean"] == 3
    assert info["nmnist"]["train"]["missing"] is True


def test_bad_config_exits_2(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("builtin:\n  per_class_train: 0\n")
    assert main(["data", "build", "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    assert "builtin.per_class_train" in capsys.readouterr().err
