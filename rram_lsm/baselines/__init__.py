"""The paper's trainable baselines: spiking RNN encoders trained end to end (SRNN-CLIP, SRNN
classifier) and a conventional RNN classifier."""

from rram_lsm.baselines.classifier import ClassifierConfig, train_classifier
from rram_lsm.baselines.srnn import SpikingRNN, SRNNDual

__all__ = ["ClassifierConfig", "SRNNDual", "SpikingRNN", "train_classifier"]
