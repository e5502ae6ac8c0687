"""Malformed inputs to every `rram-lsm firmware ...` subcommand (issue 11): each ends with exit
code 2, a message that names the file and the field or option, no traceback, and no output file
(nor a temp file) left behind."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from crossbar import Macro
from crossbar.spec import load_spec
from firmware.isa import RECORD_DTYPE
from firmware.rvec import HEADER_SIZE, RECORD_SIZE
from rram_lsm.cli import main


@pytest.fixture(scope="module")
def kit(small_preset_file, tmp_path_factory) -> dict:
    """A 32 x 32 preset, a valid .rvec / CSV made with it, and a formed macro state."""
    d = tmp_path_factory.mktemp("kit")
    preset = small_preset_file(32, 32, "mal-32")
    rvec, csv, state = d / "ok.rvec", d / "ok.csv", d / "ok.npz"
    assert main(["firmware", "form", "--preset", preset, "--v-max", "3.4", "--region",
                 "0:2,0:2", "--out", str(rvec)]) == 0
    assert main(["firmware", "export-csv", str(rvec), "--preset", preset, "--out", str(csv)]) == 0
    Macro(load_spec(preset), seed=0).save(state)
    return {"preset": preset, "rvec": rvec.read_bytes(), "csv": csv.read_text(),
            "state": state}


def _rehash(b: bytes) -> bytes:
    return b[:-32] + hashlib.sha256(b[:-32]).digest()


def _patch(b: bytes, fmt: str, offset: int, *values) -> bytes:
    x = bytearray(b)
    struct.pack_into(fmt, x, offset, *values)
    return _rehash(bytes(x))


def _record(b: bytes, i: int, field: str, value) -> bytes:
    x = bytearray(b)
    off = HEADER_SIZE + i * RECORD_SIZE
    rec = np.frombuffer(bytes(x[off:off + RECORD_SIZE]), RECORD_DTYPE).copy()
    rec[field] = value
    x[off:off + RECORD_SIZE] = rec.tobytes()
    return _rehash(bytes(x))


def _csv_edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _bad_state(kit, path: Path) -> None:
    with np.load(kit["state"]) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["g_prog"] = arrays["g_prog"].copy()
    arrays["g_prog"][3] = np.nan
    np.savez(path, **arrays)


def _npy(value):
    return lambda kit, p: np.save(p, value)


def _bytes(data):
    return lambda kit, p: p.write_bytes(data(kit) if callable(data) else data)


def _text(data):
    return lambda kit, p: p.write_text(data(kit) if callable(data) else data)


# (id, subcommand + args; {in} = the input file, {out} = the output, {preset}, {state},
#  input suffix, how to write the input, strings the message must contain)
CASES = [
    ("write-verify-too-big", ["write-verify", "--targets", "{in}", "--tolerance-us", "1",
                              "--max-iter", "1000", "--out", "{out}"], ".npy",
     _npy(np.full((512, 512), 60.0)), ["--max-iter", "GB of memory", "RRAM_LSM_MAX_MEMORY_GB"]),
    ("inspect-empty", ["inspect", "{in}"], ".rvec", _bytes(b""), ["empty"]),
    ("inspect-bad-magic", ["inspect", "{in}"], ".rvec",
     _bytes(lambda k: b"PK\x03\x04" + k["rvec"][4:]), ["magic"]),
    ("inspect-short-magic", ["inspect", "{in}"], ".rvec", _bytes(b"\x89RV"), ["magic"]),
    ("inspect-version-2-short", ["inspect", "{in}"], ".rvec",
     _bytes(lambda k: k["rvec"][:8] + struct.pack("<H", 2) + k["rvec"][10:100]),
     ["format_version"]),
    ("inspect-truncated", ["inspect", "{in}"], ".rvec",
     _bytes(lambda k: k["rvec"][:HEADER_SIZE + 2 * RECORD_SIZE + 7]), ["record 2", "op_count"]),
    ("inspect-trailing", ["inspect", "{in}"], ".rvec", _bytes(lambda k: k["rvec"] + b"xyz"),
     ["op_count"]),
    ("inspect-rows-0", ["inspect", "{in}"], ".rvec",
     _bytes(lambda k: _patch(k["rvec"], "<I", 28, 0)), ["'rows'"]),
    ("inspect-forged-limit", ["inspect", "{in}", "--preset", "{preset}"], ".rvec",
     _bytes(lambda k: _patch(k["rvec"], "<d", 136, 40.0)), ["limits.v_form_max"]),
    ("inspect-unknown-preset", ["inspect", "{in}"], ".rvec", _bytes(lambda k: k["rvec"]),
     ["preset_name", "--unverified-limits"]),
    ("inspect-nan-record", ["inspect", "{in}", "--preset", "{preset}"], ".rvec",
     _bytes(lambda k: _record(k["rvec"], 1, "v_bl", np.nan)), ["record 1", "V_BL"]),
    ("export-record-over-rating", ["export-csv", "{in}", "--preset", "{preset}", "--out",
                                   "{out}"], ".rvec",
     _bytes(lambda k: _record(k["rvec"], 1, "t_ns", 1e9)), ["record 1", "t_ns"]),
    ("export-digest", ["export-csv", "{in}", "--preset", "{preset}", "--out", "{out}"], ".rvec",
     _bytes(lambda k: _patch(k["rvec"], "<B", 72, k["rvec"][72] ^ 1)), ["preset_digest"]),
    ("export-chip-id", ["export-csv", "{in}", "--preset", "{preset}", "--out", "{out}"], ".rvec",
     _bytes(lambda k: _patch(k["rvec"], "<3s", 104, b"a b")), ["chip_id"]),
    ("import-csv-magic", ["import-csv", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".csv", _text("hello\n"), ["line 1"]),
    ("import-csv-not-utf8", ["import-csv", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".csv", _bytes(b"\xff\xfe\x00garbage"), ["UTF-8"]),
    ("import-csv-missing-limits", ["import-csv", "{in}", "--preset", "{preset}", "--out",
                                   "{out}"], ".csv",
     _text(lambda k: "\n".join(ln for ln in k["csv"].split("\n")
                               if not ln.startswith("# limits"))), ["limits"]),
    ("import-csv-bad-op", ["import-csv", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".csv", _text(lambda k: _csv_edit(k["csv"], ",FORM,", ",ZAP,")), ["op 'ZAP'", "line"]),
    ("import-csv-bad-float", ["import-csv", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".csv", _text(lambda k: _csv_edit(k["csv"], "0,VERIFY,ALWAYS,,0,0,0,1.8,",
                                       "0,VERIFY,ALWAYS,,0,0,0,abc,")), ["v_wl 'abc'", "line 9"]),
    ("import-csv-field-count", ["import-csv", "{in}", "--preset", "{preset}", "--out",
                                "{out}"], ".csv",
     _text(lambda k: k["csv"] + "99,WAIT\n"), ["fields"]),
    ("import-csv-name", ["import-csv", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".csv", _text(lambda k: _csv_edit(k["csv"], "# preset_name: mal-32",
                                       "# preset_name: m\u00e4l")), ["preset_name"]),
    ("import-csv-forged-limit", ["import-csv", "{in}", "--preset", "{preset}", "--any-preset",
                                 "--out", "{out}"], ".csv",
     _text(lambda k: _csv_edit(k["csv"], "v_form_max=5.0", "v_form_max=50.0")),
     ["limits.v_form_max"]),
    ("replay-nan-window", ["replay", "{in}", "--preset", "{preset}", "--out", "{out}"], ".rvec",
     _bytes(lambda k: _record(k["rvec"], 0, "hi_us", np.nan)), ["record 0", "hi_us"]),
    ("replay-wrong-chip", ["replay", "{in}", "--preset", "{preset}", "--chip-id", "B",
                           "--out", "{out}"], ".rvec",
     _bytes(lambda k: _patch(k["rvec"], "<1s", 104, b"A")), ["chip"]),
    ("replay-state-garbage", ["replay", "{state}", "--preset", "{preset}", "--state", "{in}",
                              "--out", "{out}"], ".npz", _bytes(b"not a zip"),
     ["macro state"]),
    ("replay-state-nan", ["replay", "{state}", "--state", "{in}", "--out", "{out}"], ".npz",
     _bad_state, ["g_prog", "NaN"]),
    ("wv-targets-missing", ["write-verify", "--preset", "{preset}", "--targets",
                            "{in}.missing.npy", "--tolerance-us", "2", "--out", "{out}"],
     ".npy", _npy(np.zeros(1)), ["--targets", "not found"]),
    ("wv-targets-strings", ["write-verify", "--preset", "{preset}", "--targets", "{in}",
                            "--tolerance-us", "2", "--out", "{out}"], ".npy",
     _npy(np.array([["a", "b"]])), ["--targets", "dtype"]),
    ("wv-targets-all-nan", ["write-verify", "--preset", "{preset}", "--targets", "{in}",
                            "--tolerance-us", "2", "--out", "{out}"], ".npy",
     _npy(np.full((2, 2), np.nan)), ["--targets", "NaN"]),
    ("wv-targets-inf", ["write-verify", "--preset", "{preset}", "--targets", "{in}",
                        "--tolerance-us", "2", "--out", "{out}"], ".npy",
     _npy(np.array([[50.0, np.inf]])), ["--targets", "infinite"]),
    ("wv-weights-nan", ["write-verify", "--preset", "{preset}", "--weights", "{in}",
                        "--tolerance-us", "2", "--out", "{out}"], ".npy",
     _npy(np.array([[1.0, np.nan]])), ["--weights", "NaN"]),
    ("wv-weights-pickle", ["write-verify", "--preset", "{preset}", "--weights", "{in}",
                           "--tolerance-us", "2", "--out", "{out}"], ".npy",
     _bytes(pickle.dumps([1, 2])), ["--weights", "not a valid .npy"]),
    ("wv-origin", ["write-verify", "--preset", "{preset}", "--targets", "{in}",
                   "--tolerance-us", "2", "--origin", "a,b", "--out", "{out}"], ".npy",
     _npy(np.full((2, 2), 50.0)), ["--origin"]),
    ("prune-mask-fraction", ["prune", "--preset", "{preset}", "--mask", "{in}", "--out",
                             "{out}"], ".npy", _npy(np.full((2, 2), 0.5)), ["--mask", "boolean"]),
    ("prune-pairs-strings", ["prune", "--preset", "{preset}", "--pairs", "{in}", "--out",
                             "{out}"], ".npy", _npy(np.array(["x"])), ["--pairs", "dtype"]),
    ("form-region", ["form", "--preset", "{preset}", "--target-sparsity", "0.5", "--region",
                     "0:2", "--out", "{out}"], ".txt", _text(""), ["--region"]),
    ("readback-csv-text", ["import-readback", "{in}", "--preset", "{preset}", "--out",
                           "{out}"], ".csv", _text("1,2,abc\n"), ["line 1"]),
    ("readback-npy-nan", ["import-readback", "{in}", "--preset", "{preset}", "--out", "{out}"],
     ".npy", _npy(np.full((32, 32), np.nan)), ["not a finite"]),
    ("readback-npy-shape", ["import-readback", "{in}", "--preset", "{preset}", "--out",
                            "{out}"], ".npy", _npy(np.ones((4, 4))), ["shape"]),
    ("readback-npy-strings", ["import-readback", "{in}", "--preset", "{preset}", "--out",
                              "{out}"], ".npy", _npy(np.full((32, 32), "x")), ["dtype"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_exits_2_naming_file_and_field(kit, tmp_path, capsys, case):
    name, argv, suffix, write, must = case
    src = tmp_path / "in"
    src.mkdir()
    inp = src / f"input{suffix}"
    write(kit, inp)
    state_vec = src / "vec.rvec"  # the vector file of the --state cases (valid)
    state_vec.write_bytes(kit["rvec"])
    out = tmp_path / "out" / "result.out"
    out.parent.mkdir()
    args = [a.format(**{"in": inp, "out": out, "preset": kit["preset"], "state": state_vec})
            for a in argv]
    before = sorted(p.name for p in src.iterdir())
    capsys.readouterr()
    rc = main(["firmware", *args])
    captured = capsys.readouterr()
    err = captured.err
    assert rc == 2, (name, captured.out, err)
    assert err.startswith("rram-lsm: error:") and "Traceback" not in err
    named = [str(inp), str(inp) + ".missing.npy"]
    options = [m for m in must if m.startswith("--")]
    assert options or any(n in err for n in named), err  # the file is named
    for m in must:
        assert m in err, (m, err)
    assert not list(out.parent.iterdir())  # nothing written, no temp files
    assert sorted(p.name for p in src.iterdir()) == before


def test_there_are_enough_cases():
    assert len(CASES) >= 25
    assert {c[1][0] for c in CASES} == {"inspect", "export-csv", "import-csv", "replay",
                                        "write-verify", "prune", "form", "import-readback"}
