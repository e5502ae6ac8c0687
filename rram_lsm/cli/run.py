"""`rram-lsm run [CONFIG]`: the experiments end to end (default: the zero-shot demo on the
built-in stand-in data)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an experiment (default: zero-shot demo on built-in data)")
    p.add_argument("config", nargs="?", help="experiment YAML (default: the built-in demo, "
                   "configs/zero_shot_default.yaml)")
    p.add_argument("--out", help="run folder (default runs/<name>-<timestamp>)")
    p.add_argument("--data-root", default="data_cache", help="data root (default data_cache)")
    p.add_argument("--engine", choices=["numba", "torch"], help="LSM engine")
    p.add_argument("--device", help="torch device (cpu, cuda) of the LSM torch engine, the head "
                   "trainings, probes and retrieval (default cpu)")
    p.add_argument("--seeds", type=int, help="number of seeds")
    p.add_argument("--cache-dir", help="folder of cached LSM encodings (default: the config's "
                   "cache_dir; --set cache_dir=null: no cache)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (dotted key, YAML value); repeatable")
    p.add_argument("--force", action="store_true", help="reuse a non-empty --out folder")
    p.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress output (no progress bars)")
    p.set_defaults(func=cmd_run)


def _overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` items plus the shortcut flags, in the form ``key=value``."""
    out = list(args.set)
    if args.engine:
        out.append(f"engine={args.engine}")
    if args.device:
        out.append(f"device={args.device}")
    if args.seeds is not None:
        out.append(f"seeds={args.seeds}")
    if args.cache_dir:
        out.append(f"cache_dir={args.cache_dir}")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from rram_lsm.experiments import run
    from rram_lsm.experiments.report import summary_text

    run_dir, results = run(args.config or None, overrides=_overrides(args), out=args.out,
                           data_root=args.data_root, force=args.force,
                           quiet=args.quiet or args.json)
    if args.json:
        from crossbar.validation import finite_or_none

        # JSON has no NaN: an undefined metric (e.g. no test sample of a class) is null
        print(json.dumps(finite_or_none({**results.to_dict(), "out": str(run_dir)}), allow_nan=False))
    else:
        sys.stdout.write(summary_text(results, run_dir))
    sys.stdout.flush()
    from rram_lsm.workers import stop_worker_processes

    stop_worker_processes()  # everything is written; idle workers would only delay the exit
    return 0
