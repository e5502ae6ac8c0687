"""load_split on real-layout fixtures: tonic path, binning, label maps, partial data, caching,
zips, and clear errors for missing or malformed data (never a download)."""

from __future__ import annotations

import warnings
import zipfile
from unittest import mock

import numpy as np
import pytest

from rram_lsm.data import BinningConfig, DataWarning, load_split
from rram_lsm.data.binning import bin_image_events
from rram_lsm.data.config import AudioBinning, ImageBinning
from rram_lsm.data.formats import Utterance, encode_nmnist_bin, write_ntidigits_hdf5
from rram_lsm.errors import DataError

IMG = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
PER_CLASS = 2


def _nmnist_events(rng, n):
    ev = np.zeros(n, IMG)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n)
    return ev


def _write_nmnist(root, rng, folder="Train"):
    written = {}
    for digit in range(10):
        for k in range(PER_CLASS):
            ev = _nmnist_events(rng, int(rng.integers(200, 400)))
            path = root / "NMNIST" / folder / str(digit) / f"{digit * 100 + k:05d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_nmnist_bin(ev["x"], ev["y"], ev["t"], ev["p"]))
            written[str(path)] = ev
    return written


TIDIGITS_TRAIN = ["man-aa-a-z", "woman-bb-a-o", "man-aa-a-3", "man-aa-b-12", "woman-cc-a-z", "man-dd-a-9"]
TIDIGITS_TEST = ["man-ee-a-o", "woman-ff-b-z", "man-ee-a-5"]


def _write_ntidigits(root, rng):
    def utts(labels):
        out = []
        for lab in labels:
            n = int(rng.integers(50, 200))
            out.append(
                Utterance(
                    lab,
                    rng.integers(0, 64, n).astype(np.uint8),
                    np.sort(rng.uniform(0.0, 0.8, n)).astype(np.float32),
                )
            )
        return out

    write_ntidigits_hdf5(root / "NTIDIGITS18" / "n-tidigits.hdf5", utts(TIDIGITS_TRAIN), utts(TIDIGITS_TEST))


@pytest.fixture(scope="module")
def real_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    written = _write_nmnist(root, rng, "Train")
    written.update(_write_nmnist(root, rng, "Test"))
    _write_ntidigits(root, rng)
    return root, written


def _load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return load_split(*args, **kwargs)


def test_nmnist_partial_folder_loads_with_count_warning(real_root):
    root, written = real_root
    with pytest.warns(DataWarning, match=r"nmnist train: found 20 of the official 60,000"):
        split = load_split("nmnist", "train", root, cache=False)
    assert split.frames.shape == (10 * PER_CLASS, 50, 256) and split.frames.dtype == np.uint8
    assert split.labels.dtype == np.int64
    assert split.labels.tolist() == [d for d in range(10) for _ in range(PER_CLASS)]
    assert split.modality == "image" and split.label_map == "digit"
    # Event for event: counts and frames equal what binning the written events gives.
    paths = sorted(written)  # tonic's order: sorted folders, sorted files
    train_paths = [p for p in paths if "/Train/" in p]
    for i, p in enumerate(train_paths):
        assert split.events_per_sample[i] == len(written[p])
        np.testing.assert_array_equal(split.frames[i], bin_image_events(written[p], ImageBinning()))


def test_ntidigits_label_maps(real_root):
    root, _ = real_root
    with pytest.warns(DataWarning, match=r"ntidigits train: found 5 of the official 2,464"):
        paper = load_split("ntidigits", "train", root, cache=False)
    tonic = _load("ntidigits", "train", root, label_map="tonic", cache=False)
    # Single digits only ('12' is skipped), file order: z, o, 3, z, 9.
    assert paper.labels.tolist() == [0, 10, 3, 0, 9] and paper.label_map == "paper"
    assert tonic.labels.tolist() == [10, 0, 3, 10, 9] and tonic.label_map == "tonic"
    assert paper.class_names[0] == "zero" and tonic.class_names[0] == "oh"
    np.testing.assert_array_equal(paper.frames, tonic.frames)
    assert paper.frames.shape == (5, 129, 64) and paper.modality == "audio"
    test = _load("ntidigits", "test", root)
    assert test.labels.tolist() == [10, 0, 5]


def test_fixed_binning_and_max_per_class(real_root):
    root, _ = real_root
    binning = BinningConfig(
        audio=AudioBinning(scheme="fixed", n_time_bins=20, bin_usec=50_000),
        image=ImageBinning(n_time_bins=10, bin_usec=30_000, crop=8),
    )
    audio = _load("ntidigits", "train", root, binning, cache=False)
    assert audio.frames.shape == (5, 20, 64) and audio.binning["scheme"] == "fixed"
    image = _load("nmnist", "test", root, binning, max_per_class=1, cache=False)
    assert image.frames.shape == (10, 10, 64) and image.labels.tolist() == list(range(10))


