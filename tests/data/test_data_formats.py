"""Genuine file formats: fixtures written by us and read back through tonic, event for event;
malformed files give clear errors naming the file; label maps."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from rram_lsm.data.formats import (
    Utterance,
    check_nmnist_bin_size,
    count_nmnist_events,
    encode_nmnist_bin,
    index_ntidigits_hdf5,
    validate_nmnist_events,
    write_nmnist_bin,
    write_ntidigits_hdf5,
)
from rram_lsm.data.labels import LABEL_MAPS, audio_class_names, check_label_map, tonic_to
from rram_lsm.data.tonic_offline import NMNIST, NTIDIGITS18
from rram_lsm.errors import ConfigError, DataError


def _random_events(rng, n, t_max=300_000):
    t = np.sort(rng.integers(0, t_max, n))
    return rng.integers(0, 34, n), rng.integers(0, 34, n), t, rng.integers(0, 2, n)


def test_nmnist_bin_roundtrip_through_tonic(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        for label in (0, 5, 9):
            ev = _random_events(rng, 40 + label)
            write_nmnist_bin(tmp_path / "NMNIST" / folder / str(label) / "00001.bin", *ev)
            written[(split, label)] = ev
    for split in ("train", "test"):
        ds = NMNIST(save_to=str(tmp_path), train=split == "train")
        assert len(ds) == 3
        for i, label in enumerate((0, 5, 9)):
            events, target = ds[i]
            assert target == label
            for name, ref in zip("xytp", written[(split, label)], strict=True):
                np.testing.assert_array_equal(events[name], ref)


def test_nmnist_record_layout_by_hand():
    # x=3, y=33, ON, t = 0x012345 us  ->  03 21 81 23 45
    assert encode_nmnist_bin([3], [33], [0x012345], [1]) == bytes([3, 33, 0x81, 0x23, 0x45])
    assert encode_nmnist_bin([0], [1], [7], [0]) == bytes([0, 1, 0, 0, 7])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"x": [34], "y": [0], "t_usec": [0], "p": [0]},
        {"x": [0], "y": [-1], "t_usec": [0], "p": [0]},
        {"x": [0], "y": [0], "t_usec": [2**23], "p": [0]},
        {"x": [0], "y": [0], "t_usec": [0], "p": [2]},
    ],
)
def test_encode_nmnist_rejects_out_of_range(kwargs):
    with pytest.raises(ValueError):
        encode_nmnist_bin(**kwargs)


def test_truncated_bin_is_named(tmp_path):
    path = tmp_path / "00001.bin"
    path.write_bytes(encode_nmnist_bin([1, 2], [3, 4], [5, 6], [0, 1])[:-2])
    with pytest.raises(DataError, match="00001.bin.*truncated"):
        check_nmnist_bin_size(path)
    with pytest.raises(DataError, match="00001.bin"):
        count_nmnist_events(path)


def test_coordinates_outside_sensor_are_named(tmp_path):
    from tonic.io import read_mnist_file

    path = tmp_path / "bad.bin"
    # A hand-made record with x = 40, which the encoder would refuse.
    path.write_bytes(bytes([40, 3, 0, 0, 9]))
    events = read_mnist_file(str(path), dtype=np.dtype([(c, int) for c in "xytp"]))
    with pytest.raises(DataError, match=r"bad.bin.*\(40, 3\).*34×34"):
        validate_nmnist_events(events, path)


def test_count_events_skips_overflow_markers(tmp_path):
    path = tmp_path / "o.bin"
    path.write_bytes(encode_nmnist_bin([1, 2], [3, 4], [5, 6], [0, 1]) + bytes([0, 240, 0, 0, 0]))
    assert count_nmnist_events(path) == 2


def _write_tidigits(path, labels_by_part, rng):
    parts = {}
    for part, labels in labels_by_part.items():
        utts = []
        for lab in labels:
            n = int(rng.integers(5, 30))
            utts.append(
                Utterance(
                    lab,
                    rng.integers(0, 64, n).astype(np.uint8),
                    np.sort(rng.uniform(0, 0.9, n)).astype(np.float32),
                )
            )
        parts[part] = utts
    write_ntidigits_hdf5(path, parts["train"], parts["test"])
    return parts


def test_ntidigits_roundtrip_through_tonic(tmp_path):
    rng = np.random.default_rng(1)
    parts = _write_tidigits(
        tmp_path / "NTIDIGITS18" / "n-tidigits.hdf5",
        {
            "train": ["man-ae-a-1", "woman-cp-b-z", "man-ae-a-1o5", "woman-xy-a-o"],
            "test": ["man-zz-b-7", "woman-q-a-z"],
        },
        rng,
    )
    for part in ("train", "test"):
        ds = NTIDIGITS18(save_to=str(tmp_path), train=part == "train", single_digits=True)
        singles = [u for u in parts[part] if len(u.label.split("-")[-1]) == 1]
        assert len(ds) == len(singles)
        for i, u in enumerate(singles):
            events, target = ds[i]
            assert target == NTIDIGITS18.class_map[u.label[-1]]
            np.testing.assert_array_equal(events["x"], u.addresses)
            # tonic truncates t = int(seconds * 1e6): allow 1 us.
            ref_usec = u.timestamps_s.astype(np.float64) * 1e6
            assert np.all(np.abs(events["t"] - ref_usec) <= 1.0)
            assert np.all(events["p"] == 1)
        ds.data.close()
    index = index_ntidigits_hdf5(tmp_path / "NTIDIGITS18" / "n-tidigits.hdf5", "train")
    assert index.digit_chars == ("1", "z", "o")
    assert index.single == (0, 1, 3)
    assert index.n_events == tuple(len(parts["train"][i].addresses) for i in (0, 1, 3))


def test_hdf5_without_expected_groups_is_named(tmp_path):
    path = tmp_path / "n-tidigits.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_labels", data=np.array([b"man-a-a-1"]))
    with pytest.raises(DataError, match=r"n-tidigits.hdf5: missing 'train_addresses'"):
        index_ntidigits_hdf5(path, "train")


def test_unknown_label_string_is_named(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "n-tidigits.hdf5"
    _write_tidigits(path, {"train": ["man-ae-a-1", "man-ae-a-x"], "test": []}, rng)
    with pytest.raises(DataError, match=r"n-tidigits.hdf5: .*'man-ae-a-x'.*unknown digit"):
        index_ntidigits_hdf5(path, "train")


def test_not_hdf5_and_missing_utterance_are_named(tmp_path):
    path = tmp_path / "n-tidigits.hdf5"
    path.write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError, match="n-tidigits.hdf5: not a readable HDF5"):
        index_ntidigits_hdf5(path, "train")
    with h5py.File(path, "w") as f:
        f.create_dataset("train_labels", data=np.array([b"man-a-a-1"]))
        f.create_group("train_addresses")
        f.create_group("train_timestamps")
    with pytest.raises(DataError, match="'man-a-a-1' is listed but missing"):
        index_ntidigits_hdf5(path, "train")


def test_writer_refuses_duplicate_labels(tmp_path):
    u = Utterance("man-a-a-1", np.zeros(1, np.uint8), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="unique"):
        write_ntidigits_hdf5(tmp_path / "x.hdf5", [u, u], [])


def test_label_maps():
    from tonic.datasets import NTIDIGITS18

    paper, tonic_map = LABEL_MAPS["paper"], LABEL_MAPS["tonic"]
    assert paper["z"] == 0 and paper["o"] == 10
    assert tonic_map["o"] == 0 and tonic_map["z"] == 10
    assert tonic_map == NTIDIGITS18.class_map  # guards against tonic changing its map
    for d in range(1, 10):
        assert paper[str(d)] == tonic_map[str(d)] == d
    assert audio_class_names("paper")[0] == "zero" and audio_class_names("paper")[10] == "oh"
    assert audio_class_names("tonic")[0] == "oh" and audio_class_names("tonic")[10] == "zero"
    assert tonic_to("paper", 0) == 10 and tonic_to("paper", 10) == 0 and tonic_to("paper", 4) == 4
    with pytest.raises(ConfigError, match="label_map"):
        check_label_map("alphabetical")


def test_offline_subclasses_never_download_and_leave_tonic_alone(tmp_path):
    import tonic.datasets

    from rram_lsm.errors import DataError

    ds = NMNIST(save_to=str(tmp_path), train=True)  # empty folder: no download, nothing found
    assert len(ds) == 0 and ds.location_on_system == str(tmp_path / "NMNIST")
    with pytest.raises(DataError, match="refusing to download"):
        ds.download()
    with pytest.raises(DataError, match=r"NTIDIGITS18: files missing; refusing to download"):
        NTIDIGITS18(save_to=str(tmp_path), train=True)
    # tonic's own classes are untouched (subclasses, not run-time patches)
    assert tonic.datasets.NMNIST._check_exists is not NMNIST._check_exists
    assert tonic.datasets.NTIDIGITS18.download is not NTIDIGITS18.download
    assert issubclass(NMNIST, tonic.datasets.NMNIST) and NMNIST.__name__ == "NMNIST"
