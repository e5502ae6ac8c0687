"""`rram-lsm run [CONFIG]`: the experiments end to end (default: the zero-shot demo on the
built-in stand-in data)."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

from crossbar.resources import config_file
from rram_lsm.io import prepare_output_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an experiment (default: zero-shot demo on built-in data)")
    p.add_argument("config", nargs="?", help="experiment YAML (default: the built-in demo, "
                   "configs/zero_shot_default.yaml)")
    p.add_argument("--out", help="run folder (default runs/<name>-<timestamp>)")
    p.add_argument("--data-root", default="data_cache", help="data root (default data_cache)")
    p.add_argument("--engine", choices=["numba", "torch"], help="LSM engine")
    p.add_argument("--device", help="torch device for the LSM (cpu, cuda)")
    p.add_argument("--seeds", type=int, help="number of seeds")
    p.add_argument("--cache-dir", help="folder of cached LSM encodings (default: the config's "
                   "cache_dir; --set cache_dir=null: no cache)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (dotted key, YAML value); repeatable")
    p.add_argument("--force", action="store_true", help="reuse a non-empty --out folder")
    p.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_run)


def _default_config() -> Path | None:
    return config_file("zero_shot_default.yaml", required=False)


def cmd_run(args: argparse.Namespace) -> int:
    from rram_lsm.experiments.config import load_experiment_config
    from rram_lsm.experiments.runner import run_experiment

    overrides = list(args.set)
    if args.engine:
        overrides.append(f"engine={args.engine}")
    if args.device:
        overrides.append(f"device={args.device}")
    if args.seeds is not None:
        overrides.append(f"seeds={args.seeds}")
    if args.cache_dir:
        overrides.append(f"cache_dir={args.cache_dir}")
    cfg = load_experiment_config(args.config or _default_config(), overrides)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = prepare_output_dir(args.out or Path("runs") / f"{cfg.name}-{stamp}", args.force)
    quiet = args.quiet or args.json
    metrics = run_experiment(cfg, out, args.data_root, quiet=quiet)
    if args.json:
        print(json.dumps({**metrics, "out": str(out)}))
    else:
        print_summary(metrics, out)
    return 0


def print_summary(m: dict, out: Path) -> None:
    w = sys.stdout.write
    w(f"\nrun folder: {out}  (runtime {m['runtime_s']:.1f} s)\n")
    if "zero_shot" in m and m["zero_shot"]:
        ch = m["chance"]
        w(f"zero-shot retrieval, top-1 % (validation-selected; features "
          f"{m['zero_shot_headline_features']}), chance seen {100 * ch['seen']:.1f} / unseen "
          f"{100 * ch['unseen']:.1f}\n")
        w(f"  {'weights':<10}{'seen a2i':>16}{'seen i2a':>16}{'unseen a2i':>16}{'unseen i2a':>16}\n")
        for src, e in m["zero_shot"].items():
            cells = [e["seen"]["a2i_top1"], e["seen"]["i2a_top1"], e["unseen"]["a2i_top1"],
                     e["unseen"]["i2a_top1"]]
            w(f"  {src:<10}" + "".join(f"{100 * c['mean']:>9.1f} ± {100 * c['std']:<4.1f}"
                                       for c in cells) + "\n")
    if "classify" in m:
        w("linear probe accuracy %:\n")
        for mod, res in m["classify"].items():
            parts = [f"{k} {100 * r['accuracy']:.1f}" for k, r in res.items() if k != "chance"]
            w(f"  {mod}: " + ", ".join(parts) + f" (chance {100 * res['chance']:.1f})\n")
    c = m.get("costs", {})
    if c:
        w(f"training-cost ratio vs SRNN-CLIP: {c['training_ratio']:.1f}x")
        if c.get("energy_ratio"):
            w(f"; inference-energy ratio vs digital: {c['energy_ratio']:.1f}x")
        w("\n")
    w(f"report: {out / 'report.md'}\n")
