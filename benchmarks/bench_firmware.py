"""Firmware vector throughput: generate, write, read and replay programs at full-macro scale.

Cases (default preset, one 512 x 512 array):

* ``forming``      -- forming sweep of the whole array to a target sparsity (default 0.5),
                      replayed on a fresh simulated macro;
* ``write-verify`` -- write-verify of a 256 x 200 signed matrix (N(0, 6.6 uS), tolerance 2 uS) on
                      differential pairs (102,400 cells), replayed on a macro whose cells were
                      formed beforehand (that forming is not timed).

Stages: ``generate`` (program -> validated records in memory), ``write`` (.rvec with SHA-256,
atomic), ``read`` (parse + checksum + full validation against the preset), ``replay`` (through
`crossbar.Macro.apply_ops`, with the per-cell log). Prints ops/s per stage; ``--json`` prints one
JSON object: ``cases`` -> case -> stage -> {ops, seconds, ops_per_s}, plus ``forming_generate_
plus_replay_s`` and outcome figures. Target (2 CPU cores): full-array forming generate + replay
<= 5 s. Measured, never asserted. JIT compilation is warmed up on a tiny program first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from crossbar import Macro, load_preset
from crossbar.defaults import DEFAULT_PRESET
from firmware.programs import IsppSettings, forming_sweep, parse_region, write_verify_weights
from firmware.replay import replay
from firmware.rvec import read_rvec, write_rvec

TARGET_FORMING_S = 5.0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _stage(ops: int, seconds: float) -> dict:
    return {"ops": int(ops), "seconds": seconds, "ops_per_s": ops / seconds if seconds else None}


def warm_up(spec) -> None:
    """Compile / load every numba kernel on a tiny program (writable and read-only inputs)."""
    small = parse_region("0:2,0:2", spec)
    with tempfile.TemporaryDirectory() as d:
        for prog in (forming_sweep(spec, v_max=3.2, region=small),
                     write_verify_weights(spec, np.ones((2, 1)), 2.0,
                                          settings=IsppSettings(max_iterations=2))):
            p = write_rvec(prog, os.path.join(d, "w.rvec"), force=True)
            m = Macro(spec, seed=0)
            replay(prog, m)
            replay(read_rvec(p, spec), m)


def bench_case(name: str, make, macro_factory, spec, folder: str) -> tuple[dict, dict]:
    prog, t_gen = _timed(make)
    n = len(prog)
    path = os.path.join(folder, f"{name}.rvec")
    _, t_write = _timed(lambda: write_rvec(prog, path, force=True, spec=spec))
    size = os.path.getsize(path)
    back, t_read = _timed(lambda: read_rvec(path, spec))
    macro = macro_factory()
    res, t_replay = _timed(lambda: replay(back, macro))
    stages = {"generate": _stage(n, t_gen), "write": _stage(n, t_write),
              "read": _stage(n, t_read), "replay": _stage(n, t_replay)}
    summary = res.summary(max_listed=0)
    outcome = {"file_bytes": size, "cells": summary["cells"],
               "formed_fraction": summary["formed_fraction"],
               "pulses_per_cell_mean": summary["pulses_per_cell_mean"],
               "failed_cells": summary["failed_cells"], "ops_applied": summary["ops_applied"],
               "energy_j": summary["energy_j"], "time_s": summary["time_s"], **{
                   k: prog.info[k] for k in ("v_max", "predicted_formed_fraction", "steps",
                                             "ops_per_cell") if k in prog.info}}
    return stages, outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default=DEFAULT_PRESET)
    ap.add_argument("--sparsity", type=float, default=0.5, help="forming target sparsity")
    ap.add_argument("--tolerance-us", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    spec = load_preset(args.preset)
    warm_up(spec)
    rng = np.random.default_rng(args.seed)
    weights = rng.normal(0.0, 6.6, (256, 200))

    def formed_macro():
        m = Macro(spec, seed=args.seed + 1)
        m.form(4.6)  # all fault-free cells formed (untimed preparation)
        return m

    cases, outcomes = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        cases["forming"], outcomes["forming"] = bench_case(
            "forming", lambda: forming_sweep(spec, target_sparsity=args.sparsity),
            lambda: Macro(spec, seed=args.seed), spec, folder)
        cases["write-verify"], outcomes["write-verify"] = bench_case(
            "write-verify", lambda: write_verify_weights(spec, weights, args.tolerance_us),
            formed_macro, spec, folder)
    total = cases["forming"]["generate"]["seconds"] + cases["forming"]["replay"]["seconds"]
    result = {"preset": args.preset, "cpu_count": os.cpu_count(), "cases": cases,
              "outcomes": outcomes, "forming_generate_plus_replay_s": total,
              "target_forming_s": TARGET_FORMING_S}
    if args.json:
        print(json.dumps(result))
        return 0
    g = spec.geometry
    print(f"firmware vectors, preset {args.preset} ({g.rows} x {g.cols}), "
          f"{os.cpu_count()} CPU core(s)")
    print(f"{'case':<14}{'stage':<10}{'ops':>12}{'seconds':>10}{'ops/s':>12}")
    for case, stages in cases.items():
        for stage, s in stages.items():
            print(f"{case:<14}{stage:<10}{s['ops']:>12,}{s['seconds']:>10.3f}"
                  f"{s['ops_per_s']:>12.3g}")
    f, w = outcomes["forming"], outcomes["write-verify"]
    print(f"forming 512x512: generate + replay {total:.2f} s (target <= {TARGET_FORMING_S} s); "
          f"V_max {f['v_max']} V, formed {f['formed_fraction']:.4f} (predicted "
          f"{f['predicted_formed_fraction']:.4f}), {f['file_bytes'] / 1e6:.0f} MB")
    print(f"write-verify 256x200 pairs: {w['cells']} cells, {w['pulses_per_cell_mean']:.2f} "
          f"pulses/cell, {w['failed_cells']} failed, {w['file_bytes'] / 1e6:.0f} MB, "
          f"energy {w['energy_j'] * 1e6:.3g} uJ, chip time {w['time_s'] * 1e3:.3g} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
