"""Hostile inputs to every non-firmware entry point: each is refused with exit code 2, a message
that names the file and the field or option, no traceback, and no output left behind.

Table-driven: every case builds its inputs under a fresh folder and returns the command line, the
words the error message must contain and the output path that must stay absent (or keep its
bytes). Entry points: ``macro stats``, ``data build``, ``data info``, ``encode`` and ``run``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from crossbar.defaults import DEFAULT_PRESET
from crossbar.resources import config_file
from rram_lsm.cli import main
from rram_lsm.data.formats import Utterance, encode_nmnist_bin, write_ntidigits_hdf5

PRESET = yaml.safe_load(config_file(f"macro/{DEFAULT_PRESET}.yaml").read_text())
LSM = {"n_inputs": 16, "n_neurons": 12, "n_steps": 10, "const": 0.03, "seed": 1,
       "dtype": "float64", "analog": {"calibration_samples": 8}}


@dataclass
class Case:
    argv: list[str]
    expect: list[str]  # words the error message must contain (file, field, option)
    absent: list[str] = field(default_factory=list)  # outputs that must not exist afterwards
    kept: dict[str, bytes] = field(default_factory=dict)  # files whose bytes must not change


# --- input builders --------------------------------------------------------------------------

def garbage(tmp: Path, name: str = "garbage.yaml") -> str:
    (tmp / name).write_bytes(bytes(range(256)) * 3)  # not UTF-8
    return name


def folder(tmp: Path, name: str = "a_folder") -> str:
    (tmp / name).mkdir()
    return name


def preset(tmp: Path, section: str, key: str, value, name: str = "bad_preset.yaml") -> str:
    raw = copy.deepcopy(PRESET)
    raw[section][key]["value"] = value
    (tmp / name).write_text(yaml.safe_dump(raw))
    return name


def lsm_file(tmp: Path, name: str = "lsm.yaml", **changes) -> str:
    (tmp / name).write_text(yaml.safe_dump({**LSM, **changes}))
    return name


def frames(tmp: Path, name: str = "frames.npz", **arrays) -> str:
    rng = np.random.default_rng(0)
    data = {"frames": (rng.random((6, 10, 16)) < 0.2).astype(np.uint8),
            "labels": np.arange(6) % 3}
    data.update(arrays)
    np.savez(tmp / name, **{k: v for k, v in data.items() if v is not None})
    return name


def nmnist_root(tmp: Path, records: bytes | None = None, name: str = "root") -> str:
    """An N-MNIST data root with one train file per digit; the first file holds ``records``."""
    good = encode_nmnist_bin([1, 2, 3], [4, 5, 6], [10, 20, 30], [1, 0, 1])
    for split in ("Train", "Test"):
        for d in range(10):
            f = tmp / name / "NMNIST" / split / str(d) / "00001.bin"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(good)
    if records is not None:
        (tmp / name / "NMNIST" / "Train" / "0" / "00001.bin").write_bytes(records)
    return name


def raw_records(x, y, t, p=0) -> bytes:
    """N-MNIST records without the writer's range checks (to forge bad files)."""
    x, y, t = (np.atleast_1d(np.asarray(a, np.int64)) for a in (x, y, t))
    rec = np.zeros((len(x), 5), np.uint8)
    rec[:, 0], rec[:, 1] = x, y
    rec[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    rec[:, 3], rec[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return rec.tobytes()


def ntidigits_root(tmp: Path, edit: Callable[[h5py.File], None] | None = None,
                   name: str = "root") -> str:
    """An N-TIDIGITS18 data root; ``edit`` then changes the HDF5 file in place."""
    path = tmp / name / "NTIDIGITS18" / "n-tidigits.hdf5"
    utt = [Utterance(f"man-a{i}-a-{c}", np.array([1, 2, 3], np.uint8),
                     np.array([0.1, 0.2, 0.3], np.float32)) for i, c in enumerate("o123456789z")]
    write_ntidigits_hdf5(path, utt, utt)
    if edit is not None:
        with h5py.File(path, "r+") as f:
            edit(f)
    return name


def replace_dataset(f: h5py.File, name: str, data) -> None:
    del f[name]
    f.create_dataset(name, data=data)


def experiment(tmp: Path, name: str = "exp.yaml", **raw) -> str:
    (tmp / name).write_text(yaml.safe_dump(raw))
    return name


REAL = {"data": {"image_dataset": "nmnist", "audio_dataset": "ntidigits"}}


# --- the table -------------------------------------------------------------------------------
# name -> builder(tmp) -> Case

CASES: dict[str, Callable[[Path], Case]] = {
    # macro stats: presets
    "preset-binary": lambda t: Case(["macro", "stats", "--spec", garbage(t)],
                                    ["garbage.yaml", "UTF-8"]),
    "preset-folder": lambda t: Case(["macro", "stats", "--spec", folder(t)],
                                    ["a_folder", "folder"]),
    "preset-missing": lambda t: Case(["macro", "stats", "--spec", "nope.yaml"],
                                     ["nope.yaml", "not found"]),
    "preset-string-number": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "read", "v_read", "0.1")],
        ["bad_preset.yaml", "read.v_read", "'0.1'"]),
    "preset-bool-rows": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "geometry", "rows", True)],
        ["bad_preset.yaml", "geometry.rows"]),
    "preset-float-rows": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "geometry", "rows", 16.0)],
        ["bad_preset.yaml", "geometry.rows"]),
    "preset-nan": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "read", "noise_relative", float("nan"))],
        ["bad_preset.yaml", "read.noise_relative", "finite"]),
    "preset-inf": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "drift", "t0_s", float("inf"))],
        ["bad_preset.yaml", "drift.t0_s"]),
    "preset-int-bool": lambda t: Case(
        ["macro", "stats", "--spec", preset(t, "periphery", "ir_drop", 1)],
        ["bad_preset.yaml", "periphery.ir_drop"]),
    "preset-list-top": lambda t: Case(
        ["macro", "stats", "--spec", _write(t, "list.yaml", "- 1\n- 2\n")],
        ["list.yaml", "mapping"]),
    "preset-bad-yaml": lambda t: Case(
        ["macro", "stats", "--spec", _write(t, "broken.yaml", "geometry: {rows: [\n")],
        ["broken.yaml", "YAML"]),
    "preset-deeply-nested": lambda t: Case(
        ["macro", "stats", "--spec", _write(t, "deep.yaml", "a: " + "[" * 3000 + "]" * 3000)],
        ["deep.yaml", "nested"]),
    "preset-nested-dicts": lambda t: Case(
        ["macro", "stats", "--spec", _write(t, "deep.yaml", "a: " + "{b: " * 200 + "1" + "}" * 200)],
        ["deep.yaml", "nested"]),
    "preset-unknown-name": lambda t: Case(["macro", "stats", "--preset", "no-such-chip"],
                                          ["no-such-chip"]),
    # macro stats: options
    "arrays-zero": lambda t: Case(["macro", "stats", "--arrays", "0", "--out", "o"],
                                  ["--arrays"], absent=["o"]),
    "arrays-huge": lambda t: Case(["macro", "stats", "--arrays", "100000", "--out", "o"],
                                  ["--arrays 100000", "GB", "RRAM_LSM_MAX_MEMORY_GB"],
                                  absent=["o"]),
    "drift-negative": lambda t: Case(["macro", "stats", "--drift-s", "-1", "--out", "o"],
                                     ["--drift-s"], absent=["o"]),
    "drift-nan": lambda t: Case(["macro", "stats", "--drift-s", "nan", "--json"], ["--drift-s"]),
    "form-voltage-high": lambda t: Case(["macro", "stats", "--form-voltage", "40", "--out", "o"],
                                        ["--form-voltage", "rating"], absent=["o"]),
    "form-voltage-nan": lambda t: Case(["macro", "stats", "--form-voltage", "nan"],
                                       ["--form-voltage"]),
    # data build / info
    "data-config-binary": lambda t: Case(
        ["data", "build", "--config", garbage(t), "--out", "o"], ["garbage.yaml"], absent=["o"]),
    "data-config-folder": lambda t: Case(
        ["data", "build", "--config", folder(t), "--out", "o"], ["a_folder"], absent=["o"]),
    "data-config-string-int": lambda t: Case(
        ["data", "build", "--config", _yaml(t, "d.yaml", {"builtin": {"per_class_train": "5"}}),
         "--out", "o"], ["d.yaml", "builtin.per_class_train"], absent=["o"]),
    "data-config-bool-seed": lambda t: Case(
        ["data", "build", "--config", _yaml(t, "d.yaml", {"builtin": {"seed": True}}),
         "--out", "o"], ["d.yaml", "builtin.seed"], absent=["o"]),
    "data-config-nan": lambda t: Case(
        ["data", "build", "--config",
         _yaml(t, "d.yaml", {"binning": {"image": {"bin_usec": float("nan")}}}), "--out", "o"],
        ["d.yaml", "binning.image"], absent=["o"]),
    "info-root-missing": lambda t: Case(["data", "info", "--data-root", "nowhere"],
                                        ["nowhere", "not found"]),
    "info-root-file": lambda t: Case(["data", "info", "--data-root", garbage(t, "rootfile")],
                                     ["rootfile"]),
    "info-bin-empty": lambda t: Case(["data", "info", "--data-root", nmnist_root(t, b"")],
                                     ["00001.bin", "empty"]),
    "info-bin-truncated": lambda t: Case(["data", "info", "--data-root", nmnist_root(t, b"\0" * 7)],
                                         ["00001.bin", "truncated"]),
    "info-bin-off-sensor": lambda t: Case(
        ["data", "info", "--data-root", nmnist_root(t, raw_records([1, 40], [1, 2], [0, 5]))],
        ["00001.bin", "outside", "sensor"]),
    "info-hdf5-garbage": lambda t: Case(
        ["data", "info", "--data-root", _garbage_hdf5(t)], ["n-tidigits.hdf5", "HDF5"]),
    "info-hdf5-labels-not-utf8": lambda t: Case(
        ["data", "info", "--data-root", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_labels", np.array([b"\xff\xfe-x-a-1"], dtype="S")))],
        ["n-tidigits.hdf5", "train_labels[0]", "UTF-8"]),
    "info-hdf5-string-addresses": lambda t: Case(
        ["data", "info", "--data-root", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_addresses/man-a1-a-1", np.array([b"a", b"b", b"c"])))],
        ["n-tidigits.hdf5", "man-a1-a-1", "addresses"]),
    "info-hdf5-missing-group": lambda t: Case(
        ["data", "info", "--data-root", ntidigits_root(t, lambda f: f.__delitem__(
            "test_timestamps"))], ["n-tidigits.hdf5", "test_timestamps"]),
    # encode
    "encode-config-binary": lambda t: Case(["encode", garbage(t), "--out", "o.npz"],
                                           ["garbage.yaml", "UTF-8"], absent=["o.npz"]),
    "encode-config-folder": lambda t: Case(["encode", folder(t), "--out", "o.npz"],
                                           ["a_folder"], absent=["o.npz"]),
    "encode-config-string-float": lambda t: Case(
        ["encode", lsm_file(t, const="0.03"), "--frames", frames(t), "--out", "o.npz"],
        ["lsm.yaml", "const", "string"], absent=["o.npz"]),
    "encode-config-bool-int": lambda t: Case(
        ["encode", lsm_file(t, n_neurons=True), "--frames", frames(t), "--out", "o.npz"],
        ["lsm.yaml", "n_neurons"], absent=["o.npz"]),
    "encode-config-float-int": lambda t: Case(
        ["encode", lsm_file(t, n_steps=10.0), "--frames", frames(t), "--out", "o.npz"],
        ["lsm.yaml", "n_steps"], absent=["o.npz"]),
    "encode-config-nan": lambda t: Case(
        ["encode", lsm_file(t, decay=float("nan")), "--frames", frames(t), "--out", "o.npz"],
        ["lsm.yaml", "decay"], absent=["o.npz"]),
    "encode-config-inf-const": lambda t: Case(
        ["encode", lsm_file(t, const_rec=float("inf")), "--frames", frames(t), "--out", "o.npz"],
        ["lsm.yaml", "const_rec"], absent=["o.npz"]),
    "encode-huge-lsm": lambda t: Case(
        ["encode", lsm_file(t, n_neurons=100_000), "--frames", frames(t),
         "--out", "o.npz", "--cache-dir", "c"], ["n_neurons=100000", "GB"],
        absent=["o.npz", "c"]),
    "encode-batch-zero": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t), "--batch-size", "0", "--out", "o.npz"],
        ["--batch-size"], absent=["o.npz"]),
    "encode-frames-missing": lambda t: Case(
        ["encode", lsm_file(t), "--frames", "none.npz", "--out", "o.npz"],
        ["--frames", "none.npz"], absent=["o.npz"]),
    "encode-frames-garbage": lambda t: Case(
        ["encode", lsm_file(t), "--frames", garbage(t, "g.npz"), "--out", "o.npz"],
        ["--frames", "g.npz"], absent=["o.npz"]),
    "encode-frames-empty-file": lambda t: Case(
        ["encode", lsm_file(t), "--frames", _write(t, "e.npz", ""), "--out", "o.npz"],
        ["--frames", "e.npz"], absent=["o.npz"]),
    "encode-frames-no-array": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t, frames=None, other=np.zeros(3)),
         "--out", "o.npz"], ["--frames", "frames.npz", "'frames'"], absent=["o.npz"]),
    "encode-frames-nan": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t, frames=np.full((6, 10, 16), np.nan)),
         "--out", "o.npz"], ["--frames", "frames.npz", "NaN"], absent=["o.npz"]),
    "encode-frames-2d": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t, frames=np.zeros((6, 16), np.uint8)),
         "--out", "o.npz"], ["--frames", "frames.npz", "[n, T, n_inputs]"], absent=["o.npz"]),
    "encode-frames-label-count": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t, labels=np.arange(4)), "--out", "o.npz"],
        ["--frames", "frames.npz", "labels"], absent=["o.npz"]),
    "encode-out-existing-foreign": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t), "--out", _write(t, "mine.npz", "keep me")],
        ["mine.npz", "--force"], kept={"mine.npz": b"keep me"}),
    "encode-out-folder": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t), "--out", folder(t, "outdir")],
        ["outdir", "--out"]),
    "encode-dataset-unknown": lambda t: Case(
        ["encode", lsm_file(t), "--dataset", "mnist-classic", "--out", "o.npz"],
        ["mnist-classic"], absent=["o.npz"]),
    "encode-real-data-missing": lambda t: Case(
        ["encode", lsm_file(t), "--dataset", "nmnist", "--data-root", "empty_root",
         "--out", "o.npz"], ["N-MNIST", "empty_root"], absent=["o.npz"]),
    "encode-measured-state-no-key": lambda t: Case(
        ["encode", lsm_file(t, weights={"source": "measured", "path": _state_without(t, "n_arrays")}),
         "--frames", frames(t), "--out", "o.npz"], ["state.npz", "n_arrays"], absent=["o.npz"]),
    "encode-hdf5-channel-out-of-range": lambda t: Case(
        _encode_real("ntidigits", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_addresses/man-a1-a-1", np.array([1, 2, 99], np.uint8)))),
        ["n-tidigits.hdf5", "man-a1-a-1", "channel ids"], absent=["o.npz"]),
    "encode-hdf5-negative-time": lambda t: Case(
        _encode_real("ntidigits", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_timestamps/man-a2-a-2", np.array([-0.1, 0.2, 0.3], np.float32)))),
        ["n-tidigits.hdf5", "man-a2-a-2", "negative"], absent=["o.npz"]),
    "encode-hdf5-nan-time": lambda t: Case(
        _encode_real("ntidigits", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_timestamps/man-a3-a-3", np.array([0.1, np.nan, 0.3], np.float32)))),
        ["n-tidigits.hdf5", "man-a3-a-3", "NaN"], absent=["o.npz"]),
    "encode-hdf5-length-mismatch": lambda t: Case(
        _encode_real("ntidigits", ntidigits_root(t, lambda f: replace_dataset(
            f, "train_timestamps/man-a3-a-3", np.array([0.1], np.float32)))),
        ["n-tidigits.hdf5", "man-a3-a-3", "equal length"], absent=["o.npz"]),
    "encode-bin-off-sensor": lambda t: Case(
        _encode_real("nmnist", nmnist_root(t, raw_records([1, 2], [1, 60], [0, 5]))),
        ["00001.bin", "outside", "sensor"], absent=["o.npz"]),
    "encode-bin-empty": lambda t: Case(
        _encode_real("nmnist", nmnist_root(t, b"")), ["00001.bin", "empty"], absent=["o.npz"]),
    # run
    "run-config-binary": lambda t: Case(["run", garbage(t), "--out", "o"],
                                        ["garbage.yaml", "UTF-8"], absent=["o"]),
    "run-config-folder": lambda t: Case(["run", folder(t), "--out", "o"], ["a_folder"],
                                        absent=["o"]),
    "run-config-string-int": lambda t: Case(["run", experiment(t, seeds="3"), "--out", "o"],
                                            ["exp.yaml", "seeds", "string"], absent=["o"]),
    "run-config-bool-int": lambda t: Case(["run", experiment(t, workers=True), "--out", "o"],
                                          ["exp.yaml", "workers"], absent=["o"]),
    "run-config-nan": lambda t: Case(
        ["run", experiment(t, costs={"e_mac_j": float("nan")}), "--out", "o"],
        ["exp.yaml", "costs.e_mac_j"], absent=["o"]),
    "run-lsm-override-string": lambda t: Case(
        ["run", experiment(t, lsm={"image": {"const": "0.1"}}), "--out", "o"],
        ["exp.yaml", "lsm.image.const"], absent=["o"]),
    "run-heads-string-int": lambda t: Case(
        ["run", experiment(t, heads={"epochs": "5"}), "--out", "o"],
        ["exp.yaml", "heads.epochs", "string"], absent=["o"]),
    "run-huge-lsm": lambda t: Case(
        ["run", "--set", "lsm.audio.n_neurons=100000", "--out", "o", "--data-root", "dr"],
        ["lsm.audio", "n_neurons=100000", "GB"], absent=["o", "dr"]),
    "run-set-bad-value": lambda t: Case(["run", experiment(t), "--set", "seeds=abc", "--out", "o"],
                                        ["--set seeds=abc", "seeds"], absent=["o"]),
    "run-set-zero": lambda t: Case(["run", experiment(t), "--set", "seeds=0", "--out", "o"],
                                   ["--set seeds=0", "seeds"], absent=["o"]),
    "run-set-no-equals": lambda t: Case(["run", experiment(t), "--set", "seeds", "--out", "o"],
                                        ["--set", "key=value"], absent=["o"]),
    "run-set-unknown-key": lambda t: Case(["run", "--set", "heads.nope=1", "--out", "o"],
                                          ["--set heads.nope=1", "heads.nope"], absent=["o"]),
    "run-real-data-missing": lambda t: Case(
        ["run", experiment(t, **REAL), "--data-root", "empty_root", "--out", "o"],
        ["N-MNIST", "empty_root"], absent=["o"]),
    "run-real-data-missing-default-out": lambda t: Case(
        ["run", experiment(t, **REAL), "--data-root", "empty_root"], ["N-MNIST"],
        absent=["runs"]),
    "run-real-data-corrupt": lambda t: Case(
        ["run", experiment(t, **REAL), "--data-root",
         nmnist_root(t, raw_records([1, 50], [1, 2], [0, 5])) and ntidigits_root(t), "--out", "o",
         "--quiet"],
        ["00001.bin", "outside", "sensor"], absent=["o"]),
    "run-real-data-corrupt-nested-out": lambda t: Case(
        ["run", experiment(t, **REAL), "--data-root",
         nmnist_root(t, raw_records([1, 50], [1, 2], [0, 5])) and ntidigits_root(t),
         "--out", "new/deeper/o", "--quiet"], ["00001.bin", "sensor"], absent=["new"]),
    "run-unknown-preset-via-set": lambda t: Case(
        ["run", "--set", "lsm.image.weights.preset=nope", "--out", "o"],
        ["--set lsm.image.weights.preset=nope", "weights.preset", "nope"], absent=["o"]),
    "macro-seed-negative": lambda t: Case(["macro", "stats", "--seed", "-1", "--out", "o"],
                                          ["--seed"], absent=["o"]),
    "macro-out-is-file": lambda t: Case(["macro", "stats", "--out", _write(t, "f.txt", "x")],
                                        ["--out", "f.txt"], kept={"f.txt": b"x"}),
    "encode-raster-under-file": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t), "--raster", _write(t, "f.txt", "x") + "/r.png",
         "--out", "o.npz"], ["--raster", "f.txt"], absent=["o.npz"], kept={"f.txt": b"x"}),
    "encode-cache-dir-is-file": lambda t: Case(
        ["encode", lsm_file(t), "--frames", frames(t), "--cache-dir", _write(t, "f.txt", "x")],
        ["--cache-dir", "f.txt"], kept={"f.txt": b"x"}),
    "encode-frames-wrong-inputs": lambda t: Case(
        ["encode", lsm_file(t, n_inputs=20), "--frames", frames(t), "--out", "o.npz"],
        ["--frames", "frames.npz", "lsm.yaml", "n_inputs"], absent=["o.npz"]),
    "encode-frames-wrong-steps": lambda t: Case(
        ["encode", lsm_file(t, n_steps=12), "--frames", frames(t), "--out", "o.npz"],
        ["--frames", "frames.npz", "lsm.yaml", "n_steps"], absent=["o.npz"]),
    "encode-unknown-preset": lambda t: Case(
        ["encode", lsm_file(t, weights={"preset": "no-chip"}), "--frames", frames(t),
         "--out", "o.npz"], ["lsm.yaml", "weights.preset", "no-chip"], absent=["o.npz"]),
    "encode-measured-map-missing": lambda t: Case(
        ["encode", lsm_file(t, weights={"source": "measured", "path": "gone.npy"}),
         "--frames", frames(t), "--out", "o.npz"], ["lsm.yaml", "weights.path", "gone.npy"],
        absent=["o.npz"]),
    "encode-measured-map-nan": lambda t: Case(
        ["encode", lsm_file(t, weights={"source": "measured", "path": _npy(t, np.full((28, 24), np.nan))}),
         "--frames", frames(t), "--out", "o.npz"], ["map.npy", "finite"], absent=["o.npz"]),
    "run-out-is-file": lambda t: Case(["run", "--out", _write(t, "out.txt", "x")],
                                      ["out.txt", "--out"], kept={"out.txt": b"x"}),
}


