"""The reservoir's synapses: weights from a source, laid out on the macro as tiles.

Logical layout: one matrix ``W`` [R, N] (uS) with ``R = n_in + N`` rows -- ``W_in`` (input rows
``0..n_in-1``) above ``W_rec`` (rows ``n_in..R-1``) -- so that one step's synaptic input is
``W^T [x[t]; s[t-1]]``.

Physical layout (sources ``macro`` / ``measured``): signed weights are differential pairs
G+ - G- placed by `crossbar.layout.plan_stacked` (the planner of
`crossbar.DifferentialMatrix`). With one shared constant, W_in and W_rec sit on
the same columns of one array (rows 0..R-1; 256 + 200 = 456 rows <= 512 and 200 pairs = 400
columns <= 512 for the paper's image encoder), so a step is a single analog MVM over the
concatenated input with one ADC conversion per neuron. With separate constants the two row
groups are read in two MVMs (two ADC conversions per neuron and step). When W does not fit one
array it is tiled over several (each tile has its own ADC range; row tiles are added digitally
after their ADCs, as `DifferentialMatrix.mvm` does).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from crossbar import Macro, MacroSpec, load_preset
from crossbar.device import read_sigma
from crossbar.layout import StackedLayout, Tile, gather_pairs, plan_stacked
from crossbar.readchain import wire_resistance_ohm
from rram_lsm.errors import ConfigError
from rram_lsm.lsm.config import LSMConfig
from rram_lsm.lsm.measured import embed_map, load_conductance_map


@dataclass
class Synapses:
    """Weights and their layout, ready for the engines.

    ``w`` [R, N] are the weights used at inference (drift included), ``w_cal`` those at ADC
    calibration time. For the ``gaussian`` source ``ideal`` is True and there is no macro.
    """

    n_in: int
    n: int
    w: np.ndarray
    w_cal: np.ndarray
    tiles: tuple[Tile, ...]
    ideal: bool
    noise: str = "off"  # "off" | "output" | "percell"
    adc: bool = False
    gp: np.ndarray | None = None
    gm: np.ndarray | None = None
    macro: Macro | None = None
    spec: MacroSpec | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return 1 + max(t.group for t in self.tiles)

    @property
    def w_in(self) -> np.ndarray:
        """Input weights [n_in, N] (uS)."""
        return self.w[: self.n_in]

    @property
    def w_rec(self) -> np.ndarray:
        """Recurrent weights [N, N] (uS); row j holds the synapses from neuron j."""
        return self.w[self.n_in:]

    @functools.cached_property
    def s2(self) -> np.ndarray:
        """sigma+^2 + sigma-^2 per weight (uS^2), the output-referred noise variance.

        Stored rounded to half precision (relative error <= 2^-11, i.e. <= 0.025 % on a cell's
        noise std) when it fits the half range: the numba engine then streams it at half the
        bytes, and every engine reads the same values.
        """
        if self.ideal:
            return np.zeros_like(self.w)
        s2 = read_sigma(self.spec, self.gp) ** 2 + read_sigma(self.spec, self.gm) ** 2
        return round_to_half(s2)

    @functools.cached_property
    def sigmas(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-read noise std of the G+ and G- cells (uS), [R, N] each."""
        if self.ideal:
            return np.zeros_like(self.w), np.zeros_like(self.w)
        return read_sigma(self.spec, self.gp), read_sigma(self.spec, self.gm)

    @functools.cached_property
    def row_g(self) -> np.ndarray:
        """[n_tiles, R]: summed G+ + G- of each row over a tile's columns (uS), for the ledger."""
        out = np.zeros((len(self.tiles), self.w.shape[0]))
        if self.ideal:
            return out
        g = self.gp + self.gm
        for k, t in enumerate(self.tiles):
            out[k, t.in_lo:t.in_hi] = g[t.in_lo:t.in_hi, t.out_lo:t.out_hi].sum(axis=1)
        return out

    def tile_table(self) -> np.ndarray:
        """[n_tiles, 5] int64 rows (in_lo, in_hi, out_lo, out_hi, group) for the kernels."""
        return np.array([[t.in_lo, t.in_hi, t.out_lo, t.out_hi, t.group] for t in self.tiles],
                        np.int64)

    @functools.cached_property
    def tile_rohm(self) -> np.ndarray:
        """[n_tiles] lumped wire resistance (ohm) of each tile for the first-order IR drop
        (zeros when the preset's IR drop is off, or for ideal weights)."""
        if self.ideal or not self.spec.periphery.ir_drop:
            return np.zeros(len(self.tiles))
        r_wire = self.spec.periphery.r_wire_ohm
        return np.array([wire_resistance_ohm(r_wire, t.n_rows, t.n_outputs) for t in self.tiles],
                        np.float64)


# --- sources -----------------------------------------------------------------------------------


def round_to_half(a: np.ndarray) -> np.ndarray:
    """``a`` (float64) rounded to the nearest half-precision values, if all of them lie in the
    normal half range (6.1e-5 .. 65504, or 0); otherwise ``a`` unchanged."""
    a = np.asarray(a, np.float64)
    mag = np.abs(a[a != 0])
    if mag.size and (mag.min() < 2.0**-14 or mag.max() > 65504.0):
        return a
    return a.astype(np.float16).astype(np.float64)


