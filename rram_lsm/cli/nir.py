"""``rram-lsm export nir`` and ``rram-lsm import nir``: interchange with NIR.

rram-lsm export nir CONFIG|RUN_DIR --out FILE.nir [--modality image|audio|both]
                    [--source gaussian|macro|measured] [--seed S] [--dt DT] [--heads STATE.pt]
                    [--force] [--json]
rram-lsm import nir FILE.nir [--frames F.npy|F.npz] [--samples B --steps T --rate P]
                    [--preset NAME | --ideal] [--noise output|percell|off] [--no-adc]
                    [--levels K] [--clip-percentile P] [--dt DT] [--seed S] [--out R.npz]
                    [--force] [--json]

CONFIG is an LSM config YAML (``configs/lsm/*.yaml``) or an experiment config YAML; RUN_DIR a run
folder of ``rram-lsm run`` (its ``config.yaml``). An experiment has two reservoirs: ``--modality
both`` (its default) writes ``<out stem>-image.nir`` and ``<out stem>-audio.nir``. ``--heads``
takes a ``DualProjection`` state dict saved with ``torch.save(model.state_dict(), path)`` and
writes it beside as ``<out stem>-heads.npz`` (`rram_lsm.nir.heads`).

``import nir`` runs the graph ideal and on the macro of ``--preset`` (default: the default
preset) on ``--frames`` (binary [B, T, n_inputs]) or on random Bernoulli frames, and reports the
mapping, the energy and the spike agreement of the macro with the ideal run.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

from crossbar.defaults import DEFAULT_PRESET
from crossbar.fsio import atomic_write_bytes, refuse_overwrite
from crossbar.validation import read_yaml_mapping
from rram_lsm.cli.common import plain_warnings
from rram_lsm.errors import ConfigError, InputError


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="export the LSM to other formats")
    esub = e.add_subparsers(dest="export_command", metavar="FORMAT")
    esub.required = True
    p = esub.add_parser("nir", help="write the reservoir(s) as NIR graphs")
    p.add_argument("source", help="LSM config YAML, experiment config YAML or run folder")
    p.add_argument("--out", required=True, help="output .nir file")
    p.add_argument("--modality", choices=("image", "audio", "both"),
                   help="experiment reservoir(s) to export (default both)")
    p.add_argument("--source", dest="weight_source", choices=("gaussian", "macro", "measured"),
                   help="experiment weight source (default: macro if the experiment has it)")
    p.add_argument("--seed", type=int, help="seed (default: the config's / the first seed)")
    p.add_argument("--dt", type=float, default=None, help="Euler time step in s (1e-4)")
    p.add_argument("--heads", help="DualProjection state dict (.pt) to export beside (.npz)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_export)

    i = sub.add_parser("import", help="import networks from other formats")
    isub = i.add_subparsers(dest="import_command", metavar="FORMAT")
    isub.required = True
    q = isub.add_parser("nir", help="run a NIR graph of dense + LIF layers on the macro")
    q.add_argument("file", help="NIR graph (.nir)")
    q.add_argument("--frames", help="binary input frames [B, T, n_inputs]: .npy, or .npz with "
                   "an array 'frames'")
    q.add_argument("--samples", type=int, default=16, help="random frames: samples (16)")
    q.add_argument("--steps", type=int, default=50, help="random frames: time steps (50)")
    q.add_argument("--rate", type=float, default=0.1, help="random frames: P(event) (0.1)")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--preset", default=DEFAULT_PRESET, help="macro preset (name or YAML)")
    g.add_argument("--ideal", action="store_true", help="ideal arithmetic only (no macro)")
    q.add_argument("--noise", choices=("output", "percell", "off"), default="output",
                   help="read noise on the macro (output)")
    q.add_argument("--no-adc", action="store_true", help="ideal read-out instead of the ADC")
    q.add_argument("--levels", type=int, help="programmable conductance levels (default: "
                   "continuous)")
    q.add_argument("--clip-percentile", type=float, help="map this percentile of |W| to the "
                   "conductance range; larger weights clip (default: max |W|, no clipping)")
    q.add_argument("--dt", type=float, default=None, help="Euler time step in s (1e-4)")
    q.add_argument("--seed", type=int, default=0, help="frames / die / noise seed (0)")
    q.add_argument("--out", help="write the output rasters to this .npz")
    q.add_argument("--force", action="store_true", help="overwrite --out")
    q.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    q.set_defaults(func=cmd_import)


# --- export ----------------------------------------------------------------------------------

def _is_experiment(raw: dict) -> bool:
    """An experiment config names experiment sections, or ``lsm:`` as image/audio overrides."""
    from rram_lsm.experiments.config import ExperimentConfig
    from rram_lsm.lsm.config import LSMConfig

    if set(raw) & (set(ExperimentConfig.model_fields) - {"lsm"} - set(LSMConfig.model_fields)):
        return True
    lsm = raw.get("lsm")
    return isinstance(lsm, dict) and bool(set(lsm) & {"image", "audio", "audio_seed_offset"})


def resolve_configs(source: str, modality: str | None, weight_source: str | None,
                    seed: int | None) -> list:
    """The `LSMConfig`s to export from an LSM config, an experiment config or a run folder."""
    from rram_lsm.lsm.config import load_lsm_config

    path = Path(source)
    if path.is_dir():
        path = path / "config.yaml"
        if not path.is_file():
            raise InputError(f"{source}: a run folder must hold config.yaml (written by "
                             "`rram-lsm run`)")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    raw = read_yaml_mapping(path, ConfigError, "config")
    if not _is_experiment(raw):
        cfg = load_lsm_config(path)
        if modality not in (None, "both") and modality != cfg.modality:
            raise InputError(f"{path}: --modality {modality} but the LSM config's modality "
                             f"is '{cfg.modality}'")
        over = {}
        if weight_source is not None:
            over["weights"] = {**cfg.weights.model_dump(), "source": weight_source}
        if seed is not None:
            over["seed"] = seed
        return [cfg.replace(**over) if over else cfg]
    from rram_lsm.experiments.config import load_experiment_config, resolve_lsm_config

    exp = load_experiment_config(path)
    src = weight_source or ("macro" if "macro" in exp.sources else exp.sources[0])
    s = exp.first_seed if seed is None else seed
    mods = ("image", "audio") if modality in (None, "both") else (modality,)
    return [resolve_lsm_config(exp, m, src, s) for m in mods]


def _heads_state(path: str, out: Path, activation: str, force: bool) -> Path:
    import torch

    from rram_lsm.heads.models import DualProjection
    from rram_lsm.nir.heads import export_heads

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: heads file not found")
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
        n_layers = len([k for k in sd if k.startswith("audio.net.") and k.endswith(".weight")])
        model = DualProjection(sd["audio.net.0.weight"].shape[1], sd["image.net.0.weight"].shape[1],
                               sd["audio.net.0.weight"].shape[0], n_layers, activation)
        model.load_state_dict(sd)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: not a DualProjection state dict ({type(exc).__name__}: {exc})") \
            from None
    return export_heads(model, out, activation=activation, force=force)


def cmd_export(args: argparse.Namespace) -> int:
    from rram_lsm.nir.export import export_reservoir
    from rram_lsm.nir.semantics import DEFAULT_DT

    dt = DEFAULT_DT if args.dt is None else args.dt
    if not dt > 0:
        raise InputError(f"--dt must be > 0, got {args.dt}")
    out = Path(args.out)
    configs = resolve_configs(args.source, args.modality, args.weight_source, args.seed)
    paths = [out] if len(configs) == 1 else \
        [out.with_name(f"{out.stem}-{c.modality}{out.suffix or '.nir'}") for c in configs]
    heads_path = out.with_name(f"{out.stem}-heads.npz") if args.heads else None
    for p in paths + ([heads_path] if heads_path else []):
        refuse_overwrite(p, args.force)
    results = []
    with plain_warnings():
        for cfg, p in zip(configs, paths):
            r = export_reservoir(cfg, p, force=args.force, dt=dt)
            results.append({"file": str(r.path), "modality": r.modality, "n_inputs": r.n_inputs,
                            "n_neurons": r.n_neurons, "reset": r.reset,
                            "weight_source": r.weight_source, "dt": dt,
                            "round_trip": "exact" if r.reset == "zero" else
                            "lossy: NIR resets to zero"})
    record: dict = {"reservoirs": results}
    if heads_path:
        act = "gelu"
        try:
            from rram_lsm.experiments.config import load_experiment_config

            src = Path(args.source)
            cfgp = src / "config.yaml" if src.is_dir() else src
            if _is_experiment(read_yaml_mapping(cfgp, ConfigError, "config")):
                act = load_experiment_config(cfgp).heads.activation
        except InputError:
            pass
        record["heads"] = str(_heads_state(args.heads, heads_path, act, args.force))
    if args.json:
        print(json.dumps(record))
    else:
        for r in results:
            print(f"wrote {r['file']}: {r['modality']} reservoir, {r['n_inputs']} inputs -> "
                  f"{r['n_neurons']} LIF ({r['weight_source']} weights, reset {r['reset']}, "
                  f"dt {dt:g} s; round trip {r['round_trip']})")
        if heads_path:
            print(f"wrote {record['heads']}: projection heads (.npz)")
    return 0


# --- import ----------------------------------------------------------------------------------


def _frames(args: argparse.Namespace, n_inputs: int) -> np.ndarray:
    if args.frames:
        p = Path(args.frames)
        if not p.is_file():
            raise InputError(f"{p}: frames file not found")
        try:
            if p.suffix == ".npz":
                with np.load(p, allow_pickle=False) as z:
                    if "frames" not in z.files:
                        raise InputError(f"{p}: an .npz needs an array 'frames'")
                    x = np.array(z["frames"])
            else:
                x = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{p}: cannot read frames ({exc})") from None
        if x.ndim != 3 or x.shape[2] != n_inputs:
            raise InputError(f"{p}: frames must have shape [B, T, {n_inputs}] (the graph's "
                             f"inputs), got {x.shape}")
        if not (x.dtype == bool or np.issubdtype(x.dtype, np.integer)) or x.min() < 0:
            raise InputError(f"{p}: frames must be binary (0/1 integers or bool), got "
                             f"dtype {x.dtype}")
        return x
    for name in ("samples", "steps"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be >= 1")
    if not (0 <= args.rate <= 1):
        raise InputError(f"--rate must lie in [0, 1], got {args.rate}")
    rng = np.random.default_rng([args.seed, 0x4E1])
    return (rng.random((args.samples, args.steps, n_inputs)) < args.rate).astype(np.uint8)


def cmd_import(args: argparse.Namespace) -> int:
    from rram_lsm.nir import parse_network, read_graph, run_network, spike_agreement
    from rram_lsm.nir.semantics import DEFAULT_DT

    dt = DEFAULT_DT if args.dt is None else args.dt
    if not dt > 0:
        raise InputError(f"--dt must be > 0, got {args.dt}")
    try:
        net = parse_network(read_graph(args.file), dt)
    except InputError as exc:
        msg = str(exc)
        raise type(exc)(msg if msg.startswith(str(args.file)) else f"{args.file}: {msg}") \
            from None
    if args.out:
        refuse_overwrite(args.out, args.force)
    x = _frames(args, net.n_inputs)
    ideal = run_network(net, x, seed=args.seed)
    rec: dict = {"file": str(args.file), "dt": dt, "layers": net.summary(),
                 "samples": int(x.shape[0]), "steps": int(x.shape[1]),
                 "ideal": {"output_rate": float(ideal.output.mean()),
                           "layer_rates": [float(r.mean()) for r in ideal.rasters]}}
    arrays = {"frames": np.asarray(x, np.uint8), "ideal": ideal.output}
    if not args.ideal:
        hw = run_network(net, x, preset=args.preset, noise=args.noise, adc=not args.no_adc,
                         levels=args.levels, clip_percentile=args.clip_percentile,
                         seed=args.seed)
        rec["macro"] = {
            "preset": args.preset, "noise": args.noise, "adc": not args.no_adc,
            "n_arrays": hw.n_arrays, "mapping": [m.to_dict() for m in hw.mapping],
            "energy_j": hw.energy_j, "energy_per_sample_j": hw.energy_j / max(len(x), 1),
            "output_rate": float(hw.output.mean()),
            "spike_agreement_vs_ideal": spike_agreement(hw.output, ideal.output),
            "layer_agreement_vs_ideal": [spike_agreement(a, b)
                                         for a, b in zip(hw.rasters, ideal.rasters)],
            "ledger": hw.ledger}
        arrays["macro"] = hw.output
    if args.out:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        rec["out"] = str(atomic_write_bytes(args.out, buf.getvalue(), overwrite=args.force))
    if args.json:
        print(json.dumps(rec))
    else:
        _print_import(rec)
    return 0


def _print_import(rec: dict) -> None:
    print(f"{rec['file']}: {len(rec['layers'])} layer(s), {rec['samples']} samples x "
          f"{rec['steps']} steps (dt {rec['dt']:g} s)")
    for la in rec["layers"]:
        kind = "recurrent" if la["recurrent"] else "feed-forward"
        print(f"  {la['name']}: {la['n_in']} -> {la['n']} LIF, {kind}, decay {la['decay']:.6g}, "
              f"v_th {la['v_th']:.6g}" + (f" ({'; '.join(la['notes'])})" if la["notes"] else ""))
    print(f"  ideal: output spike rate {rec['ideal']['output_rate']:.4f}")
    m = rec.get("macro")
    if m:
        print(f"  macro {m['preset']} (noise {m['noise']}, ADC {'on' if m['adc'] else 'off'}): "
              f"{m['n_arrays']} array(s), output spike rate {m['output_rate']:.4f}, "
              f"spike agreement with ideal {m['spike_agreement_vs_ideal']:.4f}")
        for mp in m["mapping"]:
            print(f"    {mp['layer']}: {mp['rows']} x {mp['outputs']} pairs on {mp['n_tiles']} "
                  f"tile(s), {mp['scale_us']:.4g} uS/unit, clipped {mp['clipped_fraction']:.4f}, "
                  f"rms error {mp['rel_error_rms']:.2e}")
        print(f"    energy {m['energy_j']:.4g} J ({m['energy_per_sample_j']:.4g} J/sample)")
    if "out" in rec:
        print(f"  wrote {rec['out']}")
