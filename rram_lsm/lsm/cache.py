"""On-disk cache of encoded features (``.npz``, written atomically) and the cached encode.

A cache file holds the arrays of one encoded split (``features``, ``labels``, ``rates``,
``final_mem``, ``window_counts``, ``raster`` and ``raster_input`` of sample 0) and a JSON ``meta``
record with the cache key and a sha256 checksum of every array. The key is the sha256 of (data
fingerprint, calibration-data fingerprint, resolved LSM config, macro preset values, measured-map
fingerprint, seed, noise stream of the split). A file that cannot be read, or whose checksum does
not match, is reported with a `CacheWarning` and rebuilt.

`CachedEncoder` / `encode_cached` are the workflow shared by ``rram-lsm encode`` and
``rram-lsm run``: look the split up in the cache folder (default `DEFAULT_CACHE_DIR`), and only
on a miss build the LSM, calibrate its ADCs and encode.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crossbar.errors import OutputExistsError
from crossbar.validation import check_memory
from rram_lsm.errors import InputError
from rram_lsm.io import atomic_write_bytes
from rram_lsm.lsm.config import SPLITS
from rram_lsm.lsm.defaults import DEFAULT_CACHE_DIR

if TYPE_CHECKING:
    from rram_lsm.lsm.config import LSMConfig
    from rram_lsm.lsm.model import LiquidStateMachine

CACHE_FORMAT = "rram-lsm-features"
CACHE_VERSION = 1

__all__ = ["CACHE_FORMAT", "CACHE_VERSION", "DEFAULT_CACHE_DIR", "CacheWarning", "CachedEncoder",
           "CachedSplit", "array_fingerprint", "cache_key", "encode_cached", "encode_dataset",
           "file_fingerprint",
           "load_features", "lsm_identity", "save_features"]


class CacheWarning(UserWarning):
    """A cache file was unreadable or inconsistent and is being rebuilt."""


def array_fingerprint(*arrays: np.ndarray | None) -> str:
    """sha256 over dtype, shape and bytes of each array (None entries allowed)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def file_fingerprint(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(**parts: Any) -> str:
    """sha256 of the JSON of ``parts`` (keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def lsm_identity(config) -> dict[str, Any]:
    """What, besides the data, determines an encoding: the resolved config, the macro preset's
    values (with the config's overrides), the measured map's bytes, the seed and the version."""
    from rram_lsm import __version__
    from rram_lsm.lsm.synapses import resolve_spec

    ident: dict[str, Any] = {"config": config.model_dump(mode="json"), "seed": config.seed,
                             "version": __version__, "cache_version": CACHE_VERSION}
    ident["preset"] = json.loads(resolve_spec(config).model_dump_json(exclude={"provenance"}))
    if config.weights.source == "measured":
        ident["measured_map"] = file_fingerprint(config.weights.path) \
            if Path(config.weights.path).is_file() else "missing"
    return ident


def _checksum(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {k: array_fingerprint(v) for k, v in sorted(arrays.items())}


def save_features(path: str | os.PathLike, key: str, arrays: dict[str, np.ndarray],
                  meta: dict[str, Any]) -> Path:
    """Write ``arrays`` and ``meta`` (JSON-able) under ``key`` to ``path`` atomically."""
    record = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "key": key,
              "checksums": _checksum(arrays), "meta": meta}
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(record, default=str).encode(), np.uint8),
             **arrays)
    return atomic_write_bytes(path, buf.getvalue())


def load_features(path: str | os.PathLike,
                  key: str | None = None) -> tuple[dict[str, np.ndarray], dict] | None:
    """Read a cache file; None if it is missing, for another key (``key`` given), or corrupt
    (then with a `CacheWarning`)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: np.array(z[k]) for k in z.files}
        record = json.loads(data.pop("__meta__").tobytes().decode())
        if record.get("format") != CACHE_FORMAT or record.get("version") != CACHE_VERSION:
            raise ValueError("not a feature cache of this version")
        if record.get("checksums") != _checksum(data):
            raise ValueError("checksum mismatch")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
            UnicodeDecodeError) as exc:
        warnings.warn(f"{path}: feature cache is corrupt ({exc}); rebuilding it",
                      CacheWarning, stacklevel=2)
        return None
    if key is not None and record.get("key") != key:
        return None
    return data, record


