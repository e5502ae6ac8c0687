"""End-to-end experiments: zero-shot cross-modal retrieval, classification / linear probes,
baselines and costs, with reports (`rram-lsm run`).

`run` (config -> new run folder -> `ExperimentResults`) and `run_experiment` load lazily, on
first use, with the whole pipeline behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rram_lsm.experiments.config import ExperimentConfig, load_experiment_config
from rram_lsm.experiments.results import SCHEMA_VERSION, ExperimentResults, ResultsError

if TYPE_CHECKING:
    from rram_lsm.experiments.runner import run, run_experiment

__all__ = ["SCHEMA_VERSION", "ExperimentConfig", "ExperimentResults", "ResultsError",
           "load_experiment_config", "run", "run_experiment"]

_LAZY = {"run": "rram_lsm.experiments.runner", "run_experiment": "rram_lsm.experiments.runner"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
