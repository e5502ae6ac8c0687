"""``rram-lsm data``: build the built-in stand-in datasets and describe a data root.

rram-lsm data build [--out DIR] [--per-class-train N] [--per-class-test M] [--seed S]
                    [--only NAME] [--config YAML] [--workers K] [--force] [--quiet] [--json]
rram-lsm data info --data-root DIR [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from crossbar.validation import finite_or_none
from rram_lsm.cli.common import plain_warnings

DEFAULT_ROOT = "data_cache"


def _build(args: argparse.Namespace) -> int:
    from rram_lsm.data.builtin import BUILTIN_NAMES, build_builtin
    from rram_lsm.data.config import BuiltinConfig, load_data_config

    with plain_warnings():  # e.g. deprecated keys in --config
        base = load_data_config(args.config).builtin if args.config else BuiltinConfig()
    overrides = {
        k: v
        for k, v in (
            ("per_class_train", args.per_class_train),
            ("per_class_test", args.per_class_test),
            ("seed", args.seed),
        )
        if v is not None
    }
    cfg = BuiltinConfig.from_dict({**base.model_dump(), **overrides}, source="command-line options")
    names = tuple(args.only) if args.only else BUILTIN_NAMES
    t0 = time.perf_counter()
    with plain_warnings():
        manifests = build_builtin(
            args.out, cfg, names=names, force=args.force, n_workers=args.workers, progress=not args.quiet
        )
    total = round(time.perf_counter() - t0, 2)
    result = {
        "data_root": str(args.out),
        "build_seconds": total,
        "datasets": {
            name: {
                k: m[k]
                for k in (
                    "path",
                    "samples",
                    "classes",
                    "events_per_sample",
                    "seed",
                    "per_class_train",
                    "per_class_test",
                    "build_seconds",
                )
            }
            for name, m in manifests.items()
        },
    }
    if args.json:
        print(json.dumps(finite_or_none(result), sort_keys=True, allow_nan=False))
        return 0
    for name, m in result["datasets"].items():
        ev = m["events_per_sample"]
        print(f"{name}: {m['path']}  ({m['build_seconds']} s)")
        for split in ("train", "test"):
            e = ev[split]
            print(
                f"  {split:5s} {m['samples'][split]:6d} samples, {m['classes']} classes, "
                f"events/sample mean {e['mean']:.0f} (min {e['min']}, max {e['max']})"
            )
    print(f"built in {total} s")
    return 0


def _info(args: argparse.Namespace) -> int:
    from rram_lsm.data.info import data_info

    with plain_warnings():
        info = data_info(args.data_root)
    if args.json:
        print(json.dumps(finite_or_none(info), sort_keys=True, allow_nan=False))
        return 0
    print(f"data root: {args.data_root}")
    for name, d in info.items():
        print(f"{name} ({d['modality']}): {d['path']}")
        for split in ("train", "test"):
            s = d[split]
            if s.get("missing"):
                print(f"  {split:5s} missing")
                continue
            ev = (
                "events/sample unknown"
                if s["events_mean"] is None
                else f"events/sample mean {s['events_mean']:.0f} "
                f"(min {s['events_min']}, max {s['events_max']})"
            )
            print(f"  {split:5s} {s['samples']:6d} samples, {s['classes']:2d} classes, {ev}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def register(subparsers) -> None:
    """Add the ``data`` command group (``build``, ``info``) to the CLI."""
    parser = subparsers.add_parser(
        "data",
        help="build the built-in event datasets; describe data",
        description="Event datasets: built-in stand-ins and real data.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    b = sub.add_parser(
        "build",
        help="build the stand-ins digits-dvs (N-MNIST-like) and spoken-digits (N-TIDIGITS-like)",
        description="Build the built-in stand-in datasets in the genuine N-MNIST .bin and "
        "N-TIDIGITS18 HDF5 formats (no download). Layout: OUT/digits-dvs/NMNIST/... and "
        "OUT/spoken-digits/NTIDIGITS18/n-tidigits.hdf5.",
    )
    b.add_argument("--out", default=DEFAULT_ROOT, help=f"data root (default: {DEFAULT_ROOT})")
    b.add_argument(
        "--per-class-train", type=_positive, default=None, help="training samples per class (default 150)"
    )
    b.add_argument(
        "--per-class-test", type=_positive, default=None, help="test samples per class (default 50)"
    )
    b.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    b.add_argument(
        "--only",
        action="append",
        choices=["digits-dvs", "spoken-digits"],
        help="build only this dataset (repeatable)",
    )
    b.add_argument(
        "--config", default=None, help="data config YAML (its 'builtin' section sets the generators)"
    )
    b.add_argument("--workers", type=_positive, default=None, help="parallel workers (default: all cores)")
    b.add_argument("--force", action="store_true", help="replace an existing build")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    b.set_defaults(func=_build)

    i = sub.add_parser(
        "info",
        help="datasets under a data root: samples, classes, events per sample",
        description="List the datasets found under a data root (nmnist, ntidigits, digits-dvs, "
        "spoken-digits) with per-split samples, classes and events per sample.",
    )
    i.add_argument("--data-root", default=DEFAULT_ROOT, help=f"data root (default: {DEFAULT_ROOT})")
    i.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    i.set_defaults(func=_info)
