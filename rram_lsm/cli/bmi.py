"""`rram-lsm bmi [CONFIG]`: the neural-activity <-> handwritten-letters zero-shot experiment
(default: the built-in stand-ins, configs/zero_shot_bmi_builtin.yaml)."""

from __future__ import annotations

import argparse
import json
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bmi", help="zero-shot neural activity <-> letters (default: stand-ins)")
    p.add_argument("config", nargs="?", help="experiment YAML (default: the built-in stand-in "
                   "config, zero_shot_bmi_builtin)")
    p.add_argument("--out", help="run folder (default runs/<name>-<timestamp>)")
    p.add_argument("--data-root", default="data_cache", help="data root (default data_cache)")
    p.add_argument("--force", action="store_true", help="reuse a non-empty --out folder")
    p.add_argument("--json", action="store_true", help="print metrics as one JSON object")
    p.set_defaults(func=cmd_bmi)


def cmd_bmi(args: argparse.Namespace) -> int:
    from crossbar.resources import config_file
    from rram_lsm.experiments.bmi import load_bmi_config, run_bmi_experiment
    from rram_lsm.experiments.bmi_report import table

    cfg = load_bmi_config(args.config or config_file("zero_shot_bmi_builtin.yaml"))
    out = args.out or f"runs/{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    res = run_bmi_experiment(cfg, out, args.data_root, force=args.force, quiet=args.json)
    if args.json:
        print(json.dumps({**res.to_dict(), "out": str(out)}))
    else:
        sys.stdout.write(table(res) + "\n\n" + "\n".join(f"{k}: {v}" for k, v in res.verdict.items())
                         + f"\n\nreport: {out}/report.md\n")
    return 0
