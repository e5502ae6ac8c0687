"""Projection heads (digital, trained) that map each modality's LSM features to a shared space."""

from __future__ import annotations

import math

import torch
from torch import nn

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                "identity": nn.Identity}


class ProjectionHead(nn.Module):
    """``n_layers`` x (Linear -> activation), as the reference ``Contrastive_Simple`` (OneFC/TwoFC/
    ThreeFC) heads: [B, in_dim] -> [B, proj_dim]."""

    def __init__(self, in_dim: int, proj_dim: int = 64, n_layers: int = 1,
                 activation: str = "gelu") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(n_layers):
            layers += [nn.Linear(d, proj_dim), _ACTIVATIONS[activation]()]
            d = proj_dim
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DualProjection(nn.Module):
    """One head per modality plus the (fixed or learnable) temperature of the contrastive loss."""

    def __init__(self, audio_dim: int, image_dim: int, proj_dim: int = 64, n_layers: int = 1,
                 activation: str = "gelu", temperature: float = 1.0,
                 learn_temperature: bool = False) -> None:
        super().__init__()
        self.audio = ProjectionHead(audio_dim, proj_dim, n_layers, activation)
        self.image = ProjectionHead(image_dim, proj_dim, n_layers, activation)
        log_t = torch.tensor(math.log(temperature), dtype=torch.float32)
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp()

    def forward(self, audio: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.audio(audio), self.image(image)
