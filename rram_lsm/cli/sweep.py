"""`rram-lsm sweep SPEC`: run a co-design sweep on Ray; `rram-lsm sweep report DIR`: rebuild
its report from the results table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="sweep experiment configs over axes and dies (on Ray); "
                       "'sweep report DIR' rebuilds a sweep's report",
                       usage="rram-lsm sweep SPEC [options] | rram-lsm sweep report DIR")
    p.add_argument("target", nargs="+", metavar="SPEC", help="sweep spec YAML (e.g. "
                   "configs/sweeps/adc_bits_noise.yaml), or: report DIR")
    p.add_argument("--out", help="sweep folder (default sweeps/<name>); rerunning into it skips "
                   "finished trials")
    p.add_argument("--data-root", default="data_cache", help="data root (default data_cache)")
    p.add_argument("--address", help="attach to this Ray cluster (default: start Ray locally)")
    p.add_argument("--max-concurrent", type=int, help="trials at once (default: all cores)")
    p.add_argument("--serial", action="store_true", help="run the trials one after another in "
                   "this process (no Ray)")
    p.add_argument("--force", action="store_true", help="start over: drop earlier results in --out")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from crossbar.errors import InputError
    from rram_lsm.sweep.report import write_report

    if args.target[0] == "report" and len(args.target) == 2 and not Path("report").is_file():
        path = write_report(args.target[1])
        print(json.dumps({"report": str(path)}) if args.json else f"wrote {path}")
        return 0
    if len(args.target) != 1:
        raise InputError("expected one sweep spec (or: report DIR)")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise InputError("--max-concurrent must be >= 1")
    from rram_lsm.sweep.engine import run_sweep
    from rram_lsm.sweep.plan import plan_trials
    from rram_lsm.sweep.spec import load_sweep_spec

    spec = load_sweep_spec(args.target[0])
    out = Path(args.out or Path("sweeps") / spec.name)
    trials = plan_trials(spec, out)  # every trial validated before any runs
    outcome = run_sweep(spec, out, args.data_root, executor="serial" if args.serial else "ray",
                        address=args.address, max_concurrent=args.max_concurrent,
                        force=args.force, progress=not (args.quiet or args.json), trials=trials)
    report = write_report(out)
    if args.json:
        from crossbar.validation import finite_or_none

        print(json.dumps(finite_or_none({**outcome.to_dict(), "report": str(report)}),
                         allow_nan=False))
    else:
        sys.stdout.write(f"sweep {spec.name}: {outcome.trials} trials, {outcome.skipped} already "
                         f"done, {outcome.ran} ran ({outcome.failed} failed) in "
                         f"{outcome.wall_s:.1f} s ({outcome.trials_per_s:.3g} trials/s, "
                         f"{outcome.executor}); report {report}\n")
    return 0
