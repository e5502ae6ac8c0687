"""LSM encoder throughput at the paper's image-encoder scale, side by side in one run.

Setup: 256 inputs from N-MNIST-like binned events (16x16 crop, T = 50, ~9 % active bins as in
the digits-dvs stand-in, three saccade bursts), 200 neurons, weights = differential conductances
of the default macro, read noise (output-referred) and the preset's 8-bit ADC on, the image
constant (0.008: ~12 % firing). Float32 everywhere.

Implementations (all compute the same function; with noise off their spike counts agree, which
the run checks and reports):

* ``numba``      -- our event-driven engine (`LiquidStateMachine`, engine="numba");
* ``torch``      -- our batched torch engine (input GEMM for all steps, loop for recurrence);
* ``reference``  -- the paper's code style: per step dense ``x[t] @ W_in + s @ W_rec`` (and the
                    same for the noise variance), noise, ADC and the LIF update in torch;
* ``snntorch``   -- the same loop with ``snntorch.Leaky(reset_mechanism="zero")`` as the neuron.

``--device cuda`` runs our torch engine and both torch loops on the GPU (numba stays on the CPU).

Prints samples/s and ratios (noise on and off); ``--json`` prints one JSON object with keys
``engines`` (name -> samples/s, noise on), ``engines_noise_off``, ``ratio_numba_vs_reference``,
``ratio_numba_vs_snntorch`` (noise on) and more. Targets (2 CPU cores): numba >= 5x reference and
>= 8x snntorch; a full 70,000-sample encode <= 10 s. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def nmnist_like(n: int, t_n: int = 50, side: int = 16, density: float = 0.09,
                seed: int = 0) -> np.ndarray:
    """Binary frames [n, T, side*side]: a random blob 'digit' swept by three saccades."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    frames = np.empty((n, t_n, side * side), np.uint8)
    phase = np.arange(t_n) * 3.0 / t_n
    burst = 0.35 + 0.65 * np.abs(np.sin(np.pi * phase))  # three saccades over the window
    for b in range(n):
        cy, cx = rng.uniform(4, 12, 2)
        sy, sx = rng.uniform(2.0, 4.5, 2)
        blob = np.exp(-((yy - cy) ** 2 / (2 * sy**2) + (xx - cx) ** 2 / (2 * sx**2))).ravel()
        p = blob[None, :] * burst[:, None]
        p *= density * p.size / p.sum()
        frames[b] = rng.random(p.shape) < np.clip(p, 0, 1)
    return frames


def reference_loop(x, w_in, w_rec, s2_in, s2_rec, const, decay, v_th, v_read, lsb, cmax,
                   noise, snn_leaky=False, gen=None):
    """The paper's code style in plain torch: dense matmuls every step. Returns spike counts."""
    import torch

    b_n, t_n, _ = x.shape
    n = w_in.shape[1]
    kw = {"dtype": w_in.dtype, "device": w_in.device}
    u = torch.zeros(b_n, n, **kw)
    s = torch.zeros(b_n, n, **kw)
    counts = torch.zeros(b_n, n, **kw)
    lsb_v = lsb / v_read
    lif = None
    if snn_leaky:
        import snntorch as snn

        lif = snn.Leaky(beta=decay, threshold=v_th, reset_mechanism="zero")
        mem = lif.reset_mem()
    for t in range(t_n):
        xt = x[:, t]
        mu = xt @ w_in + s @ w_rec
        if noise:
            var = xt @ s2_in + s @ s2_rec
            cur = v_read * (mu + torch.sqrt(var) * torch.randn(mu.shape, generator=gen, **kw))
        else:
            cur = v_read * mu
        if lsb > 0:
            syn = const * (torch.clamp(torch.round(cur / lsb), -cmax, cmax) * lsb_v)
        else:
            syn = const * (cur / v_read)
        if lif is not None:
            s, mem = lif(syn, mem)
        else:
            u = decay * u * (1 - s) + syn
            s = (u > v_th).to(u.dtype)
        counts += s
    return counts


