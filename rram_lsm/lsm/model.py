"""`LiquidStateMachine`: the reservoir encoder over a weight source and an engine.

Usage::

    lsm = LiquidStateMachine(LSMConfig.for_modality("image"), seed=10)
    lsm.calibrate(train_frames)              # fixes the ADC ranges (macro/measured sources)
    enc = lsm.encode(train_frames, batch_size=1024)
    enc.features                             # [n, F] float32
    enc.firing_stats()                       # mean rate, silent / saturated fractions
    enc.ledger                               # energy / operation counts of the analog MVMs

ADC calibration (sources ``macro`` / ``measured`` with ``analog.adc``): the full scale of each
tile's ADC is fixed before the run. `calibrate` runs the reservoir with ideal arithmetic on the
first ``analog.calibration_samples`` samples (weights at calibration time, i.e. before drift),
records every step's column currents ``v_read * [x[t]; s[t-1]] . W_tile`` and applies the
preset's range rule (`crossbar.readchain.adc_full_scale_ua`, shared with `crossbar.macro`:
``percentile``: that percentile of |current|; ``max``, ``fixed``). The result is an immutable
`crossbar.periphery.AdcCalibration` on the LSM (`LiquidStateMachine.adc_calibration`),
replaced by every `calibrate`; the synapses and their tiles hold no ADC state. If `encode`
finds the ADCs uncalibrated it calibrates on the first samples of the data it was given.
Calibration passes are not booked in the ledger.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass, field

import numpy as np

from crossbar.ledger import Ledger
from crossbar.macro import book_mvm_totals
from crossbar.periphery import AdcCalibration
from crossbar.readchain import adc_full_scale_ua
from crossbar.rng import NORMAL_TABLE, NORMAL_TABLE_4096, draw_seed
from rram_lsm.errors import InputError
from rram_lsm.lsm import kernels as K
from rram_lsm.lsm.config import LSMConfig, lsm_config_from_dict
from rram_lsm.lsm.features import assemble_features, firing_stats
from rram_lsm.lsm.synapses import Synapses, build_synapses

_TABLES = {np.dtype(np.float64): NORMAL_TABLE,  # per-cell noise (lif_encode_percell)
           np.dtype(np.float32): NORMAL_TABLE.astype(np.float32)}
_SHORT_TABLES = {np.dtype(np.float64): NORMAL_TABLE_4096,  # output noise (lif_encode)
                 np.dtype(np.float32): NORMAL_TABLE_4096.astype(np.float32)}


@dataclass
class Encoding:
    """Result of `LiquidStateMachine.encode` for n samples.

    features: [n, F] float32 (columns as in ``layout``); rates: [n, N] float32 mean firing rate
    per neuron (spikes per step); window_counts: [n, K, N] int32 spike counts per window (K = 1
    unless the ``windows`` feature is on); final_mem: [n, N] in the config's dtype; raster: [n, T, N] uint8
    when requested (else None); ledger: `crossbar.ledger.Ledger.report` of this encode's analog
    MVMs (empty for the ideal ``gaussian`` source).
    """

    features: np.ndarray
    rates: np.ndarray
    window_counts: np.ndarray
    final_mem: np.ndarray
    layout: list[tuple[str, int]]
    n_steps: int
    engine: str
    seconds: float
    ledger: dict = field(default_factory=dict)
    raster: np.ndarray | None = None

    def firing_stats(self) -> dict[str, float]:
        return firing_stats(self.rates)

    @property
    def energy_per_sample_j(self) -> float:
        n = len(self.features)
        return float(self.ledger.get("total_energy_j", 0.0)) / n if n else 0.0


def check_frames(frames: np.ndarray, n_inputs: int, n_steps: int | None) -> np.ndarray:
    """Validate binary frames [B, T, n_inputs]; returns a C-contiguous uint8 array of 0/1
    (integer or bool input: nonzero = 1)."""
    a = np.asarray(frames)
    if a.ndim != 3:
        raise InputError(f"frames must have shape [n_samples, T, n_inputs], got {a.shape}")
    if a.shape[2] != n_inputs:
        raise InputError(f"frames have {a.shape[2]} inputs; the LSM config has "
                         f"n_inputs = {n_inputs}")
    if n_steps is not None and a.shape[1] != n_steps:
        raise InputError(f"frames have T = {a.shape[1]} steps; the LSM config has "
                         f"n_steps = {n_steps}")
    if a.dtype != np.uint8:
        if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
            a = (a != 0).astype(np.uint8)
        else:
            raise InputError(f"frames must be binary integers (uint8), got dtype {a.dtype}")
    elif a.size and a.max() > 1:  # any nonzero count is one event
        a = (a != 0).astype(np.uint8)
    return np.ascontiguousarray(a)


class LiquidStateMachine:
    """A fixed random LIF reservoir whose weights come from ``config.weights``.

    Args:
        config: an `LSMConfig` (or a mapping validated into one).
        seed: overrides ``config.seed`` (Gaussian weights, the default die, the noise streams).
        synapses: reuse prebuilt synapses (e.g. from another LSM) instead of building them.
    """

    def __init__(self, config: LSMConfig | dict | None = None, seed: int | None = None, *,
                 synapses: Synapses | None = None) -> None:
        if config is None:
            config = LSMConfig()
        elif isinstance(config, dict):
            config = lsm_config_from_dict(config)
        if seed is not None and seed != config.seed:
            config = config.replace(seed=int(seed))
        self.config: LSMConfig = config
        self.synapses: Synapses = synapses if synapses is not None else build_synapses(config)
        self.ledger = Ledger()  # all encodes of this object
        self.calibration: dict = {}  # summary of `adc_calibration` (for reports)
        self.adc_calibration: AdcCalibration | None = None  # replaced by `calibrate`

    # --- properties -------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def w_in(self) -> np.ndarray:
        """[n_inputs, N] input weights in uS (inference time)."""
        return self.synapses.w_in

    @property
    def w_rec(self) -> np.ndarray:
        """[N, N] recurrent weights in uS; row j: synapses from neuron j."""
        return self.synapses.w_rec

    @property
    def macro(self):
        return self.synapses.macro

    @property
    def consts(self) -> np.ndarray:
        c = self.config
        return np.array([c.const, c.const_rec] if c.separate_constants else [c.const])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.config.dtype)

    def with_constant(self, const: float, const_rec: float | None = None) -> LiquidStateMachine:
        """A copy with other constants sharing the same weights (ADC ranges recalibrated)."""
        cfg = self.config.replace(const=float(const),
                                  const_rec=None if const_rec is None else float(const_rec))
        if cfg.separate_constants != self.config.separate_constants:
            raise InputError("with_constant cannot switch between one and two constants "
                             "(the layout differs); build a new LiquidStateMachine")
        # tiles are immutable and the ADC calibration lives on the LSM: a shallow copy of the
        # synapses (their own flags) with no calibration
        return LiquidStateMachine(cfg, synapses=copy.copy(self.synapses))

    # --- calibration ------------------------------------------------------------------------
    def calibrate(self, frames: np.ndarray) -> list[float]:
        """Fix each tile's ADC full scale (uA) from ideal runs on ``frames`` (see module doc)."""
        syn = self.synapses
        if syn.ideal or not syn.adc:
            return []
        cfg = self.config
        spec = syn.spec
        frames = check_frames(frames, cfg.n_inputs, cfg.n_steps)
        frames = frames[: cfg.analog.calibration_samples]
        p = spec.periphery
        v = spec.read.v_read
        z = None
        if p.adc_range_rule == "percentile":
            _, _, raster, _ = self._run(frames, w=syn.w_cal, noise="off", ideal_adc=True,
                                        record=True, n_windows=1, dtype=np.float64,
                                        engine="numba")
            s_prev = np.zeros_like(raster)
            s_prev[:, 1:] = raster[:, :-1]
            z = np.concatenate([frames, s_prev], axis=2).astype(np.float64)

        def ideal_ua(t) -> np.ndarray:
            # one 2-D GEMM over all (sample, step) rows: a stacked 3-D matmul runs as many
            # small BLAS calls whose threads fight numba's on a 2-core machine
            zt = np.ascontiguousarray(z[:, :, t.in_lo:t.in_hi]).reshape(-1, t.n_rows)
            return v * (zt @ syn.w_cal[t.in_lo:t.in_hi, t.out_lo:t.out_hi])

        ranges = tuple(adc_full_scale_ua(spec, t.n_rows, functools.partial(ideal_ua, t))
                       for t in syn.tiles)
        self.adc_calibration = AdcCalibration(ranges, p.adc_bits, signed=True,
                                              rule=p.adc_range_rule, samples=int(len(frames)))
        self.calibration = {"rule": p.adc_range_rule, "samples": int(len(frames)),
                            "ranges_ua": list(ranges), "bits": p.adc_bits}
        return list(ranges)

    @property
    def calibrated(self) -> bool:
        """True when the engines can run: no ADC, or its ranges are calibrated."""
        syn = self.synapses
        return syn.ideal or not syn.adc or self.adc_calibration is not None

    # --- running ------------------------------------------------------------------------------
    def noise_seed(self, noise_key: int = 0) -> int:
        """Stream seed of the read noise for ``noise_key`` (e.g. one per data split)."""
        return draw_seed(np.random.default_rng([self.config.seed, 0x4E015E, int(noise_key)]))

    def _run(self, frames, *, w=None, noise=None, ideal_adc=False, record=False, n_windows=1,
             dtype=None, engine=None, sample_offset=0, seed=0, device=None):
        """One engine call on a batch; returns (counts, mem, raster, ledger counts)."""
        syn, cfg = self.synapses, self.config
        dt = np.dtype(dtype or cfg.dtype)
        engine = engine or cfg.engine
        noise = ("off" if syn.ideal else syn.noise) if noise is None else noise
        w = syn.w if w is None else w
        cal = self.adc_calibration
        n_t = len(syn.tiles)
        use_adc = syn.adc and not syn.ideal and not ideal_adc and cal is not None
        tiles = K.TileParams(syn.tile_table(), cal.lsb_ua if use_adc else np.zeros(n_t),
                             cal.code_max if cal is not None else np.zeros(n_t), syn.tile_rohm,
                             syn.row_g, self.consts.astype(dt))
        v_read = 1.0 if syn.ideal else syn.spec.read.v_read
        lif = K.lif_params(dt, cfg.decay, cfg.v_th, v_read, cfg.reset == "zero")
        if noise == "percell":
            sp, sm = syn.sigmas
            arrays = {"gp": syn.gp.astype(dt), "gm": syn.gm.astype(dt), "sp": sp.astype(dt),
                      "sm": sm.astype(dt)}
        else:
            arrays = {"w": np.ascontiguousarray(w, dtype=dt)}
            arrays["s2"] = np.ascontiguousarray(syn.s2 if noise == "output" else
                                                np.zeros((1, 1)), dtype=dt)
        if engine == "numba":
            if noise == "percell":
                def make(fr, off):
                    return (fr, arrays["gp"], arrays["gm"], arrays["sp"], arrays["sm"], tiles,
                            lif, np.uint64(seed), int(off), _TABLES[dt], int(n_windows),
                            bool(record))

                return K.run_threaded(K.lif_encode_percell, frames, sample_offset, make)
            s2 = arrays["s2"] if noise == "output" else np.zeros_like(arrays["w"][:1])

            def make(fr, off):
                return (fr, arrays["w"], s2, tiles, lif, noise == "output", np.uint64(seed),
                        int(off), _SHORT_TABLES[dt], int(n_windows), bool(record))

            return K.run_threaded(K.lif_encode, frames, sample_offset, make)
        # the torch engine and the reference: the same parameters in the same order
        args = (frames, tiles, lif, noise, seed, int(sample_offset), int(n_windows), bool(record))
        weights = {k: arrays.get(k) for k in ("w", "s2", "gp", "gm", "sp", "sm")}
        if engine == "torch":
            from rram_lsm.lsm.torch_engine import lif_encode_torch

            return lif_encode_torch(*args, device=device or cfg.device, **weights)
        if engine == "reference":
            from rram_lsm.lsm.reference import lif_encode_ref

            return lif_encode_ref(*args, **weights)
        raise InputError(f"unknown engine '{engine}' (numba, torch, reference)")

    def encode(self, frames: np.ndarray, batch_size: int = 1024, *, engine: str | None = None,
               device: str | None = None, sample_offset: int = 0, noise_key: int = 0,
               record_raster: bool = False, progress: bool = False) -> Encoding:
        """Encode binary frames [n, T, n_inputs] into features.

        Args:
            batch_size: samples per engine call (results do not depend on it).
            engine / device: override the config's.
            sample_offset: global index of frames[0] (keys the read noise, so that encoding a
                split in pieces gives the same result as in one go).
            noise_key: selects an independent noise stream (e.g. one per split).
            record_raster: also return the full raster [n, T, N] (memory: n*T*N bytes).
            progress: show a tqdm progress bar.
        """
        cfg, syn = self.config, self.synapses
        frames = check_frames(frames, cfg.n_inputs, cfg.n_steps)
        b_n, t_n, _ = frames.shape
        n_windows = cfg.n_windows if "windows" in cfg.features else 1
        if n_windows > t_n:
            raise InputError(f"n_windows ({n_windows}) exceeds the number of steps ({t_n})")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        engine = engine or cfg.engine
        if not self.calibrated and b_n:
            self.calibrate(frames)
        seed = self.noise_seed(noise_key)
        counts = np.zeros((b_n, n_windows, cfg.n_neurons), np.int32)
        mem = np.zeros((b_n, cfg.n_neurons), self.dtype)
        raster = np.zeros((b_n, t_n, cfg.n_neurons), np.uint8) if record_raster else None
        led = np.zeros((len(syn.tiles), 2))
        ledger = Ledger()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=b_n, unit="sample", desc="LSM encode")
        t0 = time.perf_counter()
        for b0 in range(0, b_n, batch_size):
            b1 = min(b_n, b0 + batch_size)
            c, m, r, lg = self._run(frames[b0:b1], record=record_raster, n_windows=n_windows,
                                    engine=engine, sample_offset=sample_offset + b0, seed=seed,
                                    device=device)
            counts[b0:b1] = c
            mem[b0:b1] = m
            if record_raster:
                raster[b0:b1] = r
            led += lg.sum(axis=0)
            if bar is not None:
                bar.update(b1 - b0)
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        if not syn.ideal and b_n:
            self._book(ledger, led, b_n, t_n)
            self.ledger.merge(ledger)
            if syn.macro is not None:
                syn.macro.ledger.merge(ledger)
        feats, layout = assemble_features(cfg.features, counts, mem, t_n)
        rates = (counts.sum(axis=1, dtype=np.float64) / t_n).astype(np.float32)
        return Encoding(features=feats, rates=rates, window_counts=counts, final_mem=mem,
                        layout=layout, n_steps=t_n, engine=engine, seconds=seconds,
                        ledger=ledger.report() if not syn.ideal else {}, raster=raster)

    def _book(self, ledger: Ledger, led: np.ndarray, b_n: int, t_n: int) -> None:
        """Book every tile's MVMs: T calls of b_n vectors each (counts from the kernel)."""
        syn = self.synapses
        for k, t in enumerate(syn.tiles):
            book_mvm_totals(syn.spec, ledger, vectors=b_n * t_n, active_rows=int(led[k, 0]),
                            x2_row_g_us=float(led[k, 1]), n_cols=2 * t.n_outputs,
                            n_out=t.n_outputs, adc_used=syn.adc, calls=t_n)

    def raster(self, frames: np.ndarray, index: int = 0, noise_key: int = 0) -> np.ndarray:
        """Spike raster [T, N] (uint8) of sample ``index`` of ``frames`` (same noise as in
        `encode` of the same frames)."""
        frames = check_frames(frames, self.config.n_inputs, self.config.n_steps)
        if not (0 <= index < len(frames)):
            raise InputError(f"sample index {index} outside 0..{len(frames) - 1}")
        if not self.calibrated:
            self.calibrate(frames)
        _, _, r, _ = self._run(frames[index:index + 1], record=True, sample_offset=index,
                               seed=self.noise_seed(noise_key))
        return r[0]
