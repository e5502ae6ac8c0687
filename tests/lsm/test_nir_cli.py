"""`rram-lsm export nir` / `rram-lsm import nir`: files, JSON, overwrite guard, exit code 2."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import yaml

from rram_lsm.cli import main

SMALL = {"modality": "custom", "n_inputs": 16, "n_neurons": 12, "n_steps": 20, "decay": 0.9,
         "v_th": 5.0, "const": 0.02, "dtype": "float64"}


@pytest.fixture()
def lsm_yaml(tmp_path):
    p = tmp_path / "lsm.yaml"
    p.write_text(yaml.safe_dump({**SMALL, "weights": {"source": "macro"}}))
    return p


def test_export_then_import(lsm_yaml, tmp_path, capsys):
    out = tmp_path / "r.nir"
    assert main(["export", "nir", str(lsm_yaml), "--out", str(out), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["reservoirs"][0]["round_trip"] == "exact" and out.is_file()
    assert isinstance(nir.read(out).nodes["reservoir"], nir.NIRGraph)
    # no overwrite without --force
    assert main(["export", "nir", str(lsm_yaml), "--out", str(out)]) == 2
    assert "file exists" in capsys.readouterr().err
    assert main(["export", "nir", str(lsm_yaml), "--out", str(out), "--force"]) == 0
    capsys.readouterr()
    res = tmp_path / "spikes.npz"
    assert main(["import", "nir", str(out), "--samples", "6", "--steps", "20", "--rate", "0.3",
                 "--out", str(res), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    m = rec["macro"]
    assert rec["layers"][0]["recurrent"] and m["n_arrays"] == 1 and m["energy_j"] > 0
    assert 0.5 < m["spike_agreement_vs_ideal"] <= 1.0
    with np.load(res) as z:
        assert z["ideal"].shape == z["macro"].shape == (6, 20, 12)


def test_export_subtract_warns(tmp_path, capsys):
    p = tmp_path / "sub.yaml"
    p.write_text(yaml.safe_dump({**SMALL, "reset": "subtract", "weights": {"source": "gaussian"}}))
    assert main(["export", "nir", str(p), "--out", str(tmp_path / "s.nir")]) == 0
    cap = capsys.readouterr()
    assert "warning" in cap.err and "subtract" in cap.err and "lossy" in cap.out


def test_export_from_run_folder_with_heads(tmp_path, capsys):
    import torch

    from rram_lsm.heads.models import DualProjection

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "t", "seeds": 1,
                                                     "sources": ["gaussian"]}))
    torch.save(DualProjection(400, 400, 8).state_dict(), tmp_path / "heads.pt")
    out = tmp_path / "exp.nir"
    assert main(["export", "nir", str(run), "--out", str(out), "--heads",
                 str(tmp_path / "heads.pt"), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert [r["modality"] for r in rec["reservoirs"]] == ["image", "audio"]
    assert (tmp_path / "exp-image.nir").is_file() and (tmp_path / "exp-audio.nir").is_file()
    with np.load(rec["heads"]) as z:
        assert z["audio/0/weight"].shape == (8, 400)


def test_bad_inputs_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SMALL, "decay": 3.0}))
    assert main(["export", "nir", str(bad), "--out", str(tmp_path / "x.nir")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "decay" in err
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    assert main(["import", "nir", str(junk), "--ideal"]) == 2
    assert "junk.nir" in capsys.readouterr().err
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                            "w": nir.Linear(weight=np.ones((3, 4))),
                            "thr": nir.Threshold(threshold=np.ones(3)),
                            "output": nir.Output(output_type=np.array([3]))},
                     edges=[("input", "w"), ("w", "thr"), ("thr", "output")])
    nir.write(tmp_path / "thr.nir", g)
    assert main(["import", "nir", str(tmp_path / "thr.nir")]) == 2
    err = capsys.readouterr().err
    assert "thr.nir" in err and "node 'thr' has type Threshold" in err
    assert main(["import", "nir", str(tmp_path / "missing.nir")]) == 2
    good = tmp_path / "good.nir"
    g2 = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([4])),
                             "w": nir.Linear(weight=np.ones((3, 4))),
                             "lif": nir.IF(r=np.full(3, 1e4), v_threshold=np.ones(3)),
                             "output": nir.Output(output_type=np.array([3]))},
                      edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    nir.write(good, g2)
    np.save(tmp_path / "f.npy", np.zeros((2, 5, 7), np.uint8))
    capsys.readouterr()
    assert main(["import", "nir", str(good), "--frames", str(tmp_path / "f.npy")]) == 2
    err = capsys.readouterr().err
    assert "f.npy" in err and "[B, T, 4]" in err
