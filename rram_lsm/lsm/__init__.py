"""The liquid state machine: a fixed random LIF reservoir on the RRAM macro.

Update (per sample; ``x[t]`` binary inputs [n_in], ``s[t]`` spikes [N], weights in uS)::

    I[t] = const * (W_in^T x[t] + W_rec^T s[t-1])         (each product an analog MVM)
    u[t] = decay * u[t-1] * (1 - s[t-1]) + I[t]            (reset="zero", the paper)
    u[t] = decay * u[t-1] + I[t] - v_th * s[t-1]           (reset="subtract", snnTorch Leaky)
    s[t] = u[t] > v_th

Public API::

    LSMConfig, WeightsConfig, AnalogConfig, load_lsm_config(path), lsm_config_from_dict(d)
    MODALITY_DEFAULTS (rram_lsm.lsm.defaults: the one table of per-modality defaults)
    encode_cached(config, frames, labels, calibration=..., split=..., cache_dir=...)
    encode_dataset(config, dataset, split, data_root, cache_dir=...)
        -> CachedSplit (the feature cache of `rram-lsm encode` and `rram-lsm run`)
    LiquidStateMachine(config, seed) -> .calibrate(frames), .encode(frames, batch_size)
        -> Encoding(features, rates, window_counts, final_mem, ledger, ...), .raster(frames, i)
    tune_constant(config_or_lsm, frames, labels=None, method="rate"|"probe") -> TuneResult
    firing_stats(rates), plot_raster(raster, path)
    build_synapses(config) -> Synapses (weights and their layout on the macro)

Engines (``config.engine``): ``numba`` (event-driven, parallel over the batch, default),
``torch`` (dense batched tensors, CPU or CUDA), ``reference`` (plain numpy, for tests).
"""

from rram_lsm.lsm.cache import (
    DEFAULT_CACHE_DIR,
    CachedEncoder,
    CachedSplit,
    encode_cached,
    encode_dataset,
)
from rram_lsm.lsm.config import (
    AnalogConfig,
    LSMConfig,
    WeightsConfig,
    load_lsm_config,
    lsm_config_from_dict,
    read_lsm_file,
)
from rram_lsm.lsm.defaults import MODALITY_DEFAULTS
from rram_lsm.lsm.features import firing_stats, plot_raster
from rram_lsm.lsm.model import Encoding, LiquidStateMachine
from rram_lsm.lsm.synapses import Synapses, build_synapses, gaussian_statistics
from rram_lsm.lsm.tuning import TuneResult, tune_constant

__all__ = [
    "DEFAULT_CACHE_DIR", "MODALITY_DEFAULTS", "AnalogConfig", "CachedEncoder", "CachedSplit",
    "Encoding", "LSMConfig", "LiquidStateMachine", "Synapses", "TuneResult", "WeightsConfig",
    "build_synapses", "encode_cached", "encode_dataset", "firing_stats", "gaussian_statistics",
    "load_lsm_config", "lsm_config_from_dict", "plot_raster", "read_lsm_file", "tune_constant",
]