def _write(tmp: Path, name: str, text: str) -> str:
    (tmp / name).write_text(text)
    return name


def _yaml(tmp: Path, name: str, data: dict) -> str:
    (tmp / name).write_text(yaml.safe_dump(data))
    return name


def _encode_real(dataset: str, root: str) -> list[str]:
    return ["encode", _lsm_for(dataset), "--dataset", dataset, "--data-root", root,
            "--out", "o.npz", "--cache-dir", "c"]


def _lsm_for(dataset: str) -> str:
    """An LSM config of the dataset's modality (written into the working folder)."""
    modality = "image" if dataset == "nmnist" else "audio"
    Path("lsm_real.yaml").write_text(yaml.safe_dump({"modality": modality, "n_neurons": 8}))
    return "lsm_real.yaml"


def _npy(tmp: Path, array: np.ndarray) -> str:
    np.save(tmp / "map.npy", array)
    return "map.npy"


def _garbage_hdf5(tmp: Path) -> str:
    path = tmp / "root" / "NTIDIGITS18" / "n-tidigits.hdf5"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x89HDF-not-really" * 20)
    return "root"


def _state_without(tmp: Path, key: str) -> str:
    """A valid macro state file (small preset) whose metadata lacks ``key``."""
    import io
    import json

    from crossbar import Macro, load_preset

    spec = load_preset().with_overrides(geometry={"rows": 28, "cols": 24})
    Macro(spec, seed=0).save(tmp / "full.npz")
    with np.load(tmp / "full.npz") as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    del meta[key]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    (tmp / "state.npz").write_bytes(buf.getvalue())
    return str(tmp / "state.npz")


def test_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.filterwarnings("ignore::rram_lsm.data.builtin.DataWarning")  # partial data
@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RRAM_LSM_MAX_MEMORY_GB", raising=False)
    case = CASES[name](tmp_path)
    code = main([str(a) for a in case.argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    # warnings (e.g. partial data) may come first; then the error (possibly several lines)
    lines = [ln for ln in err.splitlines() if not ln.startswith("rram-lsm: warning: ")]
    assert lines and lines[0].startswith("rram-lsm: error: "), err
    assert "invalid value" not in err  # no numpy RuntimeWarning leaks out
    for word in case.expect:
        assert word in err, f"{word!r} missing from: {err}"
    for out in case.absent:
        assert not (tmp_path / out).exists(), f"{out} was left behind"
    for f, data in case.kept.items():
        assert (tmp_path / f).read_bytes() == data
