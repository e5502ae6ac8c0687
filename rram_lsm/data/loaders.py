"""Read event datasets through tonic (offline, validated) and bin them into frames.

Datasets and where they live under a data root ``R``:

====================  ========  ==========================================================
name                  modality  files (tonic layout)
====================  ========  ==========================================================
``nmnist``            image     ``R/NMNIST/Train|Test/<digit>/<id>.bin`` or
                                ``R/NMNIST/train.zip``, ``test.zip`` (extracted on first use)
``ntidigits``         audio     ``R/NTIDIGITS18/n-tidigits.hdf5``
``digits-dvs``        image     ``R/digits-dvs/NMNIST/...`` (built-in, ``MANIFEST.json``)
``spoken-digits``     audio     ``R/spoken-digits/NTIDIGITS18/n-tidigits.hdf5`` (built-in)
====================  ========  ==========================================================

All four are read by ``tonic.datasets.NMNIST`` / ``NTIDIGITS18`` through the offline subclasses of
`rram_lsm.data.tonic_offline`: files are checked here first, NMNIST's "≥ 10,000 files" test is
skipped (partial folders load with a warning) and ``download`` raises an error.  Binned splits are cached
in ``<dataset root>/.binned/<name>-<split>-<key>.npz`` (key = hash of binning, label map, files).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossbar.fsio import atomic_write_bytes
from rram_lsm.data.binning import bin_audio_events, bin_image_events
from rram_lsm.data.builtin import MANIFEST, DataWarning, read_manifest
from rram_lsm.data.config import AudioBinning, BinningConfig, ImageBinning
from rram_lsm.data.formats import (
    check_nmnist_bin_size,
    check_raw_timestamps,
    index_ntidigits_hdf5,
    validate_audio_events,
    validate_nmnist_events,
)
from rram_lsm.data.labels import (
    IMAGE_CLASS_NAMES,
    IMAGE_LABEL_MAP,
    LABEL_MAPS,
    audio_class_names,
    check_label_map,
)
from rram_lsm.errors import DataError

Modality = Literal["image", "audio"]
_CACHE_VERSION = 1

NMNIST_URL = "https://www.garrickorchard.com/datasets/n-mnist"
NMNIST_MD5 = {"train": "20959b8e626244a1b502305a9e6e2031", "test": "69ca8762b2fe404d9b9bad1103e97832"}
NTIDIGITS_URL = "https://docs.google.com/document/d/1Uxe7GsKKXcy6SlDUX4hoJVAC0-UkH-8kr5UXp0Ndi1M"


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset name."""

    name: str
    modality: Modality
    builtin: bool
    official: dict[str, int]  # official sample counts per split (real data) or {}


DATASETS: dict[str, DatasetInfo] = {
    "nmnist": DatasetInfo("nmnist", "image", False, {"train": 60_000, "test": 10_000}),
    "ntidigits": DatasetInfo("ntidigits", "audio", False, {"train": 2_464, "test": 2_486}),
    "digits-dvs": DatasetInfo("digits-dvs", "image", True, {}),
    "spoken-digits": DatasetInfo("spoken-digits", "audio", True, {}),
}
SPLITS = ("train", "test")


