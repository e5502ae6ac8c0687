"""On-disk cache of encoded features (``.npz``, written atomically).

A cache file holds the arrays of an encode (features, labels, rates, ...) and a JSON ``meta``
record with the cache key and a sha256 checksum of every array. The key is the sha256 of
(data fingerprint, calibration-data fingerprint, resolved LSM config, macro preset values,
measured-map fingerprint, seed). A file that cannot be read, or whose key or checksum does not
match, is reported with a warning and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rram_lsm.io import atomic_write_bytes

CACHE_FORMAT = "rram-lsm-features"
CACHE_VERSION = 1
DEFAULT_CACHE_DIR = ".rram_lsm_cache"


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
