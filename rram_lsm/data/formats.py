"""The genuine on-disk formats: N-MNIST ``.bin`` files and the N-TIDIGITS18 HDF5 file.

Writers (used by the stand-in builders and test fixtures) and validators (run before any file is
handed to tonic, so that a malformed file gives a `DataError` that names the file, not a numpy
traceback from inside tonic).

N-MNIST ``.bin`` (Orchard et al. 2015): no header; one 5-byte big-endian record per event:
byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), the remaining 23 bits = timestamp in
µs.  A record with y == 240 is a timestamp-overflow marker (tonic drops it).

N-TIDIGITS18 HDF5 (tonic layout), per partition ``train`` / ``test``:
``<part>_labels`` (1-D byte strings ``<gender>-<speaker>-<a|b>-<digits>``),
``<part>_addresses/<label>`` (channel ids 0..63 per event) and ``<part>_timestamps/<label>``
(event times in s).  Single-digit utterances have a one-character last field in
``o, 1, …, 9, z``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rram_lsm.errors import DataError

NMNIST_SIZE = 34  # sensor width = height, px
NMNIST_RECORD_BYTES = 5
NMNIST_MAX_T_USEC = 2**23  # 23-bit timestamps; longer recordings need overflow records
NMNIST_OVERFLOW_Y = 240

NTIDIGITS_CHANNELS = 64
DIGIT_CHARS = ("o", "1", "2", "3", "4", "5", "6", "7", "8", "9", "z")


# ---------------------------------------------------------------------------------------------
# N-MNIST .bin
# ---------------------------------------------------------------------------------------------


def encode_nmnist_bin(x, y, t_usec, p) -> bytes:
    """Encode events as N-MNIST ``.bin`` bytes.

    Args:
        x, y: pixel coordinates, 0 <= x, y < 34.
        t_usec: timestamps in µs, 0 <= t < 2**23, in file order (should be non-decreasing).
        p: polarity, 1 = ON, 0 = OFF.
    """
    x, y, t, p = (np.asarray(a, dtype=np.int64).ravel() for a in (x, y, t_usec, p))
    if not (len(x) == len(y) == len(t) == len(p)):
        raise ValueError("x, y, t_usec and p must have the same length")
    if len(x) and (x.min() < 0 or x.max() >= NMNIST_SIZE or y.min() < 0 or y.max() >= NMNIST_SIZE):
        raise ValueError(f"x and y must lie in 0..{NMNIST_SIZE - 1}")
    if len(t) and (t.min() < 0 or t.max() >= NMNIST_MAX_T_USEC):
        raise ValueError(f"t_usec must lie in 0..{NMNIST_MAX_T_USEC - 1}")
    if len(p) and not np.isin(p, (0, 1)).all():
        raise ValueError("p must be 0 or 1")
    rec = np.empty((len(t), NMNIST_RECORD_BYTES), dtype=np.uint8)
    rec[:, 0] = x
    rec[:, 1] = y
    rec[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    rec[:, 3] = (t >> 8) & 0xFF
    rec[:, 4] = t & 0xFF
    return rec.tobytes()


def write_nmnist_bin(path: str | os.PathLike, x, y, t_usec, p) -> Path:
    """Write one N-MNIST ``.bin`` file (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_nmnist_bin(x, y, t_usec, p))
    return path


def check_nmnist_bin_size(path: str | os.PathLike, size: int | None = None) -> int:
    """Raise `DataError` if the file is not a whole number of 5-byte records; return #records."""
    if size is None:
        size = os.path.getsize(path)
    if size == 0:
        raise DataError(f"{path}: empty N-MNIST .bin file (0 bytes, no events); re-copy or "
                        "re-extract this file, or remove it")
    if size % NMNIST_RECORD_BYTES:
        raise DataError(
            f"{path}: truncated N-MNIST .bin file ({size} bytes is not a multiple of the "
            f"{NMNIST_RECORD_BYTES}-byte event record); re-copy or re-extract this file"
        )
    return size // NMNIST_RECORD_BYTES


def count_nmnist_events(path: str | os.PathLike) -> int:
    """Number of events in a ``.bin`` file (records that are not overflow markers); `DataError`
    if the file is empty, truncated or has an event outside the 34 x 34 sensor."""
    raw = np.fromfile(path, dtype=np.uint8)
    check_nmnist_bin_size(path, raw.size)
    x, y = raw[0::NMNIST_RECORD_BYTES], raw[1::NMNIST_RECORD_BYTES]
    event = y != NMNIST_OVERFLOW_Y
    bad = event & ((x >= NMNIST_SIZE) | (y >= NMNIST_SIZE))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: event {i} has (x, y) = ({x[i]}, {y[i]}), outside the {NMNIST_SIZE}×"
            f"{NMNIST_SIZE} N-MNIST sensor ({int(bad.sum())} such events); the file is not an "
            "N-MNIST recording or is corrupt")
    return int(np.count_nonzero(event))


