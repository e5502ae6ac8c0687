"""Build the built-in stand-ins (digits-dvs, spoken-digits) into a data root, atomically.

Each stand-in is a tonic-style root of its own: ``<data_root>/digits-dvs/NMNIST/...`` and
``<data_root>/spoken-digits/NTIDIGITS18/n-tidigits.hdf5``.  A build writes into a hidden temp
folder next to the target, writes ``MANIFEST.json`` last and then renames the folder into place;
a folder without a manifest is an interrupted build and is never read.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from crossbar.fsio import atomic_write_json, refuse_overwrite
from rram_lsm import __version__
from rram_lsm.data.config import BuiltinConfig, rename_legacy_keys
from rram_lsm.errors import DataError

BUILTIN_NAMES = ("digits-dvs", "spoken-digits")
MANIFEST = "MANIFEST.json"
# Bump when a generator's output changes for the same seed and config.
GENERATOR_VERSION = {"digits-dvs": 1, "spoken-digits": 1}
_FORMAT = {
    "digits-dvs": "nmnist-bin (tonic NMNIST layout)",
    "spoken-digits": "n-tidigits18-hdf5 (tonic NTIDIGITS18 layout)",
}


class DataWarning(UserWarning):
    """Something about the data deserves attention but does not stop loading."""


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of a built stand-in folder, or None if the build is missing/incomplete."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable manifest ({exc}); rebuild with --force") from None


def _stats(values: list[int]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return {"mean": 0.0, "min": 0, "max": 0}
    return {"mean": round(float(a.mean()), 2), "min": int(a.min()), "max": int(a.max())}


def _requested(name: str, cfg: BuiltinConfig) -> dict[str, Any]:
    gen_cfg = cfg.digits_dvs if name == "digits-dvs" else cfg.spoken_digits
    return {
        "dataset": name,
        "generator_version": GENERATOR_VERSION[name],
        "seed": cfg.seed,
        "per_class_train": cfg.per_class_train,
        "per_class_test": cfg.per_class_test,
        "config": gen_cfg.model_dump(mode="json"),
    }


def manifest_matches(manifest: dict[str, Any], name: str, cfg: BuiltinConfig) -> bool:
    """True if ``manifest`` describes the build that ``cfg`` would produce."""
    want = _requested(name, cfg)
    have = dict(manifest)
    if isinstance(have.get("config"), dict):  # builds made before the _us -> _usec rename
        gen_cls = type(cfg.digits_dvs if name == "digits-dvs" else cfg.spoken_digits)
        have["config"] = rename_legacy_keys(gen_cls, have["config"])
    return all(have.get(k) == v for k, v in want.items())


def _build_one(name: str, folder: Path, cfg: BuiltinConfig, n_workers: int, progress: bool) -> dict[str, Any]:
    if name == "digits-dvs":
        from rram_lsm.data.digits_dvs import build_digits_dvs

        facts = build_digits_dvs(
            folder,
            cfg.per_class_train,
            cfg.per_class_test,
            cfg.seed,
            cfg.digits_dvs,
            n_workers=n_workers,
            progress=progress,
        )
        extra = {"sources": {s: sorted(set(v)) for s, v in facts["sources"].items()}}
    else:
        from rram_lsm.data.spoken_digits import build_spoken_digits

        facts = build_spoken_digits(
            folder,
            cfg.per_class_train,
            cfg.per_class_test,
            cfg.seed,
            cfg.spoken_digits,
            n_workers=n_workers,
            progress=progress,
        )
        extra = {k: facts[k] for k in ("voices", "sample_rate_hz", "espeakng_loader_version")}
    n_classes = 10 if name == "digits-dvs" else 11
    return {
        **_requested(name, cfg),
        "format": _FORMAT[name],
        "rram_lsm_version": __version__,
        "classes": n_classes,
        "samples": facts["samples"],
        "events_per_sample": {s: _stats(v) for s, v in facts["events"].items()},
        **extra,
    }


def build_builtin(
    data_root: str | os.PathLike = "data_cache",
    config: BuiltinConfig | None = None,
    names: tuple[str, ...] = BUILTIN_NAMES,
    force: bool = False,
    n_workers: int | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Build the stand-ins ``names`` under ``data_root``; return their manifests.

    Refuses to replace a complete build unless ``force``.  Each manifest gets the build time in
    ``build_seconds`` in the returned dict only (the file stays deterministic).
    """
    from rram_lsm.data.workers import default_workers

    cfg = config or BuiltinConfig()
    unknown = [n for n in names if n not in BUILTIN_NAMES]
    if unknown:
        raise DataError(f"unknown built-in dataset(s) {unknown}; choose from {BUILTIN_NAMES}")
    root = Path(data_root)
    if root.exists() and not root.is_dir():
        raise DataError(f"{root}: exists and is not a folder; choose another data root (--out)")
    root.mkdir(parents=True, exist_ok=True)
    workers = n_workers if n_workers is not None else default_workers()
    # Check every target before spending minutes on the first one.
    for name in names:
        if read_manifest(root / name) is not None:
            refuse_overwrite(root / name, force)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        final = root / name
        if final.exists() and read_manifest(final) is None:
            warnings.warn(
                f"{final}: incomplete earlier build (no {MANIFEST}); replacing it", DataWarning, stacklevel=2
            )
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root))
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a dataset folder is not
        try:
            manifest = _build_one(name, tmp, cfg, workers, progress)
            atomic_write_json(tmp / MANIFEST, manifest)  # last: marks the build complete
            _swap_into_place(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        out[name] = {**manifest, "path": str(final), "build_seconds": round(time.perf_counter() - t0, 2)}
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_into_place(tmp: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def ensure_builtin(
    data_root: str | os.PathLike = "data_cache",
    per_class_train: int = 150,
    per_class_test: int = 50,
    seed: int = 0,
    config: BuiltinConfig | None = None,
    names: tuple[str, ...] = BUILTIN_NAMES,
    rebuild: bool = False,
    n_workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Make sure the stand-ins exist under ``data_root`` (building them on first use).

    ``config`` (if given) supplies the generator settings; the explicit sizes and seed override
    its values.  An existing build made with other settings raises `DataError` unless
    ``rebuild`` is set.  Returns ``data_root``.
    """
    base = config or BuiltinConfig()
    cfg = BuiltinConfig.from_dict(
        {
            **base.model_dump(),
            "per_class_train": per_class_train,
            "per_class_test": per_class_test,
            "seed": seed,
        }
    )
    root = Path(data_root)
    todo = []
    for name in names:
        manifest = read_manifest(root / name)
        if manifest is None:
            todo.append(name)
        elif not manifest_matches(manifest, name, cfg):
            if not rebuild:
                have = {
                    k: manifest.get(k)
                    for k in ("seed", "per_class_train", "per_class_test", "generator_version")
                }
                raise DataError(
                    f"{root / name}: built with other settings {have}; pass rebuild=True, run "
                    f"`rram-lsm data build --out {root} --force` with the wanted sizes, or use "
                    "another data root"
                )
            todo.append(name)
    if todo:
        build_builtin(root, cfg, names=tuple(todo), force=True, n_workers=n_workers, progress=progress)
    return root
