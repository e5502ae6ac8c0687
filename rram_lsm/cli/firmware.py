"""`rram-lsm firmware ...`: generate, inspect, convert and replay programming vectors (.rvec).

Subcommands: form, write-verify, prune, inspect, replay, export-csv, import-csv,
import-readback. Every program refuses options outside the preset's absolute-maximum ratings
(exit code 2). See docs/firmware-vector-format.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from crossbar import Macro, load_preset
from crossbar.defaults import DEFAULT_PRESET
from crossbar.errors import InputError
from crossbar.fsio import atomic_write_text, refuse_overwrite
from firmware import errors as FE
from firmware.csvio import read_csv, write_csv
from firmware.identity import UNVERIFIED_NOTE
from firmware.programs import (
    IsppSettings,
    forming_sweep,
    parse_region,
    prune_mask,
    prune_pairs,
    write_verify,
    write_verify_weights,
)
from firmware.readback import macro_from_readback
from firmware.replay import replay, write_cell_log
from firmware.rvec import file_digest, read_rvec, write_rvec
from firmware.summary import describe

MAX_SIMULATED_CELLS = 1 << 26  # 256 arrays of 512 x 512: a few GB of cell state


def _common_out(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", required=True, help=f"output {what}")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _preset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"macro preset name or YAML file (default {DEFAULT_PRESET})")


def _unverified_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unverified-limits", action="store_true",
                   help="accept a vector file that names an unknown preset: its header limits "
                   "are then NOT verified against the preset's ratings (every output says so)")


def _program_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arrays", type=int, default=None,
                   help="number of arrays of the target macro (default: what the program uses)")
    p.add_argument("--chip-id", default="",
                   help="bind the vectors to this chip id (<= 16 chars A-Z a-z 0-9 . _ : -)")
    p.add_argument("--v-wl", type=float, default=None,
                   help="word-line (gate) voltage in V (default min(1.8, ratings.v_wl_max))")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("firmware", help="programming vectors for RRAM macros (.rvec)")
    fsub = p.add_subparsers(dest="firmware_command", metavar="SUBCOMMAND")
    fsub.required = True

    s = fsub.add_parser(
        "form", help="forming sweep to a target sparsity",
        description="Incremental forming sweep (v_start, v_start + v_step, ...) with a verify "
        "read after each step; each cell stops once it reads formed. Sparsity = fraction of the "
        "region's cells left UNFORMED (formed fraction = 1 - sparsity); the final voltage is "
        "chosen from the preset's breakdown-voltage distribution (stuck cells included).")
    _preset_arg(s)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--target-sparsity", type=float,
                   help="fraction of cells to leave unformed, in [0, 1]")
    g.add_argument("--v-max", type=float, help="final sweep voltage in V instead of a target")
    s.add_argument("--region", help="rows and columns R0:R1,C0:C1 (half-open; default all)")
    s.add_argument("--array", type=int, default=0, help="array of the region (default 0)")
    s.add_argument("--v-start", type=float, default=None, help="first step in V (preset)")
    s.add_argument("--v-step", type=float, default=None, help="step in V (preset)")
    s.add_argument("--t-pulse-ns", type=float, default=None, help="pulse width in ns (preset)")
    s.add_argument("--compliance-ua", type=float, default=None,
                   help="compliance current in uA (preset)")
    s.add_argument("--snap-to-grid", action="store_true",
                   help="round the final voltage up to the step grid (default: end with a "
                   "partial step at the exact voltage, 1 mV resolution)")
    _program_args(s)
    _common_out(s, "vector file (.rvec)")
    s.set_defaults(func=cmd_form)

    s = fsub.add_parser("write-verify", help="write-verify to target conductances or weights",
                        description="Incremental-step SET/RESET pulses with verify reads until "
                        "each cell reads within +- tolerance of its target; cells that do not "
                        "are reported as failed on replay.")
    _preset_arg(s)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--targets", help=".npy map [rows, cols] of target conductances (uS; NaN = "
                   "leave the cell alone; not all NaN, no infinities)")
    g.add_argument("--weights", help=".npy signed matrix [n_in, n_out] (uS) for differential "
                   "pairs (columns 2k = G+, 2k+1 = G-)")
    s.add_argument("--tolerance-us", type=float, required=True, help="half-width of the window")
    s.add_argument("--array", type=int, default=0, help="(first) array (default 0)")
    s.add_argument("--origin", default="0,0", help="top-left cell R,C (default 0,0)")
    s.add_argument("--g-ref-us", type=float, default=None,
                   help="conductance of the 'off' cell of a pair (default switching.g_min_us)")
    s.add_argument("--max-iter", type=int, default=IsppSettings.max_iterations,
                   help=f"iteration cap (default {IsppSettings.max_iterations})")
    for kind in ("set", "reset"):
        s.add_argument(f"--v-{kind}-start", type=float, default=None,
                       help=f"first {kind.upper()} amplitude in V (threshold + 0.3)")
        s.add_argument(f"--v-{kind}-step", type=float, default=0.1,
                       help=f"{kind.upper()} amplitude step per iteration in V (0.1)")
        s.add_argument(f"--v-{kind}-max", type=float, default=None,
                       help=f"{kind.upper()} amplitude cap in V (ratings.v_{kind}_max)")
    s.add_argument("--t-pulse-ns", type=float, default=None, help="pulse width (t_ref_ns)")
    s.add_argument("--compliance-ua", type=float, default=None, help="SET compliance (preset)")
    s.add_argument("--step-fraction", type=float, default=IsppSettings.step_fraction,
                   help="model-based ceiling: one pulse near the target moves G by at most this "
                   "x tolerance (0 = off)")
    s.add_argument("--guard-sigma", type=float, default=0.0,
                   help="narrow the verify window by this many read-noise sigmas")
    _program_args(s)
    _common_out(s, "vector file (.rvec)")
    s.set_defaults(func=cmd_write_verify)

    s = fsub.add_parser("prune", help="reset chosen cells or pairs to the high-resistance state")
    _preset_arg(s)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--mask", help=".npy boolean map [rows, cols] of cells to reset")
    g.add_argument("--pairs", help=".npy boolean matrix [n_in, n_out] of weights whose both "
                   "cells to reset (differential-pair layout)")
    s.add_argument("--array", type=int, default=0, help="(first) array (default 0)")
    s.add_argument("--origin", default="0,0", help="top-left cell R,C (default 0,0)")
    s.add_argument("--g-off-us", type=float, default=None,
                   help="a cell counts as reset below this (default 2 x switching.g_min_us)")
    s.add_argument("--max-iter", type=int, default=20, help="iteration cap (default 20)")
    s.add_argument("--v-start", type=float, default=None, help="first RESET amplitude in V")
    s.add_argument("--v-step", type=float, default=0.1, help="amplitude step in V (0.1)")
    s.add_argument("--v-max", type=float, default=None, help="amplitude cap (v_reset_max)")
    s.add_argument("--t-pulse-ns", type=float, default=None, help="pulse width (t_ref_ns)")
    _program_args(s)
    _common_out(s, "vector file (.rvec)")
    s.set_defaults(func=cmd_prune)

    s = fsub.add_parser("inspect", help="header, op counts, voltage ranges, checksum status")
    s.add_argument("file", help=".rvec file")
    s.add_argument("--preset", default=None,
                   help="also check the records against this preset's ratings and identity")
    _unverified_arg(s)
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.set_defaults(func=cmd_inspect)

    s = fsub.add_parser("replay", help="replay a vector file on a simulated macro")
    s.add_argument("file", help=".rvec (or .csv) vector file")
    s.add_argument("--preset", default=None,
                   help=f"macro preset (default {DEFAULT_PRESET}; with --state: the state's)")
    s.add_argument("--state", help="start from this macro state (.npz) instead of a fresh die")
    s.add_argument("--seed", type=int, default=0, help="die / noise seed (default 0)")
    s.add_argument("--chip-id", default=None, help="id of the target chip")
    s.add_argument("--any-preset", action="store_true",
                   help="replay vectors generated for another preset (ratings still checked)")
    _unverified_arg(s)
    s.add_argument("--out", help="save the final macro state (.npz)")
    s.add_argument("--log", help="write the per-cell log (.csv)")
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.set_defaults(func=cmd_replay)

    s = fsub.add_parser("export-csv", help="write the operations of an .rvec file as CSV")
    s.add_argument("file", help=".rvec file")
    s.add_argument("--preset", default=None,
                   help="the preset the file names, as a YAML file, when it is not shipped")
    _unverified_arg(s)
    _common_out(s, "CSV file")
    s.set_defaults(func=cmd_export_csv)

    s = fsub.add_parser("import-csv", help="turn a vector CSV back into an .rvec file",
                        description="The operations are checked against the CSV's own limits "
                        "and against the preset's ratings, geometry and identity.")
    s.add_argument("file", help="CSV file (as written by export-csv)")
    _preset_arg(s)
    s.add_argument("--any-preset", action="store_true",
                   help="accept vectors generated for another preset (its ratings still apply; "
                   "the output then carries the identity of --preset)")
    _unverified_arg(s)
    _common_out(s, "vector file (.rvec)")
    s.set_defaults(func=cmd_import_csv)

    s = fsub.add_parser("import-readback",
                        help="load a measured conductance map (uS) as a macro state")
    s.add_argument("file", help=".csv (rows x cols) or .npy ([rows, cols] or [arrays, rows, "
                   "cols]) in uS")
    _preset_arg(s)
    s.add_argument("--seed", type=int, default=0, help="seed of the hidden cell properties")
    _common_out(s, "macro state (.npz)")
    s.set_defaults(func=cmd_import_readback)


# --- helpers -----------------------------------------------------------------------------------


def _load_npy(path: str, what: str, option: str, *, boolean: bool = False) -> np.ndarray:
    """A numeric (or, with ``boolean``, boolean / 0-1 integer) .npy array; anything else -- a
    missing file, pickles, strings, complex numbers, infinities -- is an `InputError` that names
    the file and the option."""
    try:
        a = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(f"{option} {path}: {what} file not found") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{option} {path}: not a valid .npy {what} file ({exc})") from None
    if not isinstance(a, np.ndarray):
        raise InputError(f"{option} {path}: not a .npy array file (an .npz archive?)")
    if a.dtype == bool:
        if not boolean:
            raise InputError(f"{option} {path}: {what} must be numbers, got a boolean array")
        return a
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{option} {path}: {what} must be real numbers, got dtype {a.dtype}")
    if boolean:
        if not np.all((a == 0) | (a == 1)):
            raise InputError(f"{option} {path}: {what} must be boolean (0 / 1)")
        return a.astype(bool)
    if np.isinf(a).any():
        i = tuple(int(x[0]) for x in np.nonzero(np.isinf(a)))
        raise InputError(f"{option} {path}: {what} value at index {list(i)} is infinite")
    return a


def _json_safe(x):
    """``x`` with every non-finite float made strict-JSON: NaN -> null, +-inf -> "inf"/"-inf"
    (the documented spelling of an open verify window)."""
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if np.isfinite(v) else (None if np.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(x, np.integer):
        return int(x)
    return x


def _limits_fields(prog) -> dict:
    """What every reader's output says about the header limits."""
    if prog.limits_verified:
        return {"limits_verified": True}
    return {"limits_verified": False,
            "warning": UNVERIFIED_NOTE.format(name=prog.header.preset_name)}


