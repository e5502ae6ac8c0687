"""Trainable digital heads on frozen LSM features: projection heads, contrastive losses,
cross-modal retrieval, linear probes and the paper's trainable baselines."""

from rram_lsm.heads.losses import LOSSES, contrastive_loss
from rram_lsm.heads.models import DualProjection, ProjectionHead
from rram_lsm.heads.retrieval import retrieval_topk
from rram_lsm.heads.train import HeadConfig, TrainResult, train_heads

__all__ = [
    "LOSSES", "DualProjection", "HeadConfig", "ProjectionHead", "TrainResult", "contrastive_loss",
    "retrieval_topk", "train_heads",
]
