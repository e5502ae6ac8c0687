"""Property-based tests (hypothesis) of the parsers of outside data: N-MNIST ``.bin`` files,
N-TIDIGITS HDF5 files, YAML configs and macro presets. Whatever the bytes, a parser either
returns a valid result or raises an `InputError` naming the file; never another exception.
Also the library-level guards of issue 11: memory estimates, NaN in saved states and JSON, the
umask of the files the CLIs write, and the warning for events out of time order."""

from __future__ import annotations

import copy
import json
import os
import stat
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbar import Macro, load_preset
from crossbar.defaults import DEFAULT_PRESET
from crossbar.errors import InputError, MemoryLimitError
from crossbar.resources import config_file
from crossbar.spec import load_spec
from crossbar.validation import finite_or_none
from rram_lsm.cli import main
from rram_lsm.data.builtin import DataWarning
from rram_lsm.data.config import load_data_config
from rram_lsm.data.formats import (
    NMNIST_RECORD_BYTES,
    count_nmnist_events,
    index_ntidigits_hdf5,
    validate_audio_events,
    validate_nmnist_events,
)
from rram_lsm.experiments.config import load_experiment_config
from rram_lsm.lsm.config import load_lsm_config

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
PRESET = yaml.safe_load(config_file(f"macro/{DEFAULT_PRESET}.yaml").read_text())


# --- N-MNIST .bin ----------------------------------------------------------------------------

@SETTINGS
@given(data=st.binary(max_size=200))
def test_nmnist_bin_bytes(tmp_path, data):
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    try:
        n = count_nmnist_events(path)
    except InputError as exc:
        assert str(path) in str(exc)
        return
    assert len(data) % NMNIST_RECORD_BYTES == 0 and len(data) > 0
    assert 0 <= n <= len(data) // NMNIST_RECORD_BYTES


EVENT = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])


@SETTINGS
@given(xs=st.lists(st.tuples(st.integers(-5, 40), st.integers(-5, 40), st.integers(-10, 10**6)),
                   max_size=30))
def test_nmnist_events(xs):
    ev = np.array([(x, y, t, 1) for x, y, t in xs], dtype=EVENT)
    unsorted: list[str] = []
    try:
        out = validate_nmnist_events(ev, "f.bin", unsorted)
    except InputError as exc:
        assert "f.bin" in str(exc)
        assert ((ev["x"] < 0) | (ev["x"] >= 34) | (ev["y"] < 0) | (ev["y"] >= 34)).any() \
            or (ev["t"] < 0).any()
        return
    assert np.all(np.diff(out["t"]) >= 0)
    assert bool(unsorted) == bool(np.any(np.diff(ev["t"]) < 0))


def test_unsorted_events_warn_with_counts():
    ev = np.array([(1, 1, 5, 1), (1, 1, 3, 1), (1, 1, 1, 1)], dtype=EVENT)
    with pytest.warns(DataWarning, match=r"f.bin: 2 of 3 events"):
        validate_nmnist_events(ev, "f.bin")
    aev = np.array([(1, 0, 0.2, 0), (1, 0, 0.1, 0)],
                   dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<f8"), ("p", "<i8")])
    with pytest.warns(DataWarning, match="1 of 2 events"):
        validate_audio_events(aev, "n.hdf5", "man-a-a-1", 64)


# --- N-TIDIGITS HDF5 -------------------------------------------------------------------------

label_st = st.one_of(st.binary(max_size=12), st.text(max_size=12).map(str.encode),
                     st.sampled_from([b"man-a-a-1", b"woman-b-b-z", b"man-c-a-o", b"x-1-2"]))
array_st = st.one_of(
    st.lists(st.integers(0, 255), max_size=5).map(lambda v: np.array(v, np.uint8)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=5)
    .map(lambda v: np.array(v, np.float32)),
    st.lists(st.binary(min_size=1, max_size=3), min_size=1, max_size=3)
    .map(lambda v: np.array(v, dtype="S")),
)


@SETTINGS
@given(labels=st.lists(label_st, min_size=1, max_size=4, unique=True),
       addr=array_st, times=array_st, drop=st.sampled_from([None, "train_addresses", "train_labels"]))
def test_ntidigits_hdf5(tmp_path, labels, addr, times, drop):
    path = tmp_path / "n.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_labels", data=np.array(labels, dtype="S"))
        ga, gt = f.create_group("train_addresses"), f.create_group("train_timestamps")
        for lab in labels:
            name = lab.decode("utf-8", "replace").replace("/", "_").replace("\0", "_")
            if name in ("", ".", ".."):
                continue
            if name in ga:
                continue
            ga.create_dataset(name, data=addr)
            gt.create_dataset(name, data=times)
        if drop:
            del f[drop]
    try:
        index = index_ntidigits_hdf5(path, "train")
    except InputError as exc:
        assert str(path) in str(exc)
        return
    assert len(index.single) == len(index.n_events)


