"""Export an LSM reservoir as a NIR graph (`nir`), with its hardware facts in the metadata.

Graph layout (node names sort in execution order, which NIRTorch's interpreter -- and so
`snntorch.import_from_nir` -- needs once a file is read back, since HDF5 lists groups by name)::

    input [n_inputs] -> input_weights (Linear, const * W_in^T) -> reservoir -> output [N]
    reservoir: a recurrent NIR subgraph  input -> lif <-> w_rec (Linear, const_rec * W_rec^T)
                                                   lif -> output

The nested subgraph is deliberate: given the flat form snnTorch's own exporter writes (``lif``
and ``w_rec`` at the top level), snnTorch 1.0's importer builds a subgraph that routes the layer
input through ``w_rec`` (about 17 % of spikes differ on a small recurrent network), while the
nested form imports as written.

The weights are the ones the LSM uses at inference (`Synapses.w`: the Gaussian twin, or the
macro's differential conductances G+ - G- after drift) times the weight constant(s); the neuron
mapping is `rram_lsm.nir.semantics`. Metadata (flat, as NIR files store it): the graph and every
node carry ``producer``, and the graph a ``rram_lsm`` JSON string with the LSM config, its
digest, the time step and the hardware facts (`hardware_facts`); LIF and weight nodes repeat
the facts that concern them as plain keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import nir
import numpy as np

from crossbar.fsio import atomic_write_bytes, refuse_overwrite
from rram_lsm.lsm.config import LSMConfig
from rram_lsm.lsm.model import LiquidStateMachine
from rram_lsm.nir.semantics import DEFAULT_DT, lif_node

PRODUCER = "rram-lsm"


def spec_digest(spec) -> str:
    """sha256 of a preset's validated values (provenance included)."""
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()


def hardware_facts(lsm: LiquidStateMachine) -> dict:
    """JSON-ready facts about where the weights came from and how the macro reads them."""
    cfg, syn = lsm.config, lsm.synapses
    wc, a = cfg.weights, cfg.analog
    w = syn.w
    facts: dict = {
        "weight_source": wc.source, "weights_units": "uS (G+ - G-) before the constant",
        "weight_mean_us": float(w.mean()), "weight_std_us": float(w.std()),
        "w_in_mean_us": float(syn.w_in.mean()), "w_in_std_us": float(syn.w_in.std()),
        "w_rec_mean_us": float(syn.w_rec.mean()), "w_rec_std_us": float(syn.w_rec.std()),
        "seed": cfg.seed, "die_seed": cfg.seed if wc.macro_seed is None else wc.macro_seed,
        "preset": wc.preset, "ideal": bool(syn.ideal),
    }
    if syn.ideal:
        facts.update({k: v for k, v in syn.info.items() if isinstance(v, (int, float, str))})
        facts["tiles"] = [list(map(int, t)) for t in syn.tile_table()]
        return facts
    spec = syn.spec
    facts.update({
        "preset": spec.name, "preset_digest": spec_digest(spec),
        "form_voltage_v": spec.forming.v_default if wc.form_voltage is None else wc.form_voltage,
        "n_arrays": int(syn.info.get("n_arrays", 0)), "n_tiles": len(syn.tiles),
        "formed_fraction": float(syn.info.get("formed_fraction", float("nan"))),
        "gp_mean_us": float(syn.gp.mean()), "gm_mean_us": float(syn.gm.mean()),
        "g_pair_max_us": float(max(syn.gp.max(), syn.gm.max())),
        "read_noise": a.noise, "noise_relative": spec.read.noise_relative,
        "noise_floor_us": spec.read.noise_floor_us, "v_read": spec.read.v_read,
        "adc": bool(a.adc), "adc_bits": spec.periphery.adc_bits,
        "adc_range_rule": spec.periphery.adc_range_rule,
        "adc_percentile": spec.periphery.adc_percentile,
        "adc_calibration_samples": a.calibration_samples, "drift_s": a.drift_s,
        "faults": a.faults, "ir_drop": a.ir_drop,
        "geometry": [spec.geometry.rows, spec.geometry.cols],
        # (array, row0, col0, in_lo, in_hi, out_lo, out_hi, group) of `crossbar.layout.Tile`
        "tiles": [[t.array, t.row0, t.col0, t.in_lo, t.in_hi, t.out_lo, t.out_hi, t.group]
                  for t in syn.tiles],
    })
    return facts