def _unsorted(where: str, count: int, total: int, collect: list[str] | None) -> None:
    """Note events that were not in time order: into ``collect`` (the caller warns once for a
    whole split), else as a `DataWarning` now."""
    if collect is not None:
        collect.append(where)
        return
    from rram_lsm.data.builtin import DataWarning

    warnings.warn(f"{where}: {count} of {total} events have a timestamp below the one before; "
                  "the events were sorted by time", DataWarning, stacklevel=3)


def validate_nmnist_events(events: np.ndarray, path: str | os.PathLike,
                           unsorted: list[str] | None = None) -> np.ndarray:
    """Check coordinates of tonic-read N-MNIST events; return them sorted by time.

    Raises `DataError` naming ``path`` if any x or y lies outside the 34 × 34 sensor or a
    timestamp is negative. Events out of time order are sorted, and noted: ``path`` is appended
    to ``unsorted`` if given, else a `DataWarning` says how many events were out of order.
    """
    if len(events):
        bad = (
            (events["x"] < 0)
            | (events["x"] >= NMNIST_SIZE)
            | (events["y"] < 0)
            | (events["y"] >= NMNIST_SIZE)
        )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: event {i} has (x, y) = ({events['x'][i]}, {events['y'][i]}), outside "
                f"the {NMNIST_SIZE}×{NMNIST_SIZE} N-MNIST sensor ({int(bad.sum())} such events); "
                "the file is not an N-MNIST recording or is corrupt"
            )
        t = events["t"]
        if t.min() < 0:
            raise DataError(f"{path}: {int(np.count_nonzero(t < 0))} events have negative "
                            "timestamps")
        back = int(np.count_nonzero(t[1:] < t[:-1]))
        if back:
            # Binning slices by searchsorted on t, which needs time order.
            _unsorted(str(path), back, len(t), unsorted)
            events = events[np.argsort(t, kind="stable")]
    return events


# ---------------------------------------------------------------------------------------------
# N-TIDIGITS18 HDF5
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    """One N-TIDIGITS utterance to write: ``label`` as in the real file, events (t in s, channel)."""

    label: str
    addresses: np.ndarray  # uint8 [n_events], channel ids
    timestamps_s: np.ndarray  # float32 [n_events], seconds


def write_ntidigits_hdf5(
    path: str | os.PathLike,
    train: Iterable[Utterance],
    test: Iterable[Utterance],
) -> Path:
    """Write an ``n-tidigits.hdf5`` in the layout tonic's ``NTIDIGITS18`` reads.

    Datasets are written without modification times so that the same input gives the same bytes.
    """
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", track_order=False) as f:
        for part, utterances in (("train", train), ("test", test)):
            utterances = list(utterances)
            labels = [u.label for u in utterances]
            if len(set(labels)) != len(labels):
                raise ValueError(f"{part}: labels must be unique (they are HDF5 dataset names)")
            ga = f.create_group(f"{part}_addresses")
            gt = f.create_group(f"{part}_timestamps")
            for u in utterances:
                ga.create_dataset(u.label, data=np.asarray(u.addresses, dtype=np.uint8), track_times=False)
                gt.create_dataset(
                    u.label, data=np.asarray(u.timestamps_s, dtype=np.float32), track_times=False
                )
            f.create_dataset(f"{part}_labels", data=np.array(labels, dtype="S"), track_times=False)
    return path


@dataclass(frozen=True)
class NTidigitsIndex:
    """Validated index of one partition of an N-TIDIGITS18 HDF5 file."""

    path: Path
    partition: str
    labels: tuple[str, ...]  # all utterance labels in file order
    single: tuple[int, ...]  # positions (in ``labels``) of single-digit utterances, file order
    digit_chars: tuple[str, ...]  # last-field character of each single-digit utterance
    n_events: tuple[int, ...]  # events per single-digit utterance