# --- YAML configs and presets ----------------------------------------------------------------

yaml_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)
LOADERS = {"lsm": load_lsm_config, "data": load_data_config,
           "experiment": load_experiment_config, "preset": load_spec}


@SETTINGS
@given(kind=st.sampled_from(sorted(LOADERS)), raw=st.one_of(yaml_value, st.binary(max_size=64)))
def test_yaml_configs_never_crash(tmp_path, kind, raw):
    path = tmp_path / "c.yaml"
    if isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(yaml.safe_dump(raw))
    try:
        LOADERS[kind](path)
    except InputError as exc:
        assert str(path) in str(exc)


LEAVES = [(s, k) for s, sec in PRESET.items() if isinstance(sec, dict)
          for k, leaf in sec.items() if isinstance(leaf, dict) and "value" in leaf]


@SETTINGS
@given(leaf=st.sampled_from(LEAVES),
       value=st.one_of(st.text(max_size=6), st.booleans(), st.floats(), st.none(),
                       st.lists(st.integers(), max_size=2)))
def test_preset_values_are_strict(tmp_path, leaf, value):
    section, key = leaf
    raw = copy.deepcopy(PRESET)
    original = raw[section][key]["value"]
    raw[section][key]["value"] = value
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    try:
        spec = load_spec(path)
    except InputError as exc:
        msg = str(exc)
        # the field itself, or a cross-field rule that names it
        assert str(path) in msg and (key in msg or "top level" in msg), msg
        return
    got = getattr(getattr(spec, section), key)
    # accepted only with a type that needs no conversion
    assert type(value) is type(original) or (isinstance(original, float) and type(value) is int)
    assert got == value


def test_preset_coercions_refused(tmp_path):
    for section, key, value in [("read", "v_read", "0.1"), ("geometry", "rows", True),
                                ("geometry", "rows", 2.0), ("read", "v_read", float("nan"))]:
        raw = copy.deepcopy(PRESET)
        raw[section][key]["value"] = value
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(InputError, match=rf"p.yaml: key '{section}.{key}'"):
            load_spec(tmp_path / "p.yaml")
    raw = copy.deepcopy(PRESET)
    raw["read"]["v_read"]["value"] = 0  # an int for a float is fine (then out of range here)
    raw["geometry"]["rows"]["value"] = 64
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="read.v_read"):
        load_spec(tmp_path / "p.yaml")


# --- memory estimates ------------------------------------------------------------------------

def test_forming_sweep_with_tiny_step_is_refused_before_allocating(monkeypatch):
    monkeypatch.setenv("RRAM_LSM_MAX_MEMORY_GB", "1")
    m = Macro(load_preset(), seed=0)
    with pytest.raises(MemoryLimitError, match=r"forming sweep .* v_step 0.0001 V.*GB"):
        m.form_sweep(4.5, v_step=1e-4)
    with pytest.raises(InputError, match="v_step"):
        m.form_sweep(4.5, v_step=0.0)
    with pytest.raises(InputError, match="v_step"):
        m.form_sweep(4.5, v_step=float("nan"))


def test_memory_limit_env_var(monkeypatch):
    spec = load_preset()
    monkeypatch.setenv("RRAM_LSM_MAX_MEMORY_GB", "0.001")
    with pytest.raises(MemoryLimitError, match="RRAM_LSM_MAX_MEMORY_GB"):
        Macro(spec, n_arrays=2)
    monkeypatch.setenv("RRAM_LSM_MAX_MEMORY_GB", "banana")
    with pytest.raises(InputError, match="RRAM_LSM_MAX_MEMORY_GB"):
        Macro(spec)
    monkeypatch.delenv("RRAM_LSM_MAX_MEMORY_GB")
    with pytest.raises(MemoryLimitError):
        Macro(spec, n_arrays=100_000)
    m = Macro(spec)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="time can only advance"):
            m.advance(bad)