def _limits_lines(prog) -> list[str]:
    return [] if prog.limits_verified else [
        "WARNING: " + UNVERIFIED_NOTE.format(name=prog.header.preset_name)]


def _origin(text: str) -> tuple[int, int]:
    try:
        r, c = (int(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"--origin {text!r} must look like R,C (e.g. 0,0)") from None
    if r < 0 or c < 0:
        raise InputError(f"--origin {text!r} must be non-negative")
    return r, c


def _emit(args: argparse.Namespace, result: dict, human: list[str]) -> None:
    if args.json:
        print(json.dumps(_json_safe(result), allow_nan=False))
    else:
        print("\n".join(human))


def _written(args: argparse.Namespace, prog, spec) -> int:
    path = write_rvec(prog, args.out, force=args.force, spec=spec)
    result = {"file": str(path), "ops": len(prog), "sha256": file_digest(path),
              "op_counts": prog.op_counts(), "chip_id": prog.header.chip_id, **prog.info}
    human = [f"wrote {path}: {len(prog)} operations ({prog.info.get('program')})"]
    for k in ("cells", "ops_per_cell", "v_max", "steps", "predicted_formed_fraction",
              "predicted_sparsity", "tolerance_us", "g_off_us"):
        if k in prog.info and prog.info[k] is not None:
            human.append(f"  {k:26s} {prog.info[k]}")
    _emit(args, result, human)
    return 0


# --- commands ----------------------------------------------------------------------------------


def cmd_form(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset)
    refuse_overwrite(args.out, args.force)
    try:
        region = parse_region(args.region, spec, args.array) if args.region else None
    except FE.FirmwareError as exc:
        raise type(exc)(f"--region: {exc}") from None
    if region is None and args.array:
        g = spec.geometry
        region = parse_region(f"0:{g.rows},0:{g.cols}", spec, args.array)
    n_arrays = args.arrays if args.arrays is not None else args.array + 1
    prog = forming_sweep(spec, target_sparsity=args.target_sparsity, v_max=args.v_max,
                         region=region, n_arrays=n_arrays, v_start=args.v_start,
                         v_step=args.v_step, t_pulse_ns=args.t_pulse_ns,
                         compliance_ua=args.compliance_ua, v_wl=args.v_wl,
                         snap_to_grid=args.snap_to_grid, chip_id=args.chip_id)
    return _written(args, prog, spec)


def cmd_write_verify(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset)
    refuse_overwrite(args.out, args.force)
    settings = IsppSettings(
        max_iterations=args.max_iter, v_set_start=args.v_set_start, v_set_step=args.v_set_step,
        v_set_max=args.v_set_max, v_reset_start=args.v_reset_start,
        v_reset_step=args.v_reset_step, v_reset_max=args.v_reset_max,
        t_pulse_ns=args.t_pulse_ns, compliance_ua=args.compliance_ua, v_wl=args.v_wl,
        step_fraction=args.step_fraction, guard_sigma=args.guard_sigma)
    r0, c0 = _origin(args.origin)
    if args.targets:
        t = _load_npy(args.targets, "targets", "--targets")
        if t.size == 0 or np.isnan(t).all():
            raise InputError(f"--targets {args.targets}: every target is NaN (or there is none); "
                             "NaN means 'leave this cell alone', so nothing would be written")
        prog = write_verify(spec, t, args.tolerance_us, array=args.array, origin=(r0, c0),
                            n_arrays=args.arrays, settings=settings, chip_id=args.chip_id)
    else:
        w = _load_npy(args.weights, "weights", "--weights")
        if np.isnan(w).any():
            i = [int(x[0]) for x in np.nonzero(np.isnan(w))]
            raise InputError(f"--weights {args.weights}: weight at index {i} is NaN "
                             f"({int(np.isnan(w).sum())} NaN weight(s)); every weight is written")
        prog = write_verify_weights(spec, w, args.tolerance_us, first_array=args.array,
                                    row_offset=r0, col_offset=c0, g_ref_us=args.g_ref_us,
                                    n_arrays=args.arrays, settings=settings,
                                    chip_id=args.chip_id)
    return _written(args, prog, spec)


def cmd_prune(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset)
    refuse_overwrite(args.out, args.force)
    r0, c0 = _origin(args.origin)
    kw = dict(g_off_us=args.g_off_us, max_iterations=args.max_iter, v_start=args.v_start,
              v_step=args.v_step, v_max=args.v_max, t_pulse_ns=args.t_pulse_ns, v_wl=args.v_wl,
              n_arrays=args.arrays, chip_id=args.chip_id)
    if args.mask:
        prog = prune_mask(spec, _load_npy(args.mask, "mask", "--mask", boolean=True), array=args.array,
                          origin=(r0, c0), **kw)
    else:
        pairs = _load_npy(args.pairs, "pairs", "--pairs", boolean=True)
        prog = prune_pairs(spec, pairs, first_array=args.array,
                           row_offset=r0, col_offset=c0, **kw)
    return _written(args, prog, spec)


def cmd_inspect(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset) if args.preset else None
    status, error = "ok", None
    kw = dict(unverified_limits=args.unverified_limits)
    try:
        prog = read_rvec(args.file, spec, **kw)
    except FE.ChecksumError as exc:
        status, error = "mismatch", exc
        prog = read_rvec(args.file, spec, check_checksum=False, **kw)
    info = describe(prog)
    checked = ["header"] + ([f"preset {spec.name}"] if spec else [])
    info = {"file": str(args.file), "format_version": 1, "checksum": status,
            "sha256": file_digest(args.file), **info, **_limits_fields(prog),
            "ratings_checked_against": checked}
    if args.json:
        print(json.dumps(_json_safe(info), allow_nan=False))
    else:
        _print_inspect(info)
        for line in _limits_lines(prog):
            print(line)
    if error is not None:
        raise error
    return 0


def _print_inspect(d: dict) -> None:
    print(f"{d['file']}: .rvec version {d['format_version']}, checksum {d['checksum']} "
          f"(sha256 {d['sha256'][:16]}...)")
    print(f"  preset      {d['preset_name']} (digest {d['preset_digest'][:16]}...)")
    print(f"  geometry    {d['n_arrays']} x {d['rows']} x {d['cols']}")
    print(f"  chip id     {d['chip_id'] or '(any chip)'}")
    print(f"  program     {d['program'] or '(unlabelled)'}")
    print(f"  operations  {d['ops']} on {d['cells_addressed']} cells; "
          f"at most {d['max_pulse_time_s']:.4g} s of pulses")
    for name, x in d["ops_detail"].items():
        parts = [f"{x['count']:>10d}"]
        for k, unit in (("v_cell", "V"), ("v_wl", "V WL"), ("t_ns", "ns"), ("icc_ua", "uA"),
                        ("lo_us", "uS lo"), ("hi_us", "uS hi")):
            if k in x:
                lo, hi = x[k]
                parts.append(f"{lo}..{hi} {unit}")
        if "conditional" in x:
            parts.append(f"{x['conditional']} conditional")
        if "check" in x:
            parts.append(f"{x['check']} CHECK")
        print(f"  {name:7s}" + ", ".join(parts))
    lim = ", ".join(f"{k}={v:g}" for k, v in d["limits"].items())
    print(f"  ratings     {lim}")


def _read_any(path: str, spec, **kw):
    """Read an .rvec or (by suffix) CSV vector file; keywords as `read_rvec`."""
    if Path(path).suffix.lower() == ".csv":
        return read_csv(path, spec, **kw)
    return read_rvec(path, spec, **kw)


def cmd_replay(args: argparse.Namespace) -> int:
    for out in (args.out, args.log):
        if out:
            refuse_overwrite(out, args.force)
    if args.state:
        spec = load_preset(args.preset) if args.preset else None
        macro = Macro.load(args.state, spec)
    else:
        macro = None
        spec = load_preset(args.preset or DEFAULT_PRESET)
    # The state's own spec is the target, but only a fallback identity: a file naming a known
    # preset is checked against that preset, never against ratings stored in the state file.
    prog = _read_any(args.file, spec, chip_id=args.chip_id,
                     allow_other_preset=args.any_preset,
                     fallback_presets=[macro.spec] if macro is not None and spec is None else [],
                     unverified_limits=args.unverified_limits)
    if macro is None:
        cells = prog.header.n_arrays * spec.cells
        if cells > MAX_SIMULATED_CELLS:
            raise InputError(
                f"{args.file}: the vectors target {prog.header.n_arrays} arrays ({cells:,} cells), "
                f"more than this simulator replays at once ({MAX_SIMULATED_CELLS:,} cells)")
        macro = Macro(spec, n_arrays=prog.header.n_arrays, seed=args.seed)
    result = replay(prog, macro, chip_id=args.chip_id, allow_other_preset=args.any_preset)
    summary = {"file": str(args.file), "preset": macro.spec.name, "seed": args.seed,
               **result.summary(), **_limits_fields(prog)}
    if args.out:
        macro.save(args.out)
        summary["state"] = str(args.out)
    if args.log:
        atomic_write_text(args.log, write_cell_log(result))
        summary["log"] = str(args.log)
    human = [
        f"replayed {args.file} on preset {macro.spec.name} (seed {args.seed})",
        f"  operations         {summary['ops']} ({summary['ops_applied']} applied, "
        f"{summary['ops_skipped']} skipped after a passed verify)",
        f"  cells              {summary['cells']}",
        f"  formed fraction    {summary['formed_fraction']:.4f}",
        f"  pulses per cell    {summary['pulses_per_cell_mean']:.3f} (max "
        f"{summary['pulses_per_cell_max']})",
        f"  verified / failed  {summary['verified_cells']} / {summary['failed_cells']}"
        + (f" (first: {summary['failed_examples'][:3]} as [array, row, col])"
           if summary["failed_cells"] else ""),
        f"  energy             {summary['energy_j'] * 1e9:.4g} nJ",
        f"  time               {summary['time_s'] * 1e3:.4g} ms",
    ]
    human += [f"  wrote {summary[k]}" for k in ("state", "log") if k in summary]
    human += _limits_lines(prog)
    _emit(args, summary, human)
    return 0


def cmd_export_csv(args: argparse.Namespace) -> int:
    refuse_overwrite(args.out, args.force)
    named = [load_preset(args.preset)] if args.preset else []
    prog = read_rvec(args.file, presets=named, unverified_limits=args.unverified_limits)
    path = write_csv(prog, args.out, force=args.force)
    _emit(args, {"file": str(path), "ops": len(prog), **_limits_fields(prog)},
          [f"wrote {path}: {len(prog)} operations", *_limits_lines(prog)])
    return 0


def cmd_import_csv(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset)
    refuse_overwrite(args.out, args.force)
    prog = read_csv(args.file, spec, allow_other_preset=args.any_preset,
                    unverified_limits=args.unverified_limits)
    # write_rvec stamps the file with the identity of `spec` (the ratings it was checked against)
    path = write_rvec(prog, args.out, force=args.force, spec=spec)
    _emit(args, {"file": str(path), "ops": len(prog), "sha256": file_digest(path),
                 "preset": spec.name, **_limits_fields(prog)},
          [f"wrote {path}: {len(prog)} operations (identity: preset {spec.name})",
           *_limits_lines(prog)])
    return 0


def cmd_import_readback(args: argparse.Namespace) -> int:
    spec = load_preset(args.preset)
    refuse_overwrite(args.out, args.force)
    macro = macro_from_readback(args.file, spec, seed=args.seed)
    macro.save(args.out)
    formed = macro.formed_mask()
    _emit(args, {"file": str(args.out), "n_arrays": macro.n_arrays, "rows": macro.rows,
                 "cols": macro.cols, "formed_fraction": float(formed.mean()),
                 "g_mean_us": float(macro.g_us.mean())},
          [f"wrote {args.out}: {macro.n_arrays} x {macro.rows} x {macro.cols} cells, "
           f"formed fraction {float(formed.mean()):.4f}"])
    return 0
