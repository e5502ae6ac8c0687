"""Which datasets a data root holds, and their per-split statistics (no binning, no tonic)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rram_lsm.data.builtin import read_manifest
from rram_lsm.data.formats import count_nmnist_events, index_ntidigits_hdf5
from rram_lsm.data.loaders import DATASETS, SPLITS, index_nmnist_folder, tonic_root
from rram_lsm.errors import DataError


def _stats(labels: list, events: list[int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"samples": len(labels), "classes": len(set(labels))}
    if events:
        ev = np.asarray(events, dtype=np.float64)
        out.update(events_mean=round(float(ev.mean()), 1), events_min=int(ev.min()), events_max=int(ev.max()))
    else:
        out.update(events_mean=None, events_min=None, events_max=None)
    return out


def _missing_split() -> dict[str, Any]:
    return {
        "samples": 0,
        "classes": 0,
        "events_mean": None,
        "events_min": None,
        "events_max": None,
        "missing": True,
    }


def _nmnist_split(save_to: Path, split: str) -> dict[str, Any] | None:
    folder = save_to / "NMNIST" / ("Train" if split == "train" else "Test")
    if folder.is_dir() and any(True for _ in folder.rglob("*bin")):
        index = index_nmnist_folder(save_to, split, allow_zip=False)
        events = [count_nmnist_events(f) for f in index.files]
        return _stats(list(index.labels), events)
    zip_path = save_to / "NMNIST" / f"{split}.zip"
    if zip_path.is_file():  # not extracted yet: count members, events unknown until loaded
        try:
            with zipfile.ZipFile(zip_path) as zf:
                names = [n for n in zf.namelist() if n.endswith("bin")]
        except zipfile.BadZipFile as exc:
            raise DataError(f"{zip_path}: not a valid zip archive ({exc})") from None
        out = _stats([Path(n).parent.name for n in names], None)
        out["note"] = "zip not extracted yet; events counted on first load"
        return out
    return None


def _ntidigits_split(save_to: Path, split: str) -> dict[str, Any] | None:
    path = save_to / "NTIDIGITS18" / "n-tidigits.hdf5"
    if not path.is_file():
        return None
    index = index_ntidigits_hdf5(path, split)
    return _stats(list(index.digit_chars), list(index.n_events))


def dataset_summary(name: str, data_root: str | os.PathLike) -> dict[str, Any] | None:
    """Per-split statistics of ``name`` under ``data_root``, or None if it is absent.

    Returns ``{"modality", "path", "train": {...}, "test": {...}}`` where each split has
    ``samples``, ``classes``, ``events_mean``, ``events_min``, ``events_max`` (events per sample).
    """
    info = DATASETS[name]
    save_to = tonic_root(name, data_root)
    if info.builtin and read_manifest(save_to) is None:
        return None
    reader = _nmnist_split if info.modality == "image" else _ntidigits_split
    splits = {s: reader(save_to, s) for s in SPLITS}
    if all(v is None for v in splits.values()):
        return None
    out: dict[str, Any] = {"modality": info.modality, "path": str(save_to)}
    for s in SPLITS:
        out[s] = splits[s] if splits[s] is not None else _missing_split()
    return out


def data_info(data_root: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Summaries of every dataset present under ``data_root`` (keys: dataset names)."""
    root = Path(data_root)
    if not root.is_dir():
        raise DataError(
            f"{root}: data root not found (build the stand-ins with `rram-lsm data build --out {root}`)"
        )
    out = {}
    for name in DATASETS:
        summary = dataset_summary(name, root)
        if summary is not None:
            out[name] = summary
    if not out:
        raise DataError(
            f"{root}: no datasets found. Expected any of: {root}/NMNIST/Train|Test/<digit>/*.bin "
            f"(N-MNIST), {root}/NTIDIGITS18/n-tidigits.hdf5 (N-TIDIGITS18), or the built-in "
            f"stand-ins {root}/digits-dvs and {root}/spoken-digits (`rram-lsm data build --out "
            f"{root}`)"
        )
    return out