def _best_interleaved(fns: dict, reps: int) -> dict[str, float]:
    """Best time of each callable over ``reps`` rounds, the implementations taking turns within a
    round (after one warm-up call each), so that a slow or fast phase of a shared machine hits
    all of them rather than one."""
    for fn in fns.values():
        fn()  # warm-up (compilation, caches)
    best = {name: float("inf") for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=4096, help="samples per timing (default 4096)")
    ap.add_argument("--batch", type=int, default=1024, help="batch size (>= 1024 for the target)")
    ap.add_argument("--reps", type=int, default=5,
                    help="rounds of timings, implementations interleaved (best kept)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for numba and torch")
    ap.add_argument("--const", type=float, default=None, help="weight constant (default: image)")
    ap.add_argument("--device", default="cpu", help="device of our torch engine (cpu, cuda)")
    ap.add_argument("--full", type=int, default=70_000,
                    help="samples of the full-encode timing (0: skip)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    torch.set_flush_denormal(True)
    log = sys.stderr if args.json else sys.stdout

    frames = nmnist_like(args.samples, seed=1)
    over = {"const": args.const} if args.const else {}
    results: dict = {"setup": {
        "samples": args.samples, "batch": args.batch, "threads": args.threads,
        "inputs": 256, "neurons": 200, "steps": 50,
        "input_density": float(frames.mean()), "cpu_count": os.cpu_count(),
        "torch_device": args.device}}

    for noise in ("output", "off"):
        _measure(noise, frames, args, over, results, log)

    if args.json:
        print(json.dumps(results))
    else:
        _table(results)
    return 0


def _measure(noise: str, frames: np.ndarray, args, over: dict, results: dict, log) -> None:
    """Time the four implementations with ``noise`` ("output" or "off"); fill ``results``."""
    import torch

    from rram_lsm.lsm import LiquidStateMachine, LSMConfig

    cfg = LSMConfig.for_modality("image", dtype="float32", analog={"noise": noise}, **over)
    lsm = LiquidStateMachine(cfg, seed=10)
    lsm.calibrate(frames[:256])
    syn = lsm.synapses
    cal = lsm.adc_calibration
    v_read = syn.spec.read.v_read
    enc = lsm.encode(frames, batch_size=args.batch)

    kw = {"dtype": torch.float32, "device": args.device}
    w_in = torch.tensor(syn.w_in, **kw)
    w_rec = torch.tensor(syn.w_rec, **kw)
    s2_in = torch.tensor(syn.s2[: syn.n_in], **kw)
    s2_rec = torch.tensor(syn.s2[syn.n_in:], **kw)
    xt = torch.from_numpy(frames).to(**kw)
    gen = torch.Generator(device=args.device).manual_seed(0)

    def run_ref(snn_leaky: bool):
        out = []
        with torch.inference_mode():
            for b0 in range(0, len(frames), args.batch):
                out.append(reference_loop(
                    xt[b0:b0 + args.batch], w_in, w_rec, s2_in, s2_rec, cfg.const, cfg.decay,
                    cfg.v_th, v_read, float(cal.lsb_ua[0]), float(cal.code_max[0]),
                    noise == "output", snn_leaky, gen))
            result = torch.cat(out).cpu()
        return result

    impls = {
        "numba": lambda: lsm.encode(frames, batch_size=args.batch, engine="numba"),
        "torch": lambda: lsm.encode(frames, batch_size=args.batch, engine="torch",
                                    device=args.device),
        "reference": lambda: run_ref(False),
        "snntorch": lambda: run_ref(True),
    }
    speeds = {name: len(frames) / t for name, t in _best_interleaved(impls, args.reps).items()}
    for name, v in speeds.items():
        print(f"  noise={noise:6s} {name:10s} {v:10.0f} samples/s", file=log)
    on = noise == "output"
    results["engines" if on else "engines_noise_off"] = speeds
    results["mean_rate" if on else "mean_rate_noise_off"] = enc.firing_stats()["mean_rate"]
    suffix = "" if on else "_noise_off"
    for other in ("reference", "snntorch", "torch"):
        results[f"ratio_numba_vs_{other}{suffix}"] = speeds["numba"] / speeds[other]
    if not on:  # the same function: spike counts must agree
        ours = enc.rates * cfg.n_steps
        results["agreement_noise_off"] = {
            "reference": float(np.mean(np.isclose(run_ref(False).numpy(), ours))),
            "snntorch": float(np.mean(np.isclose(run_ref(True).numpy(), ours))),
        }
    if on and args.full:
        big = np.concatenate([frames] * (-(-args.full // len(frames))))[: args.full]
        t0 = time.perf_counter()
        lsm.encode(big, batch_size=max(args.batch, 4096))
        results["full_encode"] = {"samples": args.full, "seconds": time.perf_counter() - t0}
        print(f"  full encode of {args.full} samples: {results['full_encode']['seconds']:.2f} s",
              file=log)


def _table(r: dict) -> None:
    print()
    print(f"LSM encode, 256 in x 200 neurons x T 50, batch {r['setup']['batch']}, "
          f"{r['setup']['threads']} threads, input density {r['setup']['input_density']:.3f}")
    print(f"mean firing rate: {r['mean_rate']:.3f} (noise + ADC), "
          f"{r['mean_rate_noise_off']:.3f} (noise off, ADC on)")
    print(f"{'implementation':14s} {'noise+ADC':>12s} {'ratio':>7s} {'noise off':>12s} {'ratio':>7s}")
    for name in r["engines"]:
        a, b = r["engines"][name], r["engines_noise_off"][name]
        print(f"{name:14s} {a:12.0f} {r['engines']['numba'] / a:7.2f} {b:12.0f} "
              f"{r['engines_noise_off']['numba'] / b:7.2f}")
    print("(ratio = numba samples/s / this implementation's)")
    if "full_encode" in r:
        f = r["full_encode"]
        print(f"full encode: {f['samples']} samples in {f['seconds']:.2f} s")
    ag = r.get("agreement_noise_off", {})
    if ag:
        print("spike-count agreement with numba (noise off): "
              + ", ".join(f"{k} {v:.4f}" for k, v in ag.items()))


if __name__ == "__main__":
    sys.exit(main())