def _flat(d: dict) -> dict:
    """Metadata NIR can store: scalars and strings (None as "none"; lists as JSON)."""
    out = {}
    for k, v in d.items():
        if v is None:
            v = "none"
        elif isinstance(v, (list, tuple, dict)):
            v = json.dumps(v)
        elif isinstance(v, bool):
            v = np.bool_(v)
        out[k] = v
    return out


def reservoir_graph(lsm: LiquidStateMachine, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """The NIR graph of ``lsm``'s reservoir (see module doc)."""
    cfg, syn = lsm.config, lsm.synapses
    n_in, n = cfg.n_inputs, cfg.n_neurons
    c_in = cfg.const
    c_rec = cfg.const_rec if cfg.const_rec is not None else cfg.const
    facts = hardware_facts(lsm)
    lif_md = {"producer": PRODUCER, "decay": cfg.decay, "v_th": cfg.v_th, "dt": dt,
              "reset": cfg.reset,
              "reset_semantics": "zero: NIR v_reset=0 (exact)" if cfg.reset == "zero" else
              "subtract: NOT representable in NIR (consumers reset to v_reset=0)"}
    hw = {k: facts[k] for k in ("weight_source", "preset", "preset_digest", "die_seed",
                                "form_voltage_v", "read_noise", "adc", "adc_bits") if k in facts}
    w_in_md = {"producer": PRODUCER, "const": c_in, "block": "W_in", **hw}
    w_rec_md = {"producer": PRODUCER, "const": c_rec, "block": "W_rec", **hw}
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n])),
               "lif": lif_node(n, cfg.decay, cfg.v_th, dt, _flat(lif_md)),
               "output": nir.Output(output_type=np.array([n])),
               "w_rec": nir.Linear(weight=np.ascontiguousarray(c_rec * syn.w_rec.T),
                                   metadata=_flat(w_rec_md))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        metadata={"producer": PRODUCER, "role": "recurrent LIF reservoir"})
    record = {"lsm_config": cfg.model_dump(mode="json"), "lsm_config_digest": cfg.digest(),
              "dt": dt, "semantics": "rram_lsm.nir.semantics", "hardware": facts}
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n_in])),
               "input_weights": nir.Linear(weight=np.ascontiguousarray(c_in * syn.w_in.T),
                                           metadata=_flat(w_in_md)),
               "output": nir.Output(output_type=np.array([n])),
               "reservoir": sub},
        edges=[("input", "input_weights"), ("input_weights", "reservoir"),
               ("reservoir", "output")],
        metadata=_flat({"producer": PRODUCER, "modality": cfg.modality, "dt": dt,
                        "reset": cfg.reset, "rram_lsm": json.dumps(record, default=str)}))


def graph_bytes(graph: nir.NIRGraph) -> bytes:
    """A NIR graph serialised as `nir.write` does (HDF5)."""
    buf = io.BytesIO()
    nir.write(buf, graph)
    return buf.getvalue()


def write_graph(graph: nir.NIRGraph, path: str | os.PathLike, force: bool = False) -> Path:
    """Write ``graph`` to ``path`` atomically; an existing file needs ``force``."""
    refuse_overwrite(path, force)
    return atomic_write_bytes(path, graph_bytes(graph), overwrite=force)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    modality: str
    n_inputs: int
    n_neurons: int
    reset: str
    weight_source: str


def export_reservoir(config: LSMConfig | LiquidStateMachine, path: str | os.PathLike, *,
                     force: bool = False, dt: float = DEFAULT_DT) -> ExportResult:
    """Build the LSM of ``config`` (or take a built one) and write its reservoir to ``path``.

    A ``reset="subtract"`` reservoir is written with a `UserWarning`: NIR cannot carry it."""
    lsm = config if isinstance(config, LiquidStateMachine) else LiquidStateMachine(config)
    cfg = lsm.config
    if cfg.reset == "subtract":
        warnings.warn("reset='subtract' has no NIR equivalent: NIR neurons reset to v_reset = 0, "
                      "so NIR consumers will run this reservoir with reset to zero", stacklevel=2)
    p = write_graph(reservoir_graph(lsm, dt), path, force)
    return ExportResult(p, cfg.modality, cfg.n_inputs, cfg.n_neurons, cfg.reset,
                        cfg.weights.source)
