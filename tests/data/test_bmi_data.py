"""BMI stand-ins (neural-handwriting, letters) read back through the real-data readers, and the
readers against missing or malformed files."""

import gzip

import numpy as np
import pytest
import scipy.io

from rram_lsm.data import emnist, handwriting, letters, willett
from rram_lsm.data.bmi_builtin import BmiStandinConfig, ensure_bmi_builtin
from rram_lsm.errors import DataError

SMALL = BmiStandinConfig(neural_train_per_class=3, neural_test_per_class=1,
                         image_train_per_class=2, image_test_per_class=1, train_writers=3,
                         test_writers=1)


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return ensure_bmi_builtin(tmp_path_factory.mktemp("bmi"), SMALL)


def test_font_sets_disjoint_by_content():
    pen = {repr(handwriting.font_strokes(f)["a"][0].tolist()) for f in handwriting.PEN_FONTS}
    img = {repr(handwriting.font_strokes(f)["a"][0].tolist()) for f in letters.IMAGE_FONTS}
    assert len(pen) == 2 and len(img) == len(letters.IMAGE_FONTS) and not pen & img


def test_neural_standin_read_by_real_reader(standin):
    raw = willett.read_single_letters(standin["neural"], clip=None)
    assert sorted(raw) == list(handwriting.LETTERS)
    assert raw["q"].shape == (4, 201, 192) and raw["q"].dtype == np.uint8
    clipped = willett.read_single_letters(standin["neural"])
    assert clipped["q"].max() == 1 and raw["q"].max() >= 1
    np.testing.assert_array_equal(clipped["q"], np.minimum(raw["q"], 1))
    tr, te = willett.split_trials(4, SMALL.test_fraction)
    assert tr.tolist() == [0, 1, 2] and te.tolist() == [3]
    # the .mat holds exactly the release's keys
    keys = {k for k in scipy.io.whosmat(str(standin["neural"]))}
    assert {k[0] for k in keys} == {f"neuralActivityCube_{c}" for c in handwriting.LETTERS}


def test_letters_standin_read_by_real_reader(standin):
    x, y = emnist.read_emnist_letters(standin["letters"], "train")
    assert x.shape == (52, 28, 28) and x.dtype == np.uint8
    assert y.min() == 0 and y.max() == 25 and np.bincount(y).tolist() == [2] * 26
    xt, _ = emnist.read_emnist_letters(standin["letters"], "test")
    assert xt.shape == (26, 28, 28)
    # stored transposed on disk, returned upright
    blob = gzip.decompress((standin["letters"] / (emnist.file_name("train", "images") + ".gz")).read_bytes())
    on_disk = np.frombuffer(blob, np.uint8, offset=16).reshape(-1, 28, 28)
    np.testing.assert_array_equal(on_disk[0].T, x[0])


def test_uncompressed_idx_and_regeneration(tmp_path, standin):
    imgs = np.zeros((3, 28, 28), np.uint8)
    imgs[:, 2, 5] = 255
    emnist.write_emnist_letters(tmp_path, "test", imgs, np.array([1, 2, 26]), gz=False)
    x, y = emnist.read_emnist_letters(tmp_path, "test")
    assert x[0, 2, 5] == 255 and y.tolist() == [0, 1, 25]
    # same settings: nothing rewritten
    mtime = standin["neural"].stat().st_mtime_ns
    ensure_bmi_builtin(standin["neural"].parent.parent, SMALL)
    assert standin["neural"].stat().st_mtime_ns == mtime


def test_readers_name_expected_files_when_missing(tmp_path):
    with pytest.raises(DataError, match="singleLetters.mat"):
        willett.read_single_letters(tmp_path)
    with pytest.raises(DataError, match="emnist-letters-train-images-idx3-ubyte"):
        emnist.read_emnist_letters(tmp_path, "train")


def test_willett_reader_malformed(tmp_path):
    p = tmp_path / "singleLetters.mat"
    p.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError):
        willett.read_single_letters(p)
    cubes = {c: np.zeros((2, 201, 192), np.uint8) for c in handwriting.LETTERS if c != "k"}
    willett.write_single_letters(p, cubes)
    with pytest.raises(DataError, match="neuralActivityCube_k"):
        willett.read_single_letters(p)
    cubes["k"] = np.zeros((2, 201, 96), np.uint8)
    willett.write_single_letters(p, cubes)
    with pytest.raises(DataError, match="shape"):
        willett.read_single_letters(p)
    cubes["k"] = np.zeros((2, 150, 192), np.uint8)
    willett.write_single_letters(p, cubes)
    with pytest.raises(DataError, match="time bins"):
        willett.read_single_letters(p)


def test_emnist_reader_malformed(tmp_path):
    imgs = np.zeros((2, 28, 28), np.uint8)
    emnist.write_emnist_letters(tmp_path, "train", imgs, np.array([1, 2]), gz=False)
    lab = tmp_path / emnist.file_name("train", "labels")
    img = tmp_path / emnist.file_name("train", "images")
    good = lab.read_bytes()
    lab.write_bytes(good[:-1])  # truncated
    with pytest.raises(DataError, match="bytes"):
        emnist.read_emnist_letters(tmp_path, "train")
    lab.write_bytes(good[:8] + bytes([0, 27]))
    with pytest.raises(DataError, match="1-26"):
        emnist.read_emnist_letters(tmp_path, "train")
    lab.write_bytes(good)
    img.write_bytes(b"\x00\x00\x08\x01" + img.read_bytes()[4:])
    with pytest.raises(DataError, match="magic"):
        emnist.read_emnist_letters(tmp_path, "train")
    img.unlink()
    (tmp_path / (img.name + ".gz")).write_bytes(b"garbage")
    with pytest.raises(DataError):
        emnist.read_emnist_letters(tmp_path, "train")
