"""The one home of the LSM encoder's per-modality defaults (and of the feature-cache folder).

Everything else derives from this table: `LSMConfig` (its ``modality`` field picks the row that
fills every reservoir setting the caller leaves out), `LSMConfig.for_modality`,
`lsm_config_from_dict`, the experiment config's ``lsm.image`` / ``lsm.audio`` overrides, the
``rram-lsm encode`` CLI and ``configs/lsm/*.yaml`` (which only name a modality).

Reservoir sizes and dynamics follow the published encoders of the zero-shot LSM:

* image (N-MNIST-like events): 200 neurons, membrane decay 0.9, threshold 5.0;
* audio (N-TIDIGITS-like events): 200 neurons, membrane decay 0.97, threshold 5.3.

The number of inputs and of time steps are those of the data binning's defaults
(`rram_lsm.data.config.frame_shape`): image 16 x 16 = 256 pixels over T = 50 bins, audio 64
cochlea channels over T = 129 bins, so that an encoder and the frames it reads cannot disagree.

The weight constants ``const`` are ours. The published constants (0.07-0.3) scale software
weights of standard deviation 6.6; our weights are the macro's differential conductances in uS
(standard deviation ~78 uS at the preset's default forming voltage, ~50 % of the cells
formed), so the constants are about 12x smaller. Both were picked with
`rram_lsm.lsm.tuning.tune_constant` (seed 10, macro weights, built-in stand-in data) for a mean
firing rate of about 12 %, then checked with a linear probe on a held-out quarter of the
training split while scaling the constant by powers of two:

* image (digits-dvs, 512 samples to tune, 1,500 to probe): tuned 0.0081 (rate 0.123, no silent
  or saturated neuron). Probe accuracy 76.5 / 80.0 / 79.2 / 71.7 / 67.7 % at
  0.0019 / 0.0037 / 0.0074 / 0.0149 / 0.0297 (rates 0.8 / 4 / 11 / 21 / 29 %): 0.008 keeps
  the ~12 % rate on the flat top of that curve.
* audio (spoken-digits, 1,650 samples to probe): tuned 0.0097 (rate 0.122, 0.5 % silent, none
  saturated). Probe accuracy 76.0 / 79.7 / 84.5 / 76.8 / 69.7 % at
  0.0023 / 0.0046 / 0.0092 / 0.0185 / 0.037 (rates 2 / 5 / 11.5 / 24 / 32 %): 0.0095 sits
  at the optimum.
"""

from __future__ import annotations

from typing import Any

from rram_lsm.data.config import BinningConfig, DataConfig, frame_shape

DEFAULT_CACHE_DIR = ".rram_lsm_cache"
"""Folder (relative to the working directory) of cached LSM encodings, shared by
``rram-lsm encode`` and ``rram-lsm run``."""

_BINNING = BinningConfig()


def _frames(modality: str) -> dict[str, int]:
    n_steps, n_inputs = frame_shape(_BINNING, modality)
    return {"n_inputs": n_inputs, "n_steps": n_steps}


MODALITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {**_frames("image"), "n_neurons": 200, "decay": 0.9, "v_th": 5.0, "const": 0.008},
    "audio": {**_frames("audio"), "n_neurons": 200, "decay": 0.97, "v_th": 5.3, "const": 0.0095},
}
"""Reservoir settings of each named modality (keys are `LSMConfig` fields)."""

CUSTOM_DEFAULTS: dict[str, Any] = {**MODALITY_DEFAULTS["image"], "n_steps": None}
"""``modality: custom`` (the default): the image encoder's settings, with T taken from the
frames it is given."""

DEFAULT_DATASET: dict[str, str] = {"image": DataConfig().image_dataset,
                                   "audio": DataConfig().audio_dataset}
"""The dataset an encoder of each modality reads when none is named (the built-in stand-ins)."""


def modality_defaults(modality: object) -> dict[str, Any]:
    """The defaults row of ``modality`` (custom, and anything unknown, get `CUSTOM_DEFAULTS`;
    an unknown name is rejected later by `LSMConfig`'s own validation)."""
    if isinstance(modality, str) and modality in MODALITY_DEFAULTS:
        return dict(MODALITY_DEFAULTS[modality])
    return dict(CUSTOM_DEFAULTS)
