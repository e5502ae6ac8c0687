"""``rram-lsm encode``: encode a dataset split with the LSM and cache the features.

rram-lsm encode CONFIG [--out FILE] [--data-root DIR] [--dataset NAME] [--split train|test]
                [--frames NPZ] [--engine numba|torch|reference] [--device cpu|cuda]
                [--seed S] [--batch-size B] [--cache-dir DIR] [--raster PNG] [--force] [--json]

CONFIG is an LSM config YAML (``configs/lsm/*.yaml``; a top-level ``lsm:`` key is accepted, and
an optional ``encode: {dataset, split}`` block gives the data). The output ``.npz`` holds
``features``, ``labels``, ``rates``, ``final_mem``, ``window_counts`` and a JSON record with the
resolved config, the energy ledger, firing statistics and the cache key: sha256 of (data, ADC
calibration data, LSM config, macro preset values, measured map, seed). A second call with the
same inputs reuses the file; a corrupt file is rebuilt with a warning.

ADC calibration uses the first ``analog.calibration_samples`` samples of the *train* split of
the same dataset (or of ``--frames``), whichever split is encoded.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from rram_lsm.cli.common import plain_warnings
from rram_lsm.errors import ConfigError, DataError, InputError

DEFAULT_ROOT = "data_cache"
DEFAULT_DATASET = {"image": "digits-dvs", "audio": "spoken-digits"}
SPLITS = ("train", "test")


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
    p.add_argument("--cache-dir", default=".rram_lsm_cache",
                   help="folder of cached encodings (default .rram_lsm_cache)")
    p.add_argument("--raster", help="also save the raster of sample 0 as a PNG")
    p.add_argument("--force", action="store_true", help="re-encode even if a cache file matches; "
                   "overwrite --out written for other inputs")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_encode)


def _read_config(path: str) -> tuple:
    from rram_lsm.lsm.config import lsm_config_from_dict

    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    enc = raw.pop("encode", None) or {}
    if not isinstance(enc, dict) or set(enc) - {"dataset", "split"}:
        raise ConfigError(f"{p}: key 'encode' must be a mapping with 'dataset' and/or 'split'")
    if "lsm" in raw:
        if set(raw) - {"lsm"}:
            raise ConfigError(f"{p}: unknown top-level key(s) {sorted(set(raw) - {'lsm'})}")
        raw = raw["lsm"]
    return lsm_config_from_dict(raw, source=str(p)), enc


def _load_npz_frames(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "frames" not in z.files:
                raise DataError(f"{path}: no array 'frames' in the file")
            frames = np.array(z["frames"])
            labels = np.array(z["labels"]) if "labels" in z.files \
                else np.full(len(frames), -1, np.int64)
    except FileNotFoundError:
        raise DataError(f"{path}: frames file not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read frames ({exc})") from None
    if len(labels) != len(frames):
        raise DataError(f"{path}: {len(labels)} labels for {len(frames)} samples")
    return frames, labels.astype(np.int64)


def _load_dataset(dataset: str, split: str, data_root: str):
    from rram_lsm.data import load_split
    from rram_lsm.data.builtin import BUILTIN_NAMES, ensure_builtin

    try:
        return load_split(dataset, split, data_root)
    except DataError:
        if dataset not in BUILTIN_NAMES:
            raise
    ensure_builtin(data_root, names=(dataset,))  # built-in stand-ins are made on first use
    return load_split(dataset, split, data_root)


def cmd_encode(args: argparse.Namespace) -> int:
    from rram_lsm.lsm import LiquidStateMachine
    from rram_lsm.lsm.cache import array_fingerprint, cache_key, load_features, lsm_identity, save_features

    cfg, enc_block = _read_config(args.config)
    changes = {k: v for k, v in (("engine", args.engine), ("device", args.device),
                                 ("seed", args.seed)) if v is not None}
    if changes:
        cfg = cfg.replace(**changes)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    split = args.split or enc_block.get("split") or "train"
    if split not in SPLITS:
        raise ConfigError(f"{args.config}: encode.split must be one of {SPLITS}, got '{split}'")

    with plain_warnings():
        if args.frames:
            dataset = Path(args.frames).stem
            frames, labels = _load_npz_frames(args.frames)
            cal_frames = frames
        else:
            dataset = args.dataset or enc_block.get("dataset") \
                or DEFAULT_DATASET.get(cfg.modality)
            if not dataset:
                raise ConfigError("no dataset: pass --dataset or --frames, or set "
                                  "encode.dataset or modality (image/audio) in the config")
            data = _load_dataset(dataset, split, args.data_root)
            frames, labels = data.frames, np.asarray(data.labels, np.int64)
            cal_frames = frames if split == "train" else \
                _load_dataset(dataset, "train", args.data_root).frames
        cal_frames = cal_frames[: cfg.analog.calibration_samples]

        identity = lsm_identity(cfg)
        key = cache_key(data=array_fingerprint(frames, labels),
                        calibration=array_fingerprint(cal_frames), **identity)
        out = Path(args.out) if args.out else \
            Path(args.cache_dir) / f"{dataset}-{split}-{key[:16]}.npz"
        cached = None if args.force else load_features(out)
        if cached is not None and cached[1].get("key") != key:
            if args.out:
                raise InputError(f"{out}: exists and holds an encoding of other inputs; "
                                 "choose another --out or pass --force")
            cached = None
        if cached is not None:
            arrays, record = cached
            meta = record["meta"]
            reused = True
        else:
            lsm = LiquidStateMachine(cfg)
            lsm.calibrate(cal_frames)
            enc = lsm.encode(frames, batch_size=args.batch_size,
                             noise_key=SPLITS.index(split), progress=not args.json)
            arrays = {"features": enc.features, "labels": labels, "rates": enc.rates,
                      "final_mem": enc.final_mem, "window_counts": enc.window_counts}
            meta = {"dataset": dataset, "split": split, "n_samples": int(len(frames)),
                    "n_steps": enc.n_steps, "layout": enc.layout, "engine": enc.engine,
                    "encode_seconds": enc.seconds, "firing": enc.firing_stats(),
                    "ledger": enc.ledger, "energy_per_sample_j": enc.energy_per_sample_j,
                    "calibration": lsm.calibration, "synapses": lsm.synapses.info,
                    "config": cfg.model_dump(mode="json")}
            save_features(out, key, arrays, meta)
            reused = False
            if args.raster:
                from rram_lsm.lsm.features import plot_raster

                plot_raster(lsm.raster(frames, 0, noise_key=SPLITS.index(split)), args.raster,
                            frames=frames[0], title=f"{dataset} {split} sample 0")

    summary = {"out": str(out), "key": key, "reused": reused, "dataset": meta["dataset"],
               "split": meta["split"], "n_samples": meta["n_samples"],
               "features_shape": list(arrays["features"].shape), "firing": meta["firing"],
               "energy_per_sample_j": meta["energy_per_sample_j"],
               "encode_seconds": meta["encode_seconds"]}
    if args.json:
        print(json.dumps(summary))
    else:
        f = meta["firing"]
        print(f"{'reused' if reused else 'wrote'} {out}")
        print(f"  {meta['dataset']} {meta['split']}: {meta['n_samples']} samples -> features "
              f"{tuple(arrays['features'].shape)}")
        print(f"  firing rate {f['mean_rate']:.4f} (silent {f['silent_fraction']:.3f}, "
              f"saturated {f['saturated_fraction']:.3f})")
        print(f"  energy {meta['energy_per_sample_j'] * 1e9:.3f} nJ/sample, "
              f"encode {meta['encode_seconds']:.2f} s")
    return 0