@dataclass
class CachedSplit:
    """One encoded split, read from the cache or freshly encoded (and then written to it).

    ``arrays``: ``features`` [n, F], ``labels`` [n] (-1 when none were given), ``rates`` [n, N],
    ``final_mem`` [n, N], ``window_counts`` [n, K, N] (spikes per time window), ``raster``
    [T, N] uint8 of sample 0 and its input frames ``raster_input`` [T, n_inputs] (both absent
    for an empty split). ``meta``: dataset, split, n_samples,
    n_steps, layout, engine, encode_seconds, firing, ledger, energy_per_sample_j (J),
    calibration, synapses, config.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path | None  # None: caching off
    key: str
    reused: bool


class CachedEncoder:
    """Encodes splits of one `LSMConfig` through the feature cache.

    The LSM is built (and its ADCs calibrated on the first ``calibration_samples`` of
    ``calibration``, normally the train split) only when a split misses the cache, so that
    several splits share one LSM, as one uncached encode would.

    Args:
        config: the resolved LSM config.
        calibration: frames [n, T, n_inputs] whose first ``analog.calibration_samples`` fix
            the ADC ranges.
        cache_dir: cache folder; None: no cache (always encode, write nothing).
        force: re-encode even when a file matches (and overwrite it).
        batch_size: samples per engine call (results do not depend on it).
        progress: show a progress bar while encoding.
    """

    def __init__(self, config: LSMConfig, calibration: np.ndarray, *,
                 cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR, force: bool = False,
                 batch_size: int = 1024, progress: bool = False) -> None:
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        if cache_dir is not None and Path(cache_dir).exists() and not Path(cache_dir).is_dir():
            raise InputError(f"{cache_dir}: the feature cache folder exists and is not a folder")
        self.config = config
        self.calibration = np.asarray(calibration)[: config.analog.calibration_samples]
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.force, self.batch_size, self.progress = force, batch_size, progress
        self._identity: dict[str, Any] | None = None
        self._lsm: LiquidStateMachine | None = None
        self._calibrated = False

    @property
    def lsm(self) -> LiquidStateMachine:
        """The encoder's LSM (built on first use; not calibrated by this property)."""
        if self._lsm is None:
            from rram_lsm.lsm.model import LiquidStateMachine

            check_memory(lsm_bytes_estimate(self.config),
                         f"an LSM of n_neurons={self.config.n_neurons} with "
                         f"n_inputs={self.config.n_inputs} (weights.source "
                         f"{self.config.weights.source})")
            self._lsm = LiquidStateMachine(self.config)
        return self._lsm

    @property
    def built(self) -> bool:
        """Whether the LSM has been built (i.e. some split missed the cache)."""
        return self._lsm is not None

    def key(self, frames: np.ndarray, labels: np.ndarray | None = None,
            split: str = "train") -> str:
        """The cache key of encoding ``frames`` (with ``labels``) as ``split``."""
        if self._identity is None:
            self._identity = lsm_identity(self.config)
        return cache_key(data=array_fingerprint(frames, labels),
                         calibration=array_fingerprint(self.calibration),
                         noise_key=_noise_key(split), **self._identity)

    def encode(self, frames: np.ndarray, labels: np.ndarray | None = None, *,
               split: str = "train", dataset: str = "frames",
               out: str | os.PathLike | None = None) -> CachedSplit:
        """Encode ``frames`` [n, T, n_inputs] as ``split`` (which selects the read-noise stream:
        train 0, test 1), or read the encoding from the cache.

        The file is ``out`` if given, else ``<cache_dir>/<dataset>-<split>-<key[:16]>.npz``.
        An ``out`` that holds the encoding of other inputs raises `InputError` (unless
        ``force``); a corrupt file is rebuilt with a `CacheWarning`.
        """
        labels = np.full(len(frames), -1, np.int64) if labels is None \
            else np.asarray(labels, np.int64)
        key = self.key(frames, labels, split)
        path = Path(out) if out is not None else None
        if path is None and self.cache_dir is not None:
            path = self.cache_dir / f"{dataset}-{split}-{key[:16]}.npz"
        if out is not None and path.exists() and not path.is_file():
            raise OutputExistsError(f"{path}: the output exists and is not a file; choose "
                                    "another output file (--out)")
        if out is not None and path.exists() and not self.force:
            # an explicit output file is the user's: never replace one we cannot read back
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheWarning)
                cached = load_features(path)
            if cached is None:
                raise OutputExistsError(
                    f"{path}: exists and is not a readable feature file of rram-lsm (corrupt, or "
                    "another file); it was left unchanged. Choose another output file (--out) or "
                    "pass --force to overwrite it")
        else:
            cached = None if (self.force or path is None) else load_features(path)
        if cached is not None and cached[1].get("key") != key:
            if out is not None:
                raise InputError(f"{path}: exists and holds an encoding of other inputs; "
                                 "choose another output file or force a re-encode")
            cached = None
        if cached is not None:
            arrays, record = cached
            return CachedSplit(arrays, record["meta"], path, key, reused=True)
        arrays, meta = self._encode(frames, labels, split, dataset)
        if path is not None:
            save_features(path, key, arrays, meta)
        return CachedSplit(arrays, meta, path, key, reused=False)

    def _encode(self, frames: np.ndarray, labels: np.ndarray, split: str,
                dataset: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        lsm = self.lsm
        if not self._calibrated:
            lsm.calibrate(self.calibration)
            self._calibrated = True
        noise_key = _noise_key(split)
        enc = lsm.encode(frames, batch_size=self.batch_size, noise_key=noise_key,
                         progress=self.progress)
        arrays = {"features": enc.features, "labels": labels, "rates": enc.rates,
                  "final_mem": enc.final_mem, "window_counts": enc.window_counts}
        if len(frames):  # sample 0 for figures, so that a cache hit can draw them too
            arrays["raster"] = lsm.raster(frames, 0, noise_key=noise_key)
            arrays["raster_input"] = np.asarray(frames[0], np.uint8)
        meta = {"dataset": dataset, "split": split, "n_samples": int(len(frames)),
                "n_steps": enc.n_steps, "layout": enc.layout, "engine": enc.engine,
                "encode_seconds": enc.seconds, "firing": enc.firing_stats(),
                "ledger": enc.ledger, "energy_per_sample_j": enc.energy_per_sample_j,
                "calibration": lsm.calibration, "synapses": lsm.synapses.info,
                "config": self.config.model_dump(mode="json")}
        return arrays, meta


# bytes per weight of the LSM (float64 weight copies of the engines) and per macro cell of its
# weight macro (state plus the one forming pulse); used to refuse LSMs that cannot fit
_BYTES_PER_WEIGHT = 32
_BYTES_PER_CELL = 224


def lsm_bytes_estimate(config: LSMConfig) -> float:
    """Planned memory (bytes) of building the LSM of ``config``: its input and recurrent weights
    [n_inputs + N, N] and, unless the weights are Gaussian, the macro cells holding them as
    differential pairs (two cells per weight)."""
    weights = float(config.n_inputs + config.n_neurons) * config.n_neurons
    per = _BYTES_PER_WEIGHT + (0 if config.weights.source == "gaussian" else 2 * _BYTES_PER_CELL)
    return weights * per


def _noise_key(split: str) -> int:
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got '{split}'")
    return SPLITS.index(split)


def encode_cached(config: LSMConfig, frames: np.ndarray, labels: np.ndarray | None = None, *,
                  calibration: np.ndarray | None = None, split: str = "train",
                  dataset: str = "frames", cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
                  out: str | os.PathLike | None = None, force: bool = False,
                  batch_size: int = 1024, progress: bool = False) -> CachedSplit:
    """Encode one split through the feature cache (see `CachedEncoder`); ``calibration``
    defaults to ``frames`` (encode the train split, or pass the train frames)."""
    enc = CachedEncoder(config, frames if calibration is None else calibration,
                        cache_dir=cache_dir, force=force, batch_size=batch_size,
                        progress=progress)
    return enc.encode(frames, labels, split=split, dataset=dataset, out=out)


def encode_dataset(config: LSMConfig, dataset: str, split: str = "train",
                   data_root: str | os.PathLike = "data_cache", *,
                   cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
                   out: str | os.PathLike | None = None, force: bool = False,
                   batch_size: int = 1024, progress: bool = False) -> CachedSplit:
    """`encode_cached` of one split of a dataset of ``data_root`` (`rram_lsm.data.load_split`
    with its default binning; a built-in stand-in is built on first use). The ADC is calibrated
    on the *train* split, whichever split is encoded."""
    data = _load_split(dataset, split, data_root)
    cal = data.frames if split == "train" else _load_split(dataset, "train", data_root).frames
    return encode_cached(config, data.frames, np.asarray(data.labels, np.int64), calibration=cal,
                         split=split, dataset=dataset, cache_dir=cache_dir, out=out, force=force,
                         batch_size=batch_size, progress=progress)


def _load_split(dataset: str, split: str, data_root: str | os.PathLike):
    from rram_lsm.data import load_split
    from rram_lsm.data.builtin import BUILTIN_NAMES, ensure_builtin
    from rram_lsm.errors import DataError

    try:
        return load_split(dataset, split, data_root)
    except DataError:
        if dataset not in BUILTIN_NAMES:
            raise
    ensure_builtin(data_root, names=(dataset,))  # built-in stand-ins are made on first use
    return load_split(dataset, split, data_root)