@dataclass(frozen=True, eq=False)
class BinnedSplit:
    """One split of a dataset as binary frames.

    Attributes:
        dataset: dataset name ('nmnist', 'ntidigits', 'digits-dvs', 'spoken-digits').
        split: 'train' or 'test'.
        modality: 'image' or 'audio'.
        frames: uint8 [n_samples, T, n_inputs], values 0/1.  Image: T = 50, n_inputs = 256 (16 × 16
            crop flattened row-major, index y·16 + x); audio: T = 129, n_inputs = 64 channels.
        labels: int64 [n_samples], class ids under ``label_map``.
        events_per_sample: int64 [n_samples], events in the raw recording (before crop/binning).
        label_map: 'digit' (images), 'paper' or 'tonic' (audio; see `rram_lsm.data.labels`).
        class_names: name of each class id.
        binning: the resolved binning parameters used.
        source: the tonic root the data were read from.
    """

    dataset: str
    split: str
    modality: Modality
    frames: np.ndarray
    labels: np.ndarray
    events_per_sample: np.ndarray
    label_map: str
    class_names: tuple[str, ...]
    binning: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_time_bins(self) -> int:
        return int(self.frames.shape[1])

    @property
    def n_inputs(self) -> int:
        return int(self.frames.shape[2])

    def class_counts(self) -> dict[int, int]:
        vals, counts = np.unique(self.labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts, strict=True)}

    def subset(self, index: np.ndarray) -> BinnedSplit:
        """A new split holding the samples ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        return BinnedSplit(
            self.dataset,
            self.split,
            self.modality,
            self.frames[index],
            self.labels[index],
            self.events_per_sample[index],
            self.label_map,
            self.class_names,
            dict(self.binning),
            self.source,
        )


# ---------------------------------------------------------------------------------------------
# Locating files
# ---------------------------------------------------------------------------------------------


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None


def tonic_root(name: str, data_root: str | os.PathLike) -> Path:
    """The folder handed to tonic as ``save_to`` for ``name``."""
    info = dataset_info(name)
    root = Path(data_root)
    return root / name if info.builtin else root


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")


def _missing_nmnist(root: Path, split: str) -> DataError:
    folder = "Train" if split == "train" else "Test"
    return DataError(
        f"N-MNIST {split} data not found under {root / 'NMNIST'}: expected "
        f"{root / 'NMNIST' / folder}/<digit>/<id>.bin (the extracted {split}.zip, "
        f"{DATASETS['nmnist'].official[split]:,} files) or {root / 'NMNIST' / (split + '.zip')} "
        f"(md5 {NMNIST_MD5[split]}). Download N-MNIST from {NMNIST_URL} (Mendeley Data "
        "468j46mzdv) and place it there, or use the built-in stand-in 'digits-dvs' "
        "(`rram-lsm data build`). Nothing is downloaded automatically."
    )


def _missing_builtin(name: str, root: Path) -> DataError:
    return DataError(
        f"built-in dataset {name!r} not found or incomplete at {root / name} (no {MANIFEST}); "
        f"build it with `rram-lsm data build --out {root}` or rram_lsm.data.ensure_builtin()"
    )


def _is_bin(fname: str) -> bool:
    return fname.endswith("bin")  # the test tonic's NMNIST applies


def _extract_nmnist_zip(zip_path: Path, folder_name: str, split: str) -> None:
    """Extract the official N-MNIST zip ourselves (tonic would try the network on a bad md5)."""
    dest = zip_path.parent
    md5 = hashlib.md5()
    with open(zip_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
    if md5.hexdigest() != NMNIST_MD5[split]:
        warnings.warn(
            f"{zip_path}: md5 {md5.hexdigest()} differs from the official "
            f"{NMNIST_MD5[split]}; extracting it anyway",
            DataWarning,
            stacklevel=5,
        )
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{zip_path}: not a valid zip archive ({exc}); re-download it") from None
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        bad = [
            n
            for n in names
            if n.startswith("/") or ".." in Path(n).parts or not n.startswith(folder_name + "/")
        ]
        if bad or not names:
            raise DataError(
                f"{zip_path}: expected every member under '{folder_name}/' (the official archive "
                f"layout); found {bad[:3] or 'no files'}"
            )
        tmp = dest / f".{folder_name}.extract-{os.getpid()}"
        try:
            zf.extractall(tmp)
            (tmp / folder_name).rename(dest / folder_name)
        except OSError as exc:
            raise DataError(
                f"{zip_path}: cannot extract into {dest} ({exc}); unzip it there yourself"
            ) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class NmnistIndex:
    files: tuple[str, ...]  # in tonic's order
    labels: tuple[int, ...]
    n_events: tuple[int, ...]  # records per file (upper bound on events; exact when no overflow)
    fingerprint: str


def index_nmnist_folder(save_to: Path, split: str, allow_zip: bool) -> NmnistIndex:
    folder_name = "Train" if split == "train" else "Test"
    base = save_to / "NMNIST"
    folder = base / folder_name
    has_files = folder.is_dir() and any(True for _ in folder.rglob("*bin"))
    if not has_files:
        zip_path = base / f"{split}.zip"
        if allow_zip and zip_path.is_file():
            _extract_nmnist_zip(zip_path, folder_name, split)
        else:
            raise _missing_nmnist(save_to, split)
    files, labels, n_events = [], [], []
    h = hashlib.sha256()
    # Walk exactly as tonic does (sorted folders and files), validating what tonic assumes.
    for path, dirs, fnames in os.walk(folder):
        dirs.sort()
        fnames.sort()
        bins = [f for f in fnames if _is_bin(f)]
        if not bins:
            continue
        rel = Path(path).relative_to(folder)
        if len(rel.parts) != 1 or rel.parts[0] not in {str(d) for d in range(10)}:
            raise DataError(
                f"{path}: N-MNIST .bin files must sit in {folder}/<digit>/ with <digit> in 0..9 "
                "(tonic takes the label from the folder name)"
            )
        for f in bins:
            p = os.path.join(path, f)
            st = os.stat(p)
            n_events.append(check_nmnist_bin_size(p, st.st_size))
            files.append(p)
            labels.append(int(rel.parts[0]))
            h.update(f"{rel.parts[0]}/{f}:{st.st_size}:{st.st_mtime_ns};".encode())
    if not files:
        raise _missing_nmnist(save_to, split)
    return NmnistIndex(tuple(files), tuple(labels), tuple(n_events), h.hexdigest())


def _ntidigits_file(save_to: Path) -> Path:
    return save_to / "NTIDIGITS18" / "n-tidigits.hdf5"


def _missing_ntidigits(save_to: Path) -> DataError:
    return DataError(
        f"N-TIDIGITS18 not found: expected {_ntidigits_file(save_to)} (the single file "
        f"n-tidigits.hdf5). Get it from {NTIDIGITS_URL} (Anumula et al. 2018, N-TIDIGITS18)"
        " and place it there, or use the built-in stand-in 'spoken-digits' "
        "(`rram-lsm data build`). Nothing is downloaded automatically."
    )


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _warn_partial(name: str, split: str, found: int, where: Path) -> None:
    official = DATASETS[name].official.get(split)
    if official and found < official:
        warnings.warn(
            f"{name} {split}: found {found:,} of the official {official:,} samples in {where}; "
            "loading what is there",
            DataWarning,
            stacklevel=4,  # the caller of load_split
        )


def _warn_unsorted(name: str, split: str, where: list[str], total: int) -> None:
    """One warning per split for samples whose events were out of time order (then sorted)."""
    if where:
        warnings.warn(
            f"{name} {split}: {len(where)} of {total} samples have events out of time order "
            f"(first: {where[0]}); their events were sorted by time",
            DataWarning,
            stacklevel=4,
        )


def _select(labels: np.ndarray, max_per_class: int | None) -> np.ndarray:
    if max_per_class is None:
        return np.arange(labels.size)
    keep = np.zeros(labels.size, dtype=bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:max_per_class]] = True
    return np.flatnonzero(keep)


def _tqdm(it, total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, unit="sample", disable=not progress)


def _load_image(
    name: str,
    split: str,
    save_to: Path,
    cfg: ImageBinning,
    max_per_class: int | None,
    progress: bool,
    index: NmnistIndex,
) -> dict:
    from rram_lsm.data.tonic_offline import NMNIST

    ds = NMNIST(save_to=str(save_to), train=(split == "train"))
    if list(ds.data) != list(index.files):  # pragma: no cover - tonic changed its walk
        raise DataError(f"{save_to}: tonic indexed the N-MNIST files differently than expected")
    labels = np.asarray(ds.targets, dtype=np.int64)
    sel = _select(labels, max_per_class)
    frames = np.zeros((sel.size, cfg.n_time_bins, cfg.crop * cfg.crop), dtype=np.uint8)
    n_ev = np.zeros(sel.size, dtype=np.int64)
    unsorted: list[str] = []
    for j, i in enumerate(_tqdm(sel, sel.size, f"{name} {split}", progress)):
        events, _ = ds[int(i)]
        events = validate_nmnist_events(events, ds.data[i], unsorted)
        n_ev[j] = len(events)
        frames[j] = bin_image_events(events, cfg)
    _warn_unsorted(name, split, unsorted, sel.size)
    return {
        "frames": frames,
        "labels": labels[sel],
        "events": n_ev,
        "label_map": IMAGE_LABEL_MAP,
        "class_names": IMAGE_CLASS_NAMES,
    }


def _load_audio(
    name: str,
    split: str,
    save_to: Path,
    cfg: AudioBinning,
    label_map: str,
    max_per_class: int | None,
    progress: bool,
) -> dict:
    from rram_lsm.data.tonic_offline import NTIDIGITS18

    path = _ntidigits_file(save_to)
    index = index_ntidigits_hdf5(path, split)
    mapping = LABEL_MAPS[label_map]
    labels = np.asarray([mapping[c] for c in index.digit_chars], dtype=np.int64)
    if not DATASETS[name].builtin:
        _warn_partial(name, split, len(index.single), path)
    if labels.size == 0:
        raise DataError(f"{path}: no single-digit utterances in the {split} partition")
    sel = _select(labels, max_per_class)
    tonic_map = NTIDIGITS18.class_map
    ds = NTIDIGITS18(save_to=str(save_to), train=(split == "train"), single_digits=True)
    try:
        if len(ds) != len(index.single):  # pragma: no cover - tonic changed its indexing
            raise DataError(f"{path}: tonic found {len(ds)} single digits, expected {len(index.single)}")
        frames = np.zeros((sel.size, cfg.n_time_bins, cfg.n_channels), dtype=np.uint8)
        n_ev = np.zeros(sel.size, dtype=np.int64)
        unsorted: list[str] = []
        for j, i in enumerate(_tqdm(sel, sel.size, f"{name} {split}", progress)):
            label = index.labels[index.single[i]]
            # tonic casts the times to integer us, which turns NaN / inf into garbage: check
            # the file's own values first
            check_raw_timestamps(ds.data[f"{split}_timestamps"][label][()], path, label)
            events, tonic_label = ds[int(i)]
            if tonic_label != tonic_map[index.digit_chars[i]]:  # pragma: no cover
                raise DataError(f"{path}: label mismatch at single-digit utterance {i}")
            events = validate_audio_events(events, path, label, cfg.n_channels, unsorted)
            n_ev[j] = len(events)
            frames[j] = bin_audio_events(events, cfg)
    finally:
        ds.data.close()  # tonic keeps the HDF5 file open for the object's lifetime
    _warn_unsorted(name, split, unsorted, sel.size)
    return {
        "frames": frames,
        "labels": labels[sel],
        "events": n_ev,
        "label_map": label_map,
        "class_names": audio_class_names(label_map),
    }


def _file_stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _fingerprint(name: str, split: str, save_to: Path) -> tuple[str, Any]:
    """(fingerprint of the files, index or None); raises DataError if the data are missing.

    The fingerprint changes whenever a file is added, removed, resized or touched, so a stale
    binned cache is never used.
    """
    info = DATASETS[name]
    if info.builtin:
        manifest = read_manifest(save_to)
        if manifest is None:
            raise _missing_builtin(name, save_to.parent)
        fp = hashlib.sha256((save_to / MANIFEST).read_bytes()).hexdigest()
        want = manifest["samples"][split]
        if info.modality == "image":
            index = index_nmnist_folder(save_to, split, allow_zip=False)
            found = len(index.files)
            fp += ":" + index.fingerprint
        else:
            path = _ntidigits_file(save_to)
            if not path.is_file():
                raise _missing_builtin(name, save_to.parent)
            index = None
            found = len(index_ntidigits_hdf5(path, split).single)
            fp += ":" + _file_stamp(path)
        if found != want:
            raise DataError(
                f"{save_to}: {found} {split} samples on disk but the manifest lists {want}; the "
                "folder was modified, rebuild it with `rram-lsm data build --force`"
            )
        return fp, index
    if info.modality == "image":
        index = index_nmnist_folder(save_to, split, allow_zip=True)
        _warn_partial(name, split, len(index.files), save_to / "NMNIST")
        return index.fingerprint, index
    path = _ntidigits_file(save_to)
    if not path.is_file():
        raise _missing_ntidigits(save_to)
    return _file_stamp(path), None


def check_available(dataset: str, split: str, data_root: str | os.PathLike) -> None:
    """Raise `DataError` (naming the expected files) if a real dataset's ``split`` is missing
    under ``data_root``; built-in stand-ins pass (they are built on first use). Reads no events,
    so callers can check their inputs before they create any output."""
    info = dataset_info(dataset)
    _check_split(split)
    if info.builtin:
        return
    save_to = tonic_root(dataset, data_root)
    if info.modality == "image":
        folder = save_to / "NMNIST" / ("Train" if split == "train" else "Test")
        if not (folder.is_dir() or (save_to / "NMNIST" / f"{split}.zip").is_file()):
            raise _missing_nmnist(save_to, split)
        if folder.is_dir():
            index_nmnist_folder(save_to, split, allow_zip=False)
        return
    path = _ntidigits_file(save_to)
    if not path.is_file():
        raise _missing_ntidigits(save_to)
    index_ntidigits_hdf5(path, split)


def _cache_path(save_to: Path, name: str, split: str, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return save_to / ".binned" / f"{name}-{split}-{digest}.npz"


def _read_cache(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            shape = tuple(int(s) for s in z["shape"])
            frames = np.unpackbits(z["frames_packed"], axis=-1, count=shape[-1]).reshape(shape)
            meta = json.loads(str(z["meta"]))
            return {
                "frames": frames,
                "labels": z["labels"].astype(np.int64),
                "events": z["events"].astype(np.int64),
                "label_map": meta["label_map"],
                "class_names": tuple(meta["class_names"]),
            }
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile):
        return None  # a damaged cache is rebuilt, never trusted


def _write_cache(path: Path, data: dict) -> None:
    buf = io.BytesIO()
    meta = {"label_map": data["label_map"], "class_names": list(data["class_names"])}
    np.savez(
        buf,
        frames_packed=np.packbits(data["frames"], axis=-1),
        shape=np.asarray(data["frames"].shape, dtype=np.int64),
        labels=data["labels"],
        events=data["events"],
        meta=np.asarray(json.dumps(meta)),
    )
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        warnings.warn(
            f"{path}: cannot write the binned cache ({exc}); continuing without it", DataWarning, stacklevel=3
        )


def load_split(
    dataset: str,
    split: str,
    data_root: str | os.PathLike = "data_cache",
    binning: BinningConfig | None = None,
    label_map: str = "paper",
    *,
    max_per_class: int | None = None,
    cache: bool = True,
    progress: bool = False,
) -> BinnedSplit:
    """Load one split of a dataset as binary frames (see `BinnedSplit`).

    Args:
        dataset: 'nmnist', 'ntidigits', 'digits-dvs' or 'spoken-digits'.
        split: 'train' or 'test'.
        data_root: the data root (real data at ``R/NMNIST``, ``R/NTIDIGITS18``; stand-ins at
            ``R/digits-dvs``, ``R/spoken-digits``).
        binning: binning of both modalities (default: the paper's).
        label_map: audio class coding, 'paper' (z→0, o→10) or 'tonic' (o→0, z→10); ignored
            for image data, which use the digit.
        max_per_class: keep only the first N samples of each class (dataset order).
        cache: read/write the binned arrays under ``<dataset root>/.binned/``.
        progress: show a progress bar while binning.

    Raises:
        DataError: data missing (the message names the expected files and where to get them) or
            malformed (the message names the file).
    """
    info = dataset_info(dataset)
    _check_split(split)
    check_label_map(label_map)
    if max_per_class is not None and max_per_class < 1:
        raise DataError(f"max_per_class must be >= 1 (got {max_per_class})")
    binning = binning or BinningConfig()
    sub = binning.image if info.modality == "image" else binning.audio
    save_to = tonic_root(dataset, data_root)
    fingerprint, index = _fingerprint(dataset, split, save_to)
    used_map = IMAGE_LABEL_MAP if info.modality == "image" else label_map
    key = {
        "v": _CACHE_VERSION,
        "dataset": dataset,
        "split": split,
        "binning": sub.digest(),
        "label_map": used_map,
        "max_per_class": max_per_class,
        "files": fingerprint,
    }
    cpath = _cache_path(save_to, dataset, split, key)
    data = _read_cache(cpath) if cache and cpath.is_file() else None
    if data is None:
        if info.modality == "image":
            data = _load_image(dataset, split, save_to, sub, max_per_class, progress, index)
        else:
            data = _load_audio(dataset, split, save_to, sub, label_map, max_per_class, progress)
        if cache:
            _write_cache(cpath, data)
    return BinnedSplit(
        dataset=dataset,
        split=split,
        modality=info.modality,
        frames=data["frames"],
        labels=data["labels"],
        events_per_sample=data["events"],
        label_map=data["label_map"],
        class_names=tuple(data["class_names"]),
        binning=sub.model_dump(mode="json"),
        source=str(save_to),
    )
