"""Benchmark: binary-input MVM on a full 512 x 512 macro used as differential pairs.

512 inputs x 256 signed outputs, batch 1024, ~10 % of rows active, read noise + 8-bit ADC on.
Side by side in one run:

* per-cell noise (each active cell's conductance re-drawn on every read, CrossSim semantics):
  our numba kernel vs a numpy implementation of the same (numpy Generator normals);
* output-referred noise (exact Gaussian equivalent while IR drop is off): our numba kernel vs
  numpy vs plain torch.

Usage: python benchmarks/bench_crossbar.py [--json] [--batch 1024] [--density 0.1] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def best_rate(fn, n_vectors: int, reps: int) -> float:
    fn()  # warm-up (numba compile / caches)
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_vectors / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from crossbar import DifferentialMatrix, Macro, load_preset, readchain_ref
    from crossbar import kernels as K
    from crossbar.device import read_sigma
    from crossbar.periphery import Adc, percentile_range
    from crossbar.rng import NORMAL_TABLE
    from rram_lsm.lsm import torch_readchain

    spec = load_preset()
    macro = Macro(spec, seed=args.seed)
    macro.form(spec.forming.v_default)
    g = np.array(macro.g_us[0])
    gp, gm = np.ascontiguousarray(g[:, 0::2]), np.ascontiguousarray(g[:, 1::2])
    sp, sm = read_sigma(spec, gp), read_sigma(spec, gm)
    w, s2 = gp - gm, sp**2 + sm**2
    v = spec.read.v_read
    rng = np.random.default_rng(args.seed)
    x = (rng.random((args.batch, 512)) < args.density).astype(np.uint8)
    xf = x.astype(np.float64)
    adc = Adc(spec.periphery.adc_bits, percentile_range(v * xf @ w, 99.9), signed=True)
    lsb, cmin, cmax = adc.lsb_ua, adc.code_min, adc.code_max
    read = K.ReadParams(v, 0.0, lsb, float(cmin), float(cmax))

    def numpy_adc(i):
        return readchain_ref.adc_value(i, lsb, cmin, cmax)

    # per-cell -------------------------------------------------------------------------------
    def percell_numba():
        return K.mvm_percell(x, gp, gm, sp, sm, True, True, 12345, NORMAL_TABLE, read)[0]

    gen = np.random.default_rng(1)

    def percell_numpy():
        out = np.empty((x.shape[0], gp.shape[1]))
        for b in range(x.shape[0]):
            idx = np.flatnonzero(x[b])
            gpn = np.maximum(gp[idx] + sp[idx] * gen.standard_normal((idx.size, gp.shape[1])), 0)
            gmn = np.maximum(gm[idx] + sm[idx] * gen.standard_normal((idx.size, gp.shape[1])), 0)
            out[b] = v * (gpn.sum(0) - gmn.sum(0))
        return numpy_adc(out)

    dm = DifferentialMatrix(macro, 512, 256)
    dm.adc_ranges_ua = [adc.range_ua]

    def percell_macro_api():
        return dm.mvm(x, noise="percell")

    # output-referred ------------------------------------------------------------------------
    def output_numba():
        return K.mvm_output_noise(x, w, s2, True, 777, NORMAL_TABLE, read)[0]

    def output_numpy():
        mu = xf @ w
        return numpy_adc(v * (mu + np.sqrt(xf @ s2) * gen.standard_normal(mu.shape)))

    tx, tw, ts2 = (torch.from_numpy(a) for a in (xf, w, s2))
    tgen = torch.Generator().manual_seed(0)

    def output_torch():
        with torch.inference_mode():
            mu = tx @ tw
            cur = v * (mu + torch.sqrt(tx @ ts2) * torch.randn(mu.shape, generator=tgen,
                                                               dtype=mu.dtype))
            return torch_readchain.adc_value(cur, lsb, cmin, cmax)

    cases = {
        "percell_numba": percell_numba,
        "percell_numpy": percell_numpy,
        "percell_macro_api": percell_macro_api,
        "output_numba": output_numba,
        "output_numpy": output_numpy,
        "output_torch": output_torch,
    }
    rates = {}
    err_std = {}
    ideal = v * xf @ w
    for name, fn in cases.items():
        reps = 1 if name == "percell_numpy" else args.reps
        rates[name] = best_rate(fn, x.shape[0], reps)
        y = fn()
        y = y.numpy() if hasattr(y, "numpy") else y
        err_std[name] = float(np.std(y - ideal))

    result = {
        "config": {"batch": args.batch, "rows": 512, "outputs": 256, "density": args.density,
                   "adc_bits": adc.bits, "adc_range_ua": adc.range_ua,
                   "torch_threads": torch.get_num_threads()},
        "samples_per_s": rates,
        "output_error_std_ua": err_std,
        "ratio_percell_numba_vs_numpy": rates["percell_numba"] / rates["percell_numpy"],
        "ratio_output_numba_vs_torch": rates["output_numba"] / rates["output_torch"],
        "ratio_output_numba_vs_numpy": rates["output_numba"] / rates["output_numpy"],
        "anchor_crosssim_percell_samples_per_s": 190.0,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"512x512 differential MVM, batch {args.batch}, {args.density:.0%} rows active, "
          f"8-bit ADC, read noise on")
    print(f"{'case':<20}{'vectors/s':>14}{'std(y - ideal) uA':>20}")
    for name in cases:
        print(f"{name:<20}{rates[name]:>14,.0f}{err_std[name]:>20.4f}")
    print(f"per-cell   numba / numpy : {result['ratio_percell_numba_vs_numpy']:.1f}x (target >= 10)")
    print(f"output-ref numba / torch : {result['ratio_output_numba_vs_torch']:.2f}x (target >= 1.5)")
    print(f"output-ref numba / numpy : {result['ratio_output_numba_vs_numpy']:.2f}x (target >= 1)")
    print("anchor: CrossSim 3.2 per-cell ~190 vectors/s on this machine (docs/design.md)")


if __name__ == "__main__":
    main()
