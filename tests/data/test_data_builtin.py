"""Built-in stand-ins: genuine formats read back through tonic, determinism, event rates,
disjoint train/test sources, learnability, and safe (atomic, non-overwriting) builds."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from crossbar.errors import InputError
from rram_lsm.data import BuiltinConfig, DataWarning, build_builtin, ensure_builtin, load_split
from rram_lsm.data.builtin import MANIFEST, read_manifest
from rram_lsm.errors import DataError

TRAIN, TEST = 8, 4


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("builtin")
    build_builtin(
        root, BuiltinConfig(per_class_train=TRAIN, per_class_test=TEST, seed=0), n_workers=2, progress=False
    )
    return root


@pytest.fixture(scope="module")
def splits(built):
    return {
        (ds, sp): load_split(ds, sp, built)
        for ds in ("digits-dvs", "spoken-digits")
        for sp in ("train", "test")
    }


def test_layout_and_manifest(built):
    image = built / "digits-dvs"
    bins = sorted(image.glob("NMNIST/*/*/*.bin"))
    assert len(bins) == 10 * (TRAIN + TEST)
    assert {p.parts[-3] for p in bins} == {"Train", "Test"}
    assert {p.parts[-2] for p in bins} == {str(d) for d in range(10)}
    assert (built / "spoken-digits" / "NTIDIGITS18" / "n-tidigits.hdf5").is_file()
    for name, n_classes in (("digits-dvs", 10), ("spoken-digits", 11)):
        m = read_manifest(built / name)
        assert m["seed"] == 0 and m["classes"] == n_classes
        assert m["samples"] == {"train": n_classes * TRAIN, "test": n_classes * TEST}
    assert not list(built.glob(".*tmp*"))  # no temp folders left behind


def test_read_back_through_tonic(splits, built):
    img_tr, aud_tr = splits[("digits-dvs", "train")], splits[("spoken-digits", "train")]
    assert img_tr.frames.shape == (10 * TRAIN, 50, 256) and img_tr.frames.dtype == np.uint8
    assert aud_tr.frames.shape == (11 * TRAIN, 129, 64)
    assert img_tr.class_counts() == {d: TRAIN for d in range(10)}
    assert aud_tr.class_counts() == {c: TRAIN for c in range(11)}
    assert aud_tr.label_map == "paper" and aud_tr.class_names[10] == "oh"
    for ds in ("digits-dvs", "spoken-digits"):
        stats = read_manifest(built / ds)["events_per_sample"]
        for sp in ("train", "test"):
            ev = splits[(ds, sp)].events_per_sample
            assert ev.min() == stats[sp]["min"] and ev.max() == stats[sp]["max"]
            assert ev.mean() == pytest.approx(stats[sp]["mean"], abs=0.01)


def test_event_rates_in_range(splits):
    # N-MNIST has about 4-5k events per sample; the spoken digits are calibrated to ~2k.
    for sp in ("train", "test"):
        img = splits[("digits-dvs", sp)].events_per_sample
        aud = splits[("spoken-digits", sp)].events_per_sample
        assert 3_000 <= img.mean() <= 6_000 and img.min() > 1_000
        assert 800 <= aud.mean() <= 4_000 and aud.min() > 100
    frames = splits[("digits-dvs", "train")].frames
    assert 0.01 < frames.mean() < 0.2  # sparse, but not empty


def test_train_and_test_sources_are_disjoint(built):
    img = read_manifest(built / "digits-dvs")["sources"]
    assert img["train"] and img["test"] and not set(img["train"]) & set(img["test"])
    voices = read_manifest(built / "spoken-digits")["voices"]
    assert voices["train"] and voices["test"] and not set(voices["train"]) & set(voices["test"])


def test_linear_classifier_beats_chance(splits):
    from sklearn.linear_model import RidgeClassifier

    for ds, n_classes in (("digits-dvs", 10), ("spoken-digits", 11)):
        tr, te = splits[(ds, "train")], splits[(ds, "test")]
        clf = RidgeClassifier(alpha=100.0).fit(tr.frames.reshape(len(tr), -1), tr.labels)
        acc = clf.score(te.frames.reshape(len(te), -1), te.labels)
        assert acc >= 3.0 / n_classes, f"{ds}: accuracy {acc:.2f} vs chance {1 / n_classes:.2f}"


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".binned" not in p.parts
    }


def test_deterministic_for_a_seed_whatever_the_worker_count(tmp_path):
    cfg = BuiltinConfig(per_class_train=2, per_class_test=1, seed=3)
    build_builtin(tmp_path / "a", cfg, n_workers=1, progress=False)
    build_builtin(tmp_path / "b", cfg, n_workers=2, progress=False)
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) == 2 + 30 + 1  # 2 manifests, 30 .bin, 1 .hdf5
    assert all(a[k] == b[k] for k in a)
    build_builtin(tmp_path / "c", cfg.model_copy(update={"seed": 4}), names=("digits-dvs",), progress=False)
    c = _tree_bytes(tmp_path / "c")
    assert any(c[k] != a[k] for k in c if k.endswith(".bin") and k in a)


def test_refuses_to_overwrite_without_force(tmp_path):
    cfg = BuiltinConfig(per_class_train=1, per_class_test=1)
    build_builtin(tmp_path, cfg, names=("digits-dvs",), progress=False)
    with pytest.raises(InputError, match="digits-dvs: file exists.*--force"):
        build_builtin(tmp_path, cfg, names=("digits-dvs",), progress=False)
    before = read_manifest(tmp_path / "digits-dvs")
    build_builtin(
        tmp_path, cfg.model_copy(update={"seed": 9}), names=("digits-dvs",), force=True, progress=False
    )
    after = read_manifest(tmp_path / "digits-dvs")
    assert before["seed"] == 0 and after["seed"] == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits-dvs"]


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path):
    cfg = BuiltinConfig(per_class_train=1, per_class_test=1)
    with (
        mock.patch("rram_lsm.data.digits_dvs.write_nmnist_bin", side_effect=KeyboardInterrupt),
        pytest.raises(KeyboardInterrupt),
    ):
        build_builtin(tmp_path, cfg, names=("digits-dvs",), progress=False, n_workers=1)
    assert list(tmp_path.iterdir()) == []
    # A folder without a manifest (e.g. a crash of the machine) is treated as missing.
    (tmp_path / "digits-dvs" / "NMNIST" / "Train" / "0").mkdir(parents=True)
    with pytest.raises(DataError, match="not found or incomplete"):
        load_split("digits-dvs", "train", tmp_path)
    with pytest.warns(DataWarning, match="incomplete earlier build"):
        ensure_builtin(tmp_path, 1, 1, names=("digits-dvs",), progress=False)
    assert (tmp_path / "digits-dvs" / MANIFEST).is_file()


def test_ensure_builtin_reuses_and_guards_settings(tmp_path):
    root = ensure_builtin(tmp_path, 1, 1, seed=0, names=("digits-dvs",), progress=False)
    manifest = root / "digits-dvs" / MANIFEST
    stamp = manifest.stat().st_mtime_ns
    with mock.patch("rram_lsm.data.builtin.build_builtin", side_effect=AssertionError):
        ensure_builtin(tmp_path, 1, 1, seed=0, names=("digits-dvs",), progress=False)
    assert manifest.stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="built with other settings"):
        ensure_builtin(tmp_path, 2, 1, seed=0, names=("digits-dvs",), progress=False)
    ensure_builtin(tmp_path, 2, 1, seed=0, names=("digits-dvs",), rebuild=True, progress=False)
    assert json.loads(manifest.read_text())["per_class_train"] == 2


def test_modified_build_is_detected(tmp_path):
    build_builtin(
        tmp_path, BuiltinConfig(per_class_train=1, per_class_test=1), names=("digits-dvs",), progress=False
    )
    next(iter((tmp_path / "digits-dvs" / "NMNIST" / "Train").rglob("*.bin"))).unlink()
    with pytest.raises(DataError, match="9 train samples on disk but the manifest lists 10"):
        load_split("digits-dvs", "train", tmp_path)


def test_figure_helper(splits, tmp_path):
    from rram_lsm.data import plot_class_examples

    for ds in ("digits-dvs", "spoken-digits"):
        path = tmp_path / f"{ds}.png"
        fig = plot_class_examples(splits[(ds, "test")], path, per_class=2, classes=[1, 2, 10])
        assert path.stat().st_size > 1000
        assert len(fig.axes) == 2 * (2 if ds == "digits-dvs" else 3)  # digit 10 only in audio
