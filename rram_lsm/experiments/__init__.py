"""End-to-end experiments: zero-shot cross-modal retrieval, classification / linear probes,
baselines and costs, with reports (`rram-lsm run`)."""

from rram_lsm.experiments.config import ExperimentConfig, load_experiment_config

__all__ = ["ExperimentConfig", "load_experiment_config"]
