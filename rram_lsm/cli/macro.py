"""`rram-lsm macro ...`: form a fresh simulated macro and inspect it."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from crossbar import Macro, load_preset, load_spec, macro_stats
from crossbar.defaults import DEFAULT_PRESET
from crossbar.errors import InputError
from crossbar.fsio import atomic_write_json, refuse_overwrite
from crossbar.stats import plot_conductances
from crossbar.validation import check_memory, finite_or_none


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("macro", help="simulate an RRAM macro")
    msub = p.add_subparsers(dest="macro_command", metavar="SUBCOMMAND")
    msub.required = True
    s = msub.add_parser("stats", help="form a fresh macro and print its statistics")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--preset", default=DEFAULT_PRESET, help="named preset (configs/macro)")
    g.add_argument("--spec", help="path to a preset YAML file")
    s.add_argument("--seed", type=int, default=0, help="die / noise seed (default 0)")
    s.add_argument("--arrays", type=int, default=1, help="number of arrays (default 1)")
    s.add_argument("--form-voltage", type=float, default=None,
                   help="single forming pulse voltage in V (default: the preset's v_default)")
    s.add_argument("--drift-s", type=float, default=0.0,
                   help="let this many seconds pass after forming (drift)")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout "
                   "(values that are undefined, e.g. the mean of no formed cell, are null)")
    s.add_argument("--out", help="folder for stats.json and conductance figure")
    s.add_argument("--force", action="store_true", help="overwrite files in --out")
    s.set_defaults(func=cmd_stats)


def _check_options(args: argparse.Namespace, spec) -> None:
    """Refuse bad option values with a message naming the option (before any work)."""
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError(f"--out {args.out}: exists and is not a folder")
    if args.arrays < 1:
        raise InputError(f"--arrays must be >= 1, got {args.arrays}")
    if not (math.isfinite(args.drift_s) and args.drift_s >= 0):
        raise InputError(f"--drift-s must be a finite number of seconds >= 0, got {args.drift_s}")
    v_max = spec.ratings.v_form_max
    if args.form_voltage is not None and not (0 <= args.form_voltage <= v_max):
        raise InputError(f"--form-voltage {args.form_voltage} V outside 0..{v_max} V (the "
                         f"absolute-maximum forming rating of preset '{spec.name}')")
    check_memory(Macro.estimate_bytes(spec, args.arrays, pulses_per_cell=1.0),
                 f"--arrays {args.arrays} ({args.arrays} x {spec.geometry.rows} x "
                 f"{spec.geometry.cols} cells of preset '{spec.name}', formed with one pulse each)")


def cmd_stats(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec) if args.spec else load_preset(args.preset)
    _check_options(args, spec)
    v = spec.forming.v_default if args.form_voltage is None else args.form_voltage
    macro = Macro(spec, n_arrays=args.arrays, seed=args.seed)
    macro.form(v)
    if args.drift_s:
        macro.advance(args.drift_s)
    stats = macro_stats(macro, form_voltage=v)
    if args.out:
        out = Path(args.out)
        fig = refuse_overwrite(out / "conductance.png", args.force)
        js = refuse_overwrite(out / "stats.json", args.force)
        out.mkdir(parents=True, exist_ok=True)
        plot_conductances(macro, fig)
        atomic_write_json(js, finite_or_none(stats))
        stats["files"] = [str(js), str(fig)]
    if args.json:
        print(json.dumps(finite_or_none(stats), allow_nan=False))
    else:
        _print_human(stats)
    return 0


def _print_human(s: dict) -> None:
    print(f"macro {s['preset']}: {s['n_arrays']} x {s['rows']} x {s['cols']} cells")
    print(f"  forming pulse         {s['form_voltage']:.3f} V")
    print(f"  formed fraction       {s['formed_fraction']:.4f} "
          f"(expected {s['formed_fraction_expected']:.4f})")
    print(f"  G formed              {s['g_formed_mean_us']:.2f} +- {s['g_formed_std_us']:.2f} uS")
    print(f"  G pristine (mean)     {s['g_pristine_mean_us']:.4f} uS")
    print(f"  stuck low / high      {s['stuck_low_fraction']:.4f} / {s['stuck_high_fraction']:.4f}")
    print(f"  weight G+ - G-        {s['weight_mean']:.3f} +- {s['weight_std']:.3f} uS")
    print(f"  energy per MVM        {s['energy_per_mvm_j'] * 1e12:.2f} pJ "
          "(binary, half the rows active, one ADC conversion per pair)")
    print(f"  preset values         {s['sourced']} sourced, {s['assumptions']} assumptions")
    for f in s.get("files", []):
        print(f"  wrote {f}")
