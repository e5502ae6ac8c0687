"""Event data for the LSM: real N-MNIST / N-TIDIGITS18 read offline through tonic, built-in
stand-ins, binning to the paper's frames, and cross-modal pairing.

Data root layout (one folder, default ``data_cache/`` for the CLI)::

    <root>/NMNIST/Train|Test/<digit>/<id>.bin      real N-MNIST (or <root>/NMNIST/train.zip, test.zip)
    <root>/NTIDIGITS18/n-tidigits.hdf5             real N-TIDIGITS18
    <root>/digits-dvs/MANIFEST.json                built-in N-MNIST stand-in ...
    <root>/digits-dvs/NMNIST/Train|Test/<digit>/<id>.bin     ... a tonic root of its own
    <root>/spoken-digits/MANIFEST.json             built-in N-TIDIGITS stand-in ...
    <root>/spoken-digits/NTIDIGITS18/n-tidigits.hdf5         ... a tonic root of its own
    <dataset root>/.binned/<name>-<split>-<key>.npz          binned-frame caches

A stand-in folder without ``MANIFEST.json`` is an interrupted build and is never read.

Datasets: ``nmnist`` and ``digits-dvs`` (modality ``image``: frames [n, 50, 256]),
``ntidigits`` and ``spoken-digits`` (modality ``audio``: frames [n, 129, 64]).

Public API::

    load_split(dataset, split, data_root, binning=None, label_map="paper") -> BinnedSplit
    ensure_builtin(data_root, per_class_train=150, per_class_test=50, seed=0) -> Path
    build_builtin(data_root, config=None, force=False) -> dict
    make_pairs(image_train, audio_train, image_test, audio_test, config=None, seed=0)
        -> CrossModalPairs
    data_info(data_root) -> dict
    plot_class_examples(split, path)

Heavy imports (tonic pulls in torch) happen only when data are actually read.
"""

from __future__ import annotations

from rram_lsm.data.builtin import BUILTIN_NAMES, DataWarning, build_builtin, ensure_builtin
from rram_lsm.data.config import (
    AudioBinning,
    BinningConfig,
    BuiltinConfig,
    DataConfig,
    DigitsDVSConfig,
    ImageBinning,
    PairingConfig,
    SpokenDigitsConfig,
    load_data_config,
)
from rram_lsm.data.info import data_info
from rram_lsm.data.labels import LABEL_MAPS, audio_class_names
from rram_lsm.data.loaders import DATASETS, BinnedSplit, load_split
from rram_lsm.data.pairs import CrossModalPairs, PairedSplit, make_pairs

DEFAULT_DATA_ROOT = "data_cache"


def plot_class_examples(*args, **kwargs):
    """See `rram_lsm.data.figures.plot_class_examples` (imports matplotlib on first use)."""
    from rram_lsm.data.figures import plot_class_examples as _plot

    return _plot(*args, **kwargs)


__all__ = [
    "AudioBinning",
    "BUILTIN_NAMES",
    "BinnedSplit",
    "BinningConfig",
    "BuiltinConfig",
    "CrossModalPairs",
    "DATASETS",
    "DEFAULT_DATA_ROOT",
    "DataConfig",
    "DataWarning",
    "DigitsDVSConfig",
    "ImageBinning",
    "LABEL_MAPS",
    "PairedSplit",
    "PairingConfig",
    "SpokenDigitsConfig",
    "audio_class_names",
    "build_builtin",
    "data_info",
    "ensure_builtin",
    "load_data_config",
    "load_split",
    "make_pairs",
    "plot_class_examples",
]