def test_binned_cache_is_reused_and_keyed_by_binning(real_root):
    root, _ = real_root
    first = _load("nmnist", "test", root)
    caches = sorted((root / ".binned").glob("nmnist-test-*.npz"))
    assert len(caches) == 1
    with mock.patch("rram_lsm.data.loaders._load_image", side_effect=AssertionError("re-read")):
        again = _load("nmnist", "test", root)
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.events_per_sample, again.events_per_sample)
    _load("nmnist", "test", root, BinningConfig(image=ImageBinning(polarity=1)))
    assert len(list((root / ".binned").glob("nmnist-test-*.npz"))) == 2
    caches[0].write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    rebuilt = _load("nmnist", "test", root)
    np.testing.assert_array_equal(first.frames, rebuilt.frames)


def test_missing_data_errors_name_files_and_never_download(tmp_path):
    guard = AssertionError("network access attempted")
    with (
        mock.patch("urllib.request.urlopen", side_effect=guard),
        mock.patch("requests.get", side_effect=guard),
    ):
        with pytest.raises(DataError) as err:
            load_split("nmnist", "train", tmp_path)
        msg = str(err.value)
        assert "NMNIST/Train/<digit>/<id>.bin" in msg and "train.zip" in msg
        assert "garrickorchard" in msg and "digits-dvs" in msg
        with pytest.raises(DataError, match=r"NTIDIGITS18/n-tidigits.hdf5.*spoken-digits"):
            load_split("ntidigits", "test", tmp_path)
        (tmp_path / "NMNIST" / "Test").mkdir(parents=True)  # an empty folder is missing data too
        with pytest.raises(DataError, match="Test.zip|test.zip"):
            load_split("nmnist", "test", tmp_path)
        with pytest.raises(DataError, match="rram-lsm data build"):
            load_split("digits-dvs", "train", tmp_path)
        with pytest.raises(DataError, match="rram-lsm data build"):
            load_split("spoken-digits", "train", tmp_path)


def test_unknown_names(tmp_path):
    with pytest.raises(DataError, match="unknown dataset"):
        load_split("mnist", "train", tmp_path)
    with pytest.raises(DataError, match="unknown split"):
        load_split("nmnist", "validation", tmp_path)


def test_malformed_nmnist_files_are_named(tmp_path):
    rng = np.random.default_rng(5)
    _write_nmnist(tmp_path, rng)
    victim = tmp_path / "NMNIST" / "Train" / "3" / "00300.bin"
    good = victim.read_bytes()
    victim.write_bytes(good[:-3])
    with pytest.raises(DataError, match=r"00300.bin: truncated"):
        _load("nmnist", "train", tmp_path)
    victim.write_bytes(good + bytes([40, 5, 0, 0, 1]))  # x = 40 is off the sensor
    with pytest.raises(DataError, match=r"00300.bin: .*outside the 34×34"):
        _load("nmnist", "train", tmp_path, cache=False)
    victim.write_bytes(good)
    stray = tmp_path / "NMNIST" / "Train" / "misc" / "x.bin"
    stray.parent.mkdir()
    stray.write_bytes(good)
    with pytest.raises(DataError, match=r"misc: N-MNIST .bin files must sit in"):
        _load("nmnist", "train", tmp_path, cache=False)


def test_malformed_hdf5_is_named(tmp_path):
    import h5py

    path = tmp_path / "NTIDIGITS18" / "n-tidigits.hdf5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.create_dataset("test_labels", data=np.array([b"man-a-a-1"]))
    with pytest.raises(DataError, match=r"n-tidigits.hdf5: missing 'train_labels'"):
        _load("ntidigits", "train", tmp_path)
    write_ntidigits_hdf5(path, [Utterance("man-a-a-q", np.zeros(3, np.uint8), np.zeros(3, np.float32))], [])
    with pytest.raises(DataError, match=r"n-tidigits.hdf5: .*'man-a-a-q'"):
        _load("ntidigits", "train", tmp_path, cache=False)
    write_ntidigits_hdf5(
        path, [Utterance("man-a-a-1", np.array([70], np.uint8), np.zeros(1, np.float32))], []
    )
    with pytest.raises(DataError, match=r"n-tidigits.hdf5: utterance 'man-a-a-1' .*0..63"):
        _load("ntidigits", "train", tmp_path, cache=False)


def test_official_zip_layout_is_extracted(tmp_path):
    rng = np.random.default_rng(7)
    src = tmp_path / "src"
    written = _write_nmnist(src, rng, "Test")
    (tmp_path / "data" / "NMNIST").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "data" / "NMNIST" / "test.zip", "w") as zf:
        for p in sorted(written):
            zf.write(p, arcname=p.split("NMNIST/")[1])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        split = load_split("nmnist", "test", tmp_path / "data", cache=False)
    messages = [str(w.message) for w in rec]
    assert any("differs from the official" in m for m in messages)
    assert any("found 20 of the official 10,000" in m for m in messages)
    assert len(split) == 10 * PER_CLASS
    assert (tmp_path / "data" / "NMNIST" / "Test" / "0").is_dir()
    with zipfile.ZipFile(tmp_path / "data" / "NMNIST" / "train.zip", "w") as zf:
        zf.writestr("../evil.bin", b"")
    with pytest.raises(DataError, match=r"train.zip: expected every member under 'Train/'"):
        _load("nmnist", "train", tmp_path / "data")
