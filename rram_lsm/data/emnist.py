"""Reader (and stand-in writer) of the E-MNIST letters idx files.

Files: ``emnist-letters-{train,test}-{images-idx3,labels-idx1}-ubyte`` (optionally ``.gz``).
idx3: magic 0x00000803, n, 28, 28, then uint8 pixels; idx1: magic 0x00000801, n, then uint8
labels 1-26 (a = 1). Images are stored transposed (column-major); the reader returns them
upright (row = y down).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from rram_lsm.errors import DataError

SPLITS = ("train", "test")
_MAGIC = {"images": 0x803, "labels": 0x801}


def file_name(split: str, kind: str) -> str:
    idx = "idx3" if kind == "images" else "idx1"
    return f"emnist-letters-{split}-{kind}-{idx}-ubyte"


def _find(folder: Path, split: str, kind: str) -> Path:
    base = folder / file_name(split, kind)
    for p in (base, base.with_name(base.name + ".gz")):
        if p.is_file():
            return p
    names = ", ".join(f"{file_name(split, k)}[.gz]" for k in ("images", "labels"))
    raise DataError(f"E-MNIST letters {split} files not found in {folder}: expected {names}")


def _read_idx(path: Path, kind: str) -> np.ndarray:
    try:
        blob = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    ndim = 3 if kind == "images" else 1
    head = 4 + 4 * ndim
    if len(blob) < head:
        raise DataError(f"{path}: truncated idx header")
    magic = int.from_bytes(blob[:4], "big")
    if magic != _MAGIC[kind]:
        raise DataError(f"{path}: bad idx magic 0x{magic:08x}, expected 0x{_MAGIC[kind]:08x} "
                        f"({kind})")
    dims = [int.from_bytes(blob[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    n_bytes = int(np.prod(dims))
    if len(blob) - head != n_bytes:
        raise DataError(f"{path}: header says {dims} ({n_bytes} bytes), file has "
                        f"{len(blob) - head}")
    return np.frombuffer(blob, dtype=np.uint8, offset=head).reshape(dims)


def read_emnist_letters(folder: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [n, 28, 28] (upright) and labels int64 [n] in 0-25 (a = 0)."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}")
    folder = Path(folder)
    imgs = _read_idx(_find(folder, split, "images"), "images")
    labels = _read_idx(_find(folder, split, "labels"), "labels").astype(np.int64)
    if imgs.shape[1:] != (28, 28):
        raise DataError(f"{folder}: E-MNIST images must be 28 x 28, got {imgs.shape[1:]}")
    if imgs.shape[0] != labels.shape[0]:
        raise DataError(f"{folder}: {imgs.shape[0]} {split} images but {labels.shape[0]} labels")
    if labels.size and (labels.min() < 1 or labels.max() > 26):
        raise DataError(f"{folder}: E-MNIST letters labels must lie in 1-26")
    return np.ascontiguousarray(imgs.transpose(0, 2, 1)), labels - 1


def _write_idx(path: Path, arr: np.ndarray, kind: str) -> None:
    head = _MAGIC[kind].to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    blob = head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    if path.suffix == ".gz":
        blob = gzip.compress(blob, mtime=0)
    path.write_bytes(blob)


def write_emnist_letters(folder: str | os.PathLike, split: str, images: np.ndarray,
                         labels_1_26: np.ndarray, gz: bool = True) -> None:
    """Write upright images [n, 28, 28] uint8 and labels 1-26 in the E-MNIST layout (stored
    transposed, as the release)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    _write_idx(folder / (file_name(split, "images") + ext), np.asarray(images).transpose(0, 2, 1),
               "images")
    _write_idx(folder / (file_name(split, "labels") + ext), np.asarray(labels_1_26), "labels")
