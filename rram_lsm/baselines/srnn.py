"""A trainable spiking recurrent network with the LSM's own neuron (surrogate gradients, BPTT).

Update (the same as the LSM, `rram_lsm.lsm`), per step t with input x[t] [B, n_in]::

    u[t] = decay * u[t-1] * (1 - s[t-1]) + const * (x[t] @ W_in + s[t-1] @ W_rec)
    s[t] = H(u[t] - Vth)

The Heaviside step gets the rectangular surrogate gradient of the reference code:
dS/du = 1 / (2 * lens) where |u - Vth| < lens (lens = 0.25), else 0. Unlike the LSM, W_in and
W_rec are trained. Output: mean firing rate per neuron [B, n].
"""

from __future__ import annotations

import torch
from torch import nn

from rram_lsm.heads.models import ProjectionHead


class _RectSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, lens):
        ctx.save_for_backward(u)
        ctx.lens = lens
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * (u.abs() < ctx.lens).to(grad.dtype) / (2 * ctx.lens), None


class SpikingRNN(nn.Module):
    """Trainable LIF recurrent layer: frames [B, T, n_in] -> rates [B, n]."""

    def __init__(self, n_in: int, n: int = 200, decay: float = 0.9, vth: float = 5.0,
                 const: float = 0.1, weight_std: float = 6.6, lens: float = 0.25) -> None:
        super().__init__()
        self.w_in = nn.Parameter(torch.randn(n_in, n) * weight_std)
        self.w_rec = nn.Parameter(torch.randn(n, n) * weight_std)
        self.decay, self.vth, self.const, self.lens = decay, vth, const, lens
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t_n, _ = x.shape
        x = x.to(self.w_in.dtype)
        drive = (x.reshape(b * t_n, -1) @ self.w_in).reshape(b, t_n, self.n)
        u = torch.zeros(b, self.n, dtype=self.w_in.dtype, device=x.device)
        s = torch.zeros_like(u)
        total = torch.zeros_like(u)
        for t in range(t_n):
            u = self.decay * u * (1 - s) + self.const * (drive[:, t] + s @ self.w_rec)
            s = _RectSpike.apply(u - self.vth, self.lens)
            total = total + s
        return total / t_n

    def macs_per_sample(self, t_n: int) -> int:
        """Multiply-accumulates of one forward pass (dense, as on a digital accelerator)."""
        return t_n * (self.w_in.shape[0] * self.n + self.n * self.n)


class SRNNDual(nn.Module):
    """SRNN-CLIP: a trainable spiking encoder + projection head per modality."""

    def __init__(self, audio: SpikingRNN, image: SpikingRNN, proj_dim: int = 64,
                 n_layers: int = 1, activation: str = "gelu", temperature: float = 1.0) -> None:
        super().__init__()
        self.audio_encoder, self.image_encoder = audio, image
        self.audio = nn.Sequential(audio, ProjectionHead(audio.n, proj_dim, n_layers, activation))
        self.image = nn.Sequential(image, ProjectionHead(image.n, proj_dim, n_layers, activation))
        self.register_buffer("log_temperature", torch.log(torch.tensor(float(temperature))))

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp()

    def forward(self, audio: torch.Tensor, image: torch.Tensor):
        return self.audio(audio), self.image(image)
