"""`rram-lsm firmware ...`: every subcommand end to end on a small preset, exit codes, and
that no CLI option can emit anything over the absolute-maximum ratings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import crossbar
from firmware.rvec import read_rvec
from rram_lsm.cli import main


@pytest.fixture(scope="module")
def preset(small_preset_file) -> str:
    """The default preset with 32 x 32 arrays, as a YAML file."""
    return small_preset_file(32, 32, "test-32")


def _json(capsys, argv) -> dict:
    capsys.readouterr()
    assert main(argv + ["--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    return json.loads(out[0])


def test_form_inspect_replay(preset, tmp_path, capsys):
    f = str(tmp_path / "f.rvec")
    res = _json(capsys, ["firmware", "form", "--preset", preset, "--target-sparsity", "0.3",
                         "--region", "0:16,0:32", "--chip-id", "D7", "--out", f])
    assert res["ops"] == 512 * res["ops_per_cell"]
    assert res["predicted_sparsity"] == pytest.approx(0.3, abs=0.01)
    info = _json(capsys, ["firmware", "inspect", f, "--preset", preset])
    assert info["checksum"] == "ok" and info["chip_id"] == "D7"
    assert info["op_counts"]["FORM"] == 512 * res["steps"]
    assert info["ops_detail"]["FORM"]["v_cell"] == [3.0, res["v_max"]]
    assert info["ops_detail"]["VERIFY"]["hi_us"] == ["inf", "inf"]
    rep = _json(capsys, ["firmware", "replay", f, "--preset", preset, "--seed", "4",
                         "--chip-id", "D7", "--out", str(tmp_path / "s.npz"),
                         "--log", str(tmp_path / "log.csv")])
    for key in ("ops", "formed_fraction", "pulses_per_cell_mean", "failed_cells", "energy_j",
                "time_s"):
        assert key in rep
    assert abs(rep["formed_fraction"] - 0.7) < 4 * np.sqrt(0.21 / 512)
    assert (tmp_path / "s.npz").is_file()
    assert len((tmp_path / "log.csv").read_text().splitlines()) == 513
    # human-readable forms work too
    assert main(["firmware", "inspect", f, "--preset", preset]) == 0
    assert "checksum ok" in capsys.readouterr().out


def test_write_verify_after_forming_and_prune(preset, tmp_path, capsys):
    form, state = str(tmp_path / "f.rvec"), str(tmp_path / "formed.npz")
    assert main(["firmware", "form", "--preset", preset, "--v-max", "4.6", "--out", form]) == 0
    assert main(["firmware", "replay", form, "--preset", preset, "--out", state]) == 0
    w = np.random.default_rng(0).normal(0, 6.6, (16, 8))
    np.save(tmp_path / "w.npy", w)
    wv = str(tmp_path / "wv.rvec")
    res = _json(capsys, ["firmware", "write-verify", "--preset", preset, "--weights",
                         str(tmp_path / "w.npy"), "--tolerance-us", "2", "--out", wv])
    assert res["cells"] == 256
    rep = _json(capsys, ["firmware", "replay", wv, "--state", state])
    assert rep["cells"] == 256 and rep["failed_cells"] <= 3
    np.save(tmp_path / "t.npy", np.full((4, 4), 120.0))
    assert main(["firmware", "write-verify", "--preset", preset, "--targets",
                 str(tmp_path / "t.npy"), "--tolerance-us", "3", "--origin", "4,4",
                 "--out", str(tmp_path / "t.rvec")]) == 0
    np.save(tmp_path / "p.npy", np.eye(16, 8, dtype=bool))
    res = _json(capsys, ["firmware", "prune", "--preset", preset, "--pairs",
                         str(tmp_path / "p.npy"), "--out", str(tmp_path / "p.rvec")])
    assert res["cells"] == 16


def test_csv_export_import_round_trip(preset, tmp_path, capsys):
    f, c, g = (str(tmp_path / n) for n in ("f.rvec", "f.csv", "g.rvec"))
    assert main(["firmware", "form", "--preset", preset, "--target-sparsity", "0.5",
                 "--region", "0:3,0:3", "--out", f]) == 0
    assert main(["firmware", "export-csv", f, "--preset", preset, "--out", c]) == 0
    assert main(["firmware", "import-csv", c, "--preset", preset, "--out", g]) == 0
    assert Path(f).read_bytes() == Path(g).read_bytes()
    capsys.readouterr()
    rep = _json(capsys, ["firmware", "replay", c, "--preset", preset])  # CSV replays directly
    assert rep["cells"] == 9


def test_import_readback(preset, tmp_path, capsys):
    np.save(tmp_path / "g.npy", np.full((32, 32), 80.0))
    res = _json(capsys, ["firmware", "import-readback", str(tmp_path / "g.npy"), "--preset",
                         preset, "--out", str(tmp_path / "m.npz")])
    assert res["formed_fraction"] == 1.0
    np.testing.assert_array_equal(crossbar.Macro.load(tmp_path / "m.npz").g_us, 80.0)


@pytest.mark.parametrize("args", [
    ["form", "--v-max", "5.2"], ["form", "--target-sparsity", "0.5", "--v-wl", "3.5"],
    ["form", "--target-sparsity", "0.5", "--compliance-ua", "900"],
    ["form", "--target-sparsity", "0.5", "--t-pulse-ns", "1e6"],
    ["form", "--target-sparsity", "0.5", "--v-start", "5.5"],
    ["form", "--target-sparsity", "0.0005"], ["form", "--target-sparsity", "1.5"],
    ["form", "--target-sparsity", "0.5", "--region", "0:40,0:4"],
    ["write-verify", "--tolerance-us", "2", "--v-set-max", "2.6"],
    ["write-verify", "--tolerance-us", "2", "--v-reset-start", "3.2"],
    ["write-verify", "--tolerance-us", "2", "--v-wl", "4"],
    ["prune", "--v-max", "3.5"], ["prune", "--v-start", "3.01"],
])
def test_options_over_ratings_exit_2_and_write_nothing(preset, tmp_path, capsys, args):
    np.save(tmp_path / "t.npy", np.full((2, 2), 60.0))
    np.save(tmp_path / "m.npy", np.eye(4, dtype=bool))
    out = tmp_path / "x.rvec"
    extra = {"write-verify": ["--targets", str(tmp_path / "t.npy")],
             "prune": ["--mask", str(tmp_path / "m.npy")]}.get(args[0], [])
    rc = main(["firmware", *args, *extra, "--preset", preset, "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("rram-lsm: error:") and "Traceback" not in err
    assert not out.exists()


def test_bad_files_exit_2(preset, tmp_path, capsys):
    f = tmp_path / "f.rvec"
    assert main(["firmware", "form", "--preset", preset, "--target-sparsity", "0.5",
                 "--region", "0:2,0:2", "--out", str(f)]) == 0
    assert main(["firmware", "form", "--preset", preset, "--target-sparsity", "0.5",
                 "--out", str(f)]) == 2  # exists, no --force
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["firmware", "inspect", str(f), "--preset", preset, "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["checksum"] == "mismatch"
    assert "checksum mismatch" in captured.err
    assert main(["firmware", "replay", str(f), "--preset", preset]) == 2
    assert main(["firmware", "replay", str(tmp_path / "none.rvec"), "--preset", preset]) == 2
    g = tmp_path / "g.rvec"
    assert main(["firmware", "form", "--preset", preset, "--target-sparsity", "0.5",
                 "--region", "0:2,0:2", "--chip-id", "A", "--out", str(g)]) == 0
    assert main(["firmware", "replay", str(g), "--preset", preset, "--chip-id", "B"]) == 2
    assert main(["firmware", "replay", str(g)]) == 2  # default preset: other geometry
    assert read_rvec(g, crossbar.load_preset(preset)).header.chip_id == "A"


def test_import_csv_with_loose_limits_cannot_emit_over_ratings(preset, tmp_path, capsys):
    f, c = str(tmp_path / "f.rvec"), tmp_path / "f.csv"
    assert main(["firmware", "form", "--preset", preset, "--v-max", "3.05", "--region",
                 "0:1,0:1", "--out", f]) == 0
    assert main(["firmware", "export-csv", f, "--preset", preset, "--out", str(c)]) == 0
    clean = c.read_text()
    out = tmp_path / "g.rvec"
    # the record alone over the rating
    c.write_text(clean.replace(",FORM,ALWAYS,,0,0,0,1.8,3.05,", ",FORM,ALWAYS,,0,0,0,1.8,7.5,"))
    capsys.readouterr()
    assert main(["firmware", "import-csv", str(c), "--preset", preset, "--out", str(out)]) == 2
    assert "V_BL = 7.5 V exceeds ratings.v_form_max = 5 V of the vector header" in \
        capsys.readouterr().err
    assert not out.exists()
    # header limits loosened as well: refused before the records, as a forged header
    text = clean.replace("v_form_max=5.0", "v_form_max=9.0")
    text = text.replace(",FORM,ALWAYS,,0,0,0,1.8,3.05,", ",FORM,ALWAYS,,0,0,0,1.8,7.5,")
    c.write_text(text)
    assert main(["firmware", "import-csv", str(c), "--preset", preset, "--out", str(out)]) == 2
    assert ("header field 'limits.v_form_max' = 9 exceeds ratings.v_form_max = 5 of preset "
            "'test-32'") in capsys.readouterr().err
    assert not out.exists()