# --- saved states ----------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["nan", "missing-clock", "missing-spec", "bad-status"])
def test_state_file_damage(tmp_path, damage):
    spec = load_preset().with_overrides(geometry={"rows": 8, "cols": 8})
    Macro(spec, seed=0).save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as z:
        arrays = {k: np.array(z[k]) for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    if damage == "nan":
        arrays["g_prog"][3] = np.nan
    elif damage == "bad-status":
        arrays["status"][0] = 9
    else:
        del meta[damage.split("-")[1] + ("_s" if damage.endswith("clock") else "")]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "s.npz", **arrays)
    field = {"nan": "g_prog", "missing-clock": "clock_s", "missing-spec": "spec",
             "bad-status": "status"}[damage]
    with pytest.raises(InputError, match=rf"s.npz: .*{field}"):
        Macro.load(tmp_path / "s.npz")


# --- JSON output -----------------------------------------------------------------------------

def test_json_has_no_nan():
    data = {"a": float("nan"), "b": [1.0, float("inf"), np.float64("-inf")], "c": 2}
    assert json.loads(json.dumps(finite_or_none(data), allow_nan=False)) == \
        {"a": None, "b": [1.0, None, None], "c": 2}


def test_macro_stats_json_writes_null_for_undefined(tmp_path, capsys, small_preset_file):
    # forming at 0 V forms nothing: the mean formed conductance is undefined -> null
    code = main(["macro", "stats", "--spec", small_preset_file(16, 16, "tiny"),
                 "--form-voltage", "0", "--json", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert code == 0
    stats = json.loads(out)  # strict JSON: would fail on a bare NaN
    assert "NaN" not in out and "NaN" not in (tmp_path / "o" / "stats.json").read_text()
    assert stats["formed_fraction"] <= 0.01
    assert stats["g_formed_mean_us"] is None or stats["formed_fraction"] > 0


# --- output modes follow the umask -----------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_cli_outputs_follow_umask(tmp_path, capsys, small_preset_file, umask):
    spec = small_preset_file(16, 16, "tiny")
    old = os.umask(umask)
    try:
        assert main(["macro", "stats", "--spec", spec, "--out", str(tmp_path / "o")]) == 0
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "frames.npz", frames=(rng.random((4, 6, 8)) < 0.3).astype(np.uint8),
                 labels=np.arange(4))
        (tmp_path / "lsm.yaml").write_text(yaml.safe_dump(
            {"n_inputs": 8, "n_neurons": 6, "n_steps": 6, "const": 0.03, "seed": 1,
             "analog": {"calibration_samples": 4}}))
        assert main(["encode", str(tmp_path / "lsm.yaml"), "--frames", str(tmp_path / "frames.npz"),
                     "--out", str(tmp_path / "enc" / "f.npz"), "--json"]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    for f in ("o/stats.json", "o/conductance.png", "enc/f.npz"):
        mode = stat.S_IMODE((tmp_path / f).stat().st_mode)
        assert mode == 0o666 & ~umask, (f, oct(mode))


def test_no_warning_noise_for_sorted_events():
    ev = np.array([(1, 1, 1, 1), (2, 2, 2, 0)], dtype=EVENT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_nmnist_events(ev, Path("f.bin"))


def _strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"bare {name} in JSON output")

    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_strict_json(tmp_path, capsys, monkeypatch):
    """`data info --json` and `encode --json` print JSON without NaN / Infinity."""
    monkeypatch.chdir(tmp_path)
    from rram_lsm.data.formats import encode_nmnist_bin

    for d in range(2):
        f = tmp_path / "root" / "NMNIST" / "Train" / str(d) / "1.bin"
        f.parent.mkdir(parents=True)
        f.write_bytes(encode_nmnist_bin([1], [2], [3], [1]))
    assert main(["data", "info", "--data-root", "root", "--json"]) == 0
    info = _strict_json(capsys.readouterr().out)
    assert info["nmnist"]["test"]["events_mean"] is None  # missing split: null, not NaN
    np.savez("frames.npz", frames=np.zeros((3, 6, 8), np.uint8), labels=np.arange(3))
    (tmp_path / "lsm.yaml").write_text(yaml.safe_dump(
        {"n_inputs": 8, "n_neurons": 6, "n_steps": 6, "const": 0.03, "seed": 1,
         "analog": {"calibration_samples": 3}}))
    assert main(["encode", "lsm.yaml", "--frames", "frames.npz", "--json"]) == 0
    _strict_json(capsys.readouterr().out)  # silent reservoir: statistics stay finite or null
