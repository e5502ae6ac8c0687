"""The one atomic writer and overwrite guard (crossbar.fsio), shared by every package."""

from __future__ import annotations

import os
import stat

import pytest

import firmware.errors
import rram_lsm.io
from crossbar import fsio
from crossbar.errors import InputError, OutputExistsError


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_one_implementation_everywhere():
    assert rram_lsm.io.atomic_write_bytes is fsio.atomic_write_bytes
    assert rram_lsm.io.refuse_overwrite is fsio.refuse_overwrite
    assert firmware.errors.OutputExistsError is OutputExistsError
    assert issubclass(OutputExistsError, InputError)  # the CLI answers exit code 2


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = fsio.atomic_write_text(tmp_path / "sub" / "a.txt", "x")
    finally:
        os.umask(old)
    assert path.read_text() == "x"
    assert _mode(path) == 0o666 & ~umask


def test_overwrite_guard(tmp_path):
    path = fsio.atomic_write_json(tmp_path / "a.json", {"b": 1, "a": 2})
    assert path.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    with pytest.raises(OutputExistsError, match="a.json: file exists.*--force"):
        fsio.atomic_write_bytes(path, b"new", overwrite=False)
    with pytest.raises(OutputExistsError):
        fsio.refuse_overwrite(path)
    assert fsio.refuse_overwrite(path, force=True) == path
    fsio.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp files left


def test_no_overwrite_is_checked_again_at_the_rename(tmp_path):
    """A file that appears while we write is not replaced."""
    path = tmp_path / "late.bin"

    def write(fh):
        fh.write(b"ours")
        path.write_bytes(b"theirs")

    with pytest.raises(OutputExistsError):
        fsio.atomic_write(path, write, overwrite=False)
    assert path.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.bin"]


def test_failed_write_leaves_nothing(tmp_path):
    def write(fh):
        fh.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        fsio.atomic_write(tmp_path / "x.bin", write)
    assert list(tmp_path.iterdir()) == []


def test_run_folder_guard(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "f").write_text("")
    with pytest.raises(OutputExistsError, match="not empty"):
        rram_lsm.io.prepare_output_dir(tmp_path / "run")
    assert rram_lsm.io.prepare_output_dir(tmp_path / "run", force=True) == tmp_path / "run"
