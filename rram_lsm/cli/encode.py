"""``rram-lsm encode``: encode a dataset split with the LSM and cache the features.

rram-lsm encode CONFIG [--out FILE] [--data-root DIR] [--dataset NAME] [--split train|test]
                [--frames NPZ] [--engine numba|torch|reference] [--device cpu|cuda]
                [--seed S] [--batch-size B] [--cache-dir DIR] [--raster PNG] [--force] [--json]

CONFIG is an LSM config YAML (``configs/lsm/*.yaml``; a top-level ``lsm:`` key is accepted, and an
optional ``encode: {dataset, split}`` block gives the data). The output ``.npz`` holds ``features``,
``labels``, ``rates``, ``final_mem``, ``window_counts``, ``raster`` and ``raster_input`` (sample 0)
and a JSON record with the resolved config, the energy ledger, firing statistics and the cache key:
sha256 of (data, ADC calibration data, LSM config, macro preset values, measured map, seed, split
noise stream). A second call with the same inputs reuses the file; a corrupt file is rebuilt with a
warning.

ADC calibration uses the first ``analog.calibration_samples`` samples of the *train* split of
the same dataset (or of ``--frames``), whichever split is encoded. The work (data, cache
look-up, encode, file) is `rram_lsm.lsm.cache.encode_dataset` / `encode_cached`, whose cache
`rram-lsm run` shares.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from crossbar.validation import finite_or_none
from rram_lsm.cli.common import plain_warnings
from rram_lsm.errors import ConfigError, DataError, InputError
from rram_lsm.lsm.config import SPLITS
from rram_lsm.lsm.defaults import DEFAULT_CACHE_DIR, DEFAULT_DATASET

DEFAULT_ROOT = "data_cache"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode a dataset split with the LSM (cached features)")
    p.add_argument("config", help="LSM config YAML (e.g. configs/lsm/image.yaml)")
    p.add_argument("--out", help="output .npz (default: <cache-dir>/<dataset>-<split>-<key>.npz)")
    p.add_argument("--data-root", default=DEFAULT_ROOT,
                   help=f"data root of `rram-lsm data` (default {DEFAULT_ROOT})")
    p.add_argument("--dataset", help="nmnist, digits-dvs, ntidigits, spoken-digits "
                   "(default: the config's encode.dataset, else the modality's stand-in)")
    p.add_argument("--split", choices=SPLITS, help="split to encode (default train)")
    p.add_argument("--frames", help="encode binned frames from an .npz with arrays 'frames' "
                   "[n, T, n_inputs] uint8 and 'labels' [n] instead of a dataset")
    p.add_argument("--engine", choices=("numba", "torch", "reference"), help="override engine")
    p.add_argument("--device", help="torch engine device (cpu, cuda)")
    p.add_argument("--seed", type=int, help="override the LSM seed")
    p.add_argument("--batch-size", type=int, default=1024, help="samples per batch (1024)")
    p.add_argument("--cache-dir", default=DEFAULT_CACHE_DIR,
                   help=f"folder of cached encodings (default {DEFAULT_CACHE_DIR})")
    p.add_argument("--raster", help="also save the raster of sample 0 as a PNG")
    p.add_argument("--force", action="store_true", help="re-encode even if a cache file matches; "
                   "overwrite --out written for other inputs")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_encode)


def _load_npz_frames(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Frames [n, T, n_inputs] (0/1, returned as uint8) and labels [n] of a ``--frames`` file."""
    where = f"--frames {path}"
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise DataError(f"{where}: a single .npy array, expected an .npz with arrays "
                                "'frames' and 'labels'")
            if "frames" not in z.files:
                raise DataError(f"{where}: no array 'frames' in the file")
            frames = np.array(z["frames"])
            labels = np.array(z["labels"]) if "labels" in z.files \
                else np.full(len(frames), -1, np.int64)
    except FileNotFoundError:
        raise DataError(f"{where}: frames file not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{where}: cannot read frames ({exc})") from None
    if frames.ndim != 3 or frames.dtype.kind not in "biu":
        nan = int(np.count_nonzero(~np.isfinite(frames))) if frames.dtype.kind == "f" else 0
        raise DataError(f"{where}: array 'frames' must be integers or booleans [n, T, n_inputs] "
                        f"(spikes; nonzero = 1), got {frames.dtype} {frames.shape}"
                        + (f" with {nan} NaN or infinite values" if nan else ""))
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{where}: array 'labels' must be integers [n], got {labels.dtype} "
                        f"{labels.shape}")
    if len(labels) != len(frames):
        raise DataError(f"{where}: {len(labels)} labels for {len(frames)} samples")
    return frames, labels.astype(np.int64)