def index_ntidigits_hdf5(
    path: str | os.PathLike, partition: str, n_channels: int = NTIDIGITS_CHANNELS
) -> NTidigitsIndex:
    """Open and validate one partition of an N-TIDIGITS18 HDF5 file (metadata only, no events).

    Raises `DataError` naming the file for: not HDF5, missing groups, labels that are not byte
    strings, unknown single-digit label strings, missing per-utterance datasets, address and
    timestamp arrays of different lengths.  Address ranges are checked when events are read.
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        keys = (f"{partition}_labels", f"{partition}_addresses", f"{partition}_timestamps")
        missing = [k for k in keys if k not in f]
        if missing:
            raise DataError(
                f"{path}: missing {', '.join(repr(k) for k in missing)} (an N-TIDIGITS18 file has "
                "groups '<part>_addresses', '<part>_timestamps' and the dataset '<part>_labels' "
                "for part = train and test); this is not an N-TIDIGITS18 file"
            )
        raw = f[f"{partition}_labels"][()]
        labels: list[str] = []
        for i, lab in enumerate(np.atleast_1d(raw)):
            if not isinstance(lab, bytes | np.bytes_):
                raise DataError(
                    f"{path}: {partition}_labels[{i}] is {type(lab).__name__}, expected a byte "
                    "string like b'man-ae-a-1'"
                )
            try:
                labels.append(bytes(lab).decode("utf-8"))
            except UnicodeDecodeError:
                raise DataError(
                    f"{path}: {partition}_labels[{i}] = {bytes(lab)!r} is not UTF-8 text; "
                    "expected a label like b'man-ae-a-1'") from None
        ga, gt = f[f"{partition}_addresses"], f[f"{partition}_timestamps"]
        single, chars, n_events = [], [], []
        for i, lab in enumerate(labels):
            last = lab.split("-")[-1]
            if len(last) != 1:
                continue  # a digit sequence; not used (single digits only)
            if last not in DIGIT_CHARS:
                raise DataError(
                    f"{path}: {partition}_labels[{i}] = {lab!r} has the unknown digit string "
                    f"{last!r}; expected one of {', '.join(DIGIT_CHARS)}"
                )
            missing_in = [g for g in (ga, gt) if not _has(g, lab)]
            if missing_in:
                grp = missing_in[0].name.lstrip("/")
                raise DataError(f"{path}: utterance {lab!r} is listed but missing in '{grp}'")
            na, nt = ga[lab].shape, gt[lab].shape
            if ga[lab].dtype.kind not in "iu" or gt[lab].dtype.kind not in "iuf":
                raise DataError(
                    f"{path}: utterance {lab!r}: addresses must be integer channel ids and "
                    f"timestamps numbers (seconds), got {ga[lab].dtype} and {gt[lab].dtype}")
            if len(na) != 1 or na != nt:
                raise DataError(
                    f"{path}: utterance {lab!r}: addresses {na} and timestamps {nt} must be 1-D "
                    "arrays of equal length"
                )
            single.append(i)
            chars.append(last)
            n_events.append(int(na[0]))
    return NTidigitsIndex(path, partition, tuple(labels), tuple(single), tuple(chars), tuple(n_events))


def check_raw_timestamps(t_s: np.ndarray, path: str | os.PathLike, label: str) -> None:
    """`DataError` if an utterance's timestamps (s, as stored) hold NaN, infinities or
    negative values (checked before tonic converts them to integer microseconds)."""
    t = np.asarray(t_s, dtype=np.float64)
    bad = ~np.isfinite(t)
    if bad.any():
        raise DataError(f"{path}: utterance {label!r} has {int(bad.sum())} NaN or infinite "
                        "timestamps")
    if t.size and t.min() < 0:
        raise DataError(f"{path}: utterance {label!r} has {int(np.count_nonzero(t < 0))} "
                        "negative timestamps")


def _has(group, name: str) -> bool:
    """``name in group``, False for names HDF5 cannot hold (empty, NUL, '.')."""
    try:
        return name in group
    except (RuntimeError, ValueError, KeyError):
        return False


def validate_audio_events(
    events: np.ndarray, path: str | os.PathLike, label: str, n_channels: int,
    unsorted: list[str] | None = None,
) -> np.ndarray:
    """Check channel ids and timestamps of tonic-read N-TIDIGITS events; return time-sorted.

    `DataError` for channel ids outside ``0..n_channels - 1`` and for negative, NaN or infinite
    timestamps; events out of time order are sorted and noted (see `validate_nmnist_events`)."""
    if len(events):
        x = events["x"]
        if x.min() < 0 or x.max() >= n_channels:
            raise DataError(
                f"{path}: utterance {label!r} has channel ids {int(x.min())}..{int(x.max())}, "
                f"outside 0..{n_channels - 1}"
            )
        t = events["t"]
        if not np.all(np.isfinite(t)):
            raise DataError(f"{path}: utterance {label!r} has {int(np.count_nonzero(~np.isfinite(t)))} "
                            "NaN or infinite timestamps")
        if t.min() < 0:
            raise DataError(f"{path}: utterance {label!r} has {int(np.count_nonzero(t < 0))} "
                            "negative timestamps")
        back = int(np.count_nonzero(t[1:] < t[:-1]))
        if back:
            _unsorted(f"{path}: utterance {label!r}", back, len(t), unsorted)
            events = events[np.argsort(t, kind="stable")]
    return events