def resolve_spec(config: LSMConfig) -> MacroSpec:
    """The macro preset of ``config.weights`` with the ``analog`` overrides applied."""
    spec = load_preset(config.weights.preset)  # a name, or a path to a YAML file
    a = config.analog
    over: dict = {}
    if not a.faults:
        over["faults"] = {"stuck_low_rate": 0.0, "stuck_high_rate": 0.0}
    per = {}
    if a.adc_bits is not None:
        per["adc_bits"] = a.adc_bits
    if a.adc_percentile is not None:
        per["adc_percentile"] = a.adc_percentile
    if a.ir_drop:
        per["ir_drop"] = True
    if per:
        over["periphery"] = per
    return spec.with_overrides(**over) if over else spec


def plan_layout(spec: MacroSpec, n_in: int, n: int, separate: bool) -> StackedLayout:
    """Tiles of the stacked matrix [n_in + N, N] on the preset's arrays
    (`crossbar.layout.plan_stacked`)."""
    if spec.geometry.cols // 2 < 1:
        raise ConfigError(f"preset '{spec.name}' has fewer than 2 columns; no differential pair")
    return plan_stacked(spec.geometry.rows, spec.geometry.cols, n_in, n, separate)


def _macro_synapses(config: LSMConfig, macro: Macro, spec: MacroSpec,
                    layout: StackedLayout) -> Synapses:
    n_in, n = config.n_inputs, config.n_neurons
    r_tot = n_in + n
    gp, gm = gather_pairs(macro.g_us, layout.tiles, r_tot, n)
    w_cal = gp - gm
    a = config.analog
    if a.drift_s > 0:
        macro.advance(a.drift_s)
        gp, gm = gather_pairs(macro.g_us, layout.tiles, r_tot, n)
    info = {"n_arrays": macro.n_arrays, "n_tiles": len(layout.tiles),
            "formed_fraction": float(np.mean(macro.formed_mask())),
            "weight_mean_us": float((gp - gm).mean()), "weight_std_us": float((gp - gm).std())}
    return Synapses(n_in, n, gp - gm, w_cal, layout.tiles, ideal=False, noise=a.noise,
                    adc=a.adc, gp=gp, gm=gm, macro=macro, spec=spec, info=info)


def _form_macro(config: LSMConfig, spec: MacroSpec, n_arrays: int, seed: int) -> Macro:
    macro = Macro(spec, n_arrays=n_arrays, seed=seed)
    v = spec.forming.v_default if config.weights.form_voltage is None \
        else config.weights.form_voltage
    macro.form(v)
    return macro


@functools.lru_cache(maxsize=16)
def _fitted_gaussian(spec_json: str, form_voltage: float | None, seed: int,
                     n_arrays: int) -> tuple[float, float]:
    spec = MacroSpec.model_validate_json(spec_json)
    macro = Macro(spec, n_arrays=n_arrays, seed=seed)
    macro.form(spec.forming.v_default if form_voltage is None else form_voltage)
    g = macro.g_us
    w = g[:, :, 0::2] - g[:, :, 1::2]
    return float(w.mean()), float(w.std())


def gaussian_statistics(config: LSMConfig, spec: MacroSpec | None = None) -> tuple[float, float]:
    """(mean, std) in uS of the Gaussian twin: from the config, or fitted to the differential
    weights of all pairs of a macro formed with the configured preset, voltage and seed."""
    wc = config.weights
    if wc.gaussian_mean_us is not None and wc.gaussian_std_us is not None:
        return wc.gaussian_mean_us, wc.gaussian_std_us
    spec = spec or resolve_spec(config)
    n_arrays = plan_layout(spec, config.n_inputs, config.n_neurons,
                           config.separate_constants).n_arrays
    seed = config.seed if wc.macro_seed is None else wc.macro_seed
    mean, std = _fitted_gaussian(spec.model_dump_json(), wc.form_voltage, seed, n_arrays)
    if wc.gaussian_mean_us is not None:
        mean = wc.gaussian_mean_us
    if wc.gaussian_std_us is not None:
        std = wc.gaussian_std_us
    return mean, std


def build_synapses(config: LSMConfig, seed: int | None = None) -> Synapses:
    """Weights and layout of ``config`` (``seed`` overrides ``config.seed``)."""
    seed = config.seed if seed is None else seed
    n_in, n = config.n_inputs, config.n_neurons
    wc = config.weights
    die_seed = seed if wc.macro_seed is None else wc.macro_seed
    if wc.source == "gaussian":
        mean, std = gaussian_statistics(config.replace(seed=seed))
        rng = np.random.default_rng([seed, 0x6A55])
        w = rng.normal(mean, std, size=(n_in + n, n))
        # no chip: the tiles of one array large enough for the whole matrix
        tiles = plan_stacked(n_in + n, 2 * n, n_in, n, config.separate_constants).tiles
        return Synapses(n_in, n, w, w, tiles, ideal=True,
                        info={"gaussian_mean_us": mean, "gaussian_std_us": std})
    spec = resolve_spec(config)
    layout = plan_layout(spec, n_in, n, config.separate_constants)
    if wc.source == "macro":
        macro = _form_macro(config, spec, layout.n_arrays, die_seed)
    else:
        g = load_conductance_map(wc.path, spec)
        g = embed_map(g, spec, layout.n_arrays, n_in + n, n)
        macro = Macro.from_conductances(spec, g, seed=die_seed)
    syn = _macro_synapses(config, macro, spec, layout)
    syn.info["source"] = wc.source
    return syn