def _check_frames_fit(path: str, frames: np.ndarray, cfg, config: str) -> None:
    """The frames of ``--frames`` must match the config's n_inputs and n_steps."""
    if frames.shape[2] != cfg.n_inputs:
        raise DataError(f"--frames {path}: {frames.shape[2]} inputs per step, but {config} "
                        f"sets n_inputs = {cfg.n_inputs}")
    if cfg.n_steps is not None and frames.shape[1] != cfg.n_steps:
        raise DataError(f"--frames {path}: T = {frames.shape[1]} steps, but {config} sets "
                        f"n_steps = {cfg.n_steps}")


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths before any work (nothing half-written afterwards)."""
    if args.cache_dir and Path(args.cache_dir).exists() and not Path(args.cache_dir).is_dir():
        raise InputError(f"--cache-dir {args.cache_dir}: exists and is not a folder")
    if args.raster:
        raster = Path(args.raster)
        if raster.exists() and not raster.is_file():
            raise InputError(f"--raster {raster}: exists and is not a file")
        parent = next((p for p in raster.parents if p.exists()), Path("."))
        if not parent.is_dir():
            raise InputError(f"--raster {raster}: {parent} is not a folder")


def cmd_encode(args: argparse.Namespace) -> int:
    from rram_lsm.lsm.cache import encode_cached, encode_dataset
    from rram_lsm.lsm.config import read_lsm_file

    file = read_lsm_file(args.config)
    cfg = file.config
    changes = {k: v for k, v in (("engine", args.engine), ("device", args.device),
                                 ("seed", args.seed)) if v is not None}
    if changes:
        cfg = cfg.replace(**changes)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.frames and args.dataset:
        raise InputError("give either --frames or --dataset, not both")
    _check_outputs(args)
    split = args.split or file.encode.split or "train"

    opts = {"cache_dir": args.cache_dir, "out": args.out, "force": args.force,
            "batch_size": args.batch_size, "progress": not args.json}
    with plain_warnings():
        if args.frames:
            dataset = Path(args.frames).stem
            frames, labels = _load_npz_frames(args.frames)
            _check_frames_fit(args.frames, frames, cfg, args.config)
            res = encode_cached(cfg, frames, labels, split=split, dataset=dataset, **opts)
        else:
            dataset = args.dataset or file.encode.dataset or DEFAULT_DATASET.get(cfg.modality)
            if not dataset:
                raise ConfigError("no dataset: pass --dataset or --frames, or set "
                                  "encode.dataset or modality (image/audio) in the config")
            res = encode_dataset(cfg, dataset, split, args.data_root, **opts)
        if args.raster and "raster" in res.arrays:
            from rram_lsm.lsm.features import plot_raster

            Path(args.raster).parent.mkdir(parents=True, exist_ok=True)
            plot_raster(res.arrays["raster"], args.raster, frames=res.arrays["raster_input"],
                        title=f"{dataset} {split} sample 0")

    meta, arrays = res.meta, res.arrays
    summary = {"out": str(res.path), "key": res.key, "reused": res.reused,
               "dataset": meta["dataset"], "split": meta["split"],
               "n_samples": meta["n_samples"], "features_shape": list(arrays["features"].shape),
               "firing": meta["firing"], "energy_per_sample_j": meta["energy_per_sample_j"],
               "encode_seconds": meta["encode_seconds"]}
    if args.json:
        print(json.dumps(finite_or_none(summary), allow_nan=False))
    else:
        f = meta["firing"]
        print(f"{'reused' if res.reused else 'wrote'} {res.path}")
        print(f"  {meta['dataset']} {meta['split']}: {meta['n_samples']} samples -> features "
              f"{tuple(arrays['features'].shape)}")
        print(f"  firing rate {f['mean_rate']:.4f} (silent {f['silent_fraction']:.3f}, "
              f"saturated {f['saturated_fraction']:.3f})")
        print(f"  energy {meta['energy_per_sample_j'] * 1e9:.3f} nJ/sample, "
              f"encode {meta['encode_seconds']:.2f} s")
    return 0
