"""Run a NIR network (`rram_lsm.nir.graph.NirNetwork`) with the LSM engine, layer by layer.

Each layer is a `rram_lsm.lsm.LiquidStateMachine` over prebuilt synapses (reset to zero, one
decay, one threshold): ideal arithmetic, or its weights programmed onto a preset's macro
(`rram_lsm.nir.mapping`) and read with read noise, ADC and the energy ledger by the numba
engine. A bias is an extra input row driven at every step. Layer k's spike raster is layer
k + 1's binary input, so a multi-layer graph runs as a chain of reservoirs (each layer's whole
time series before the next: the same result as stepping them together, since no layer feeds an
earlier one). With the ADC on, each layer's ADC ranges are calibrated (the preset's rule, as
`LiquidStateMachine.calibrate`) on the first ``calibration_samples`` of that layer's inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from crossbar import load_preset
from rram_lsm.lsm.config import LSMConfig
from rram_lsm.lsm.model import LiquidStateMachine, check_frames
from rram_lsm.nir.graph import NirLayer, NirNetwork
from rram_lsm.nir.mapping import MappingReport, ideal_synapses, macro_synapses


@dataclass
class NirRun:
    """Spike rasters [B, T, N_k] (uint8) of every layer, the mapping of each layer (empty when
    ideal), the energy and operation ledger of the analog MVMs (summed over layers)."""

    rasters: list[np.ndarray]
    mapping: list[MappingReport]
    energy_j: float
    ledger: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def output(self) -> np.ndarray:
        """Spikes of the last layer [B, T, N]."""
        return self.rasters[-1]

    @property
    def n_arrays(self) -> int:
        return sum(m.n_arrays for m in self.mapping)


def _stacked(layer: NirLayer) -> tuple[np.ndarray, int]:
    """[W_in; bias row; W_rec or zeros] and the number of input rows (bias included)."""
    blocks = [layer.w_in]
    if layer.bias is not None:
        blocks.append(layer.bias[None, :])
    n_in = sum(b.shape[0] for b in blocks)
    blocks.append(layer.w_rec if layer.w_rec is not None else np.zeros((layer.n, layer.n)))
    return np.ascontiguousarray(np.concatenate(blocks, axis=0), np.float64), n_in


def layer_lsm(layer: NirLayer, *, preset: str | None = None, noise: str = "output",
              adc: bool = True, levels: int | None = None, clip_percentile: float | None = None,
              dtype: str = "float64", seed: int = 0, calibration_samples: int = 256
              ) -> tuple[LiquidStateMachine, MappingReport | None]:
    """The `LiquidStateMachine` of one layer: ideal (``preset`` None) or on a macro."""
    w, n_in = _stacked(layer)
    recurrent = layer.w_rec is not None
    if preset is None:
        syn, const, report = ideal_synapses(w, n_in, recurrent), 1.0, None
        weights = {"source": "gaussian"}
    else:
        spec = load_preset(preset)
        syn, const, report = macro_synapses(layer.name, w, n_in, spec, recurrent=recurrent,
                                            noise=noise, adc=adc, levels=levels,
                                            clip_percentile=clip_percentile, seed=seed)
        weights = {"source": "macro", "preset": preset}
    cfg = LSMConfig.from_dict({
        "modality": "custom", "n_inputs": n_in, "n_neurons": layer.n, "n_steps": None,
        "decay": layer.decay, "v_th": layer.v_th, "const": const, "reset": "zero",
        "features": ["rate"], "engine": "numba", "dtype": dtype, "seed": seed,
        "weights": weights,
        "analog": {"noise": noise, "adc": adc, "calibration_samples": calibration_samples}},
        source=f"NIR layer '{layer.name}'")
    return LiquidStateMachine(cfg, synapses=syn), report


def run_network(net: NirNetwork, frames: np.ndarray, *, preset: str | None = None,
                noise: str = "output", adc: bool = True, levels: int | None = None,
                clip_percentile: float | None = None, dtype: str = "float64", seed: int = 0,
                calibration_samples: int = 256, batch_size: int = 256) -> NirRun:
    """Run ``frames`` [B, T, n_inputs] (binary) through ``net``: ideal when ``preset`` is None,
    else on that preset's macro with ``noise`` ("output", "percell", "off") and ``adc``."""
    x = check_frames(frames, net.n_inputs, None)
    rasters, reports, ledgers = [], [], []
    energy = 0.0
    t0 = time.perf_counter()
    for k, layer in enumerate(net.layers):
        lsm, rep = layer_lsm(layer, preset=preset, noise=noise, adc=adc, levels=levels,
                             clip_percentile=clip_percentile, dtype=dtype, seed=seed + k,
                             calibration_samples=calibration_samples)
        if layer.bias is not None:
            x = np.concatenate([x, np.ones(x.shape[:2] + (1,), np.uint8)], axis=2)
        lsm.calibrate(x)
        enc = lsm.encode(x, batch_size=batch_size, record_raster=True)
        rasters.append(enc.raster)
        if rep is not None:
            reports.append(rep)
            ledgers.append({"layer": layer.name, **enc.ledger})
            energy += float(enc.ledger.get("total_energy_j", 0.0))
        x = enc.raster
    return NirRun(rasters, reports, energy, ledgers, time.perf_counter() - t0)


def spike_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of (sample, step, neuron) entries where two rasters agree."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"rasters differ in shape: {a.shape} vs {b.shape}")
    return float(np.mean((a != 0) == (b != 0))) if a.size else 1.0
