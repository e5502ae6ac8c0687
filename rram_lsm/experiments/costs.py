"""Training-cost and inference-energy accounting (the paper's 152.83x and 23.34x claims).

Training cost is counted in multiply-accumulate operations (MACs), forward + backward, the way
the same group reports "training complexity": a backward pass costs about twice the forward
(gradients w.r.t. activations and weights), so a trained layer costs 3x its forward MACs; BPTT
through T steps repeats that per step. The LSM is never trained: its forward pass runs once per
sample (reported separately), and only the heads train.

Inference energy: the RRAM LSM's energy comes from the macro's ledger (cells, word lines, ADCs);
the heads run digitally. The digital reference runs the same network (dense LSM MVMs + heads) on
a digital accelerator at a stated energy per MAC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

BACKWARD_FACTOR = 3  # forward + backward (activation and weight gradients) ~ 3x forward MACs


@dataclass(frozen=True)
class DigitalEnergy:
    """Energy constants of the digital reference platform (J per operation) with sources."""

    e_mac_j: float = 4.6e-12
    e_mac_source: str = ("Horowitz, ISSCC 2014, 45 nm: 32-bit float multiply 3.7 pJ + add 0.9 pJ")
    e_weight_read_j: float = 5.0e-12
    e_weight_read_source: str = ("Horowitz, ISSCC 2014, 45 nm: 32-bit read from an 8 KB SRAM "
                                 "~5 pJ (one weight fetch per MAC)")

    def per_mac(self) -> float:
        return self.e_mac_j + self.e_weight_read_j


def head_macs(in_dim: int, proj_dim: int, n_layers: int) -> int:
    return in_dim * proj_dim + (n_layers - 1) * proj_dim * proj_dim


def reservoir_macs(n_in: int, n: int, t_steps: int) -> int:
    """Dense MACs of one LSM/SRNN forward pass over T steps (input + recurrent)."""
    return t_steps * (n_in * n + n * n)


def contrastive_loss_macs(batch: int, proj_dim: int) -> int:
    """Similarity matrix of one batch (the dominant term of the loss)."""
    return batch * batch * proj_dim


def training_costs(*, n_pairs: int, batch: int, epochs: int, proj_dim: int, n_layers: int,
                   audio: tuple[int, int, int], image: tuple[int, int, int],
                   audio_feat_dim: int, image_feat_dim: int) -> dict:
    """MACs of training LSM+heads vs a fully trainable SRNN-CLIP of the same size.

    ``audio``/``image`` = (n_in, n_neurons, T) of each encoder; ``*_feat_dim`` the LSM feature
    width the heads see (N for mean rates, K*N for windowed counts).
    """
    n_batches = -(-n_pairs // batch)
    heads_lsm = head_macs(audio_feat_dim, proj_dim, n_layers) + head_macs(image_feat_dim, proj_dim,
                                                                           n_layers)
    heads_srnn = head_macs(audio[1], proj_dim, n_layers) + head_macs(image[1], proj_dim, n_layers)
    loss = n_batches * contrastive_loss_macs(batch, proj_dim) * BACKWARD_FACTOR
    lsm_epoch = n_pairs * heads_lsm * BACKWARD_FACTOR + loss
    enc = reservoir_macs(*audio) + reservoir_macs(*image)
    srnn_epoch = n_pairs * (enc + heads_srnn) * BACKWARD_FACTOR + loss
    lsm_encode_once = n_pairs * enc  # forward only, once (features are cached)
    lsm_total = lsm_epoch * epochs + lsm_encode_once
    srnn_total = srnn_epoch * epochs
    return {
        "lsm_heads_macs_per_epoch": lsm_epoch,
        "srnn_clip_macs_per_epoch": srnn_epoch,
        "lsm_encode_once_macs": lsm_encode_once,
        "training_ratio": srnn_epoch / lsm_epoch,
        "training_ratio_including_encoding": srnn_total / lsm_total,
        "epochs": epochs,
        "backward_factor": BACKWARD_FACTOR,
    }


def inference_energy(*, rram_lsm_j_per_sample: float, head_macs_per_sample: int,
                     dense_lsm_macs_per_sample: int, digital: DigitalEnergy | None = None) -> dict:
    """Energy per inference of RRAM LSM + digital heads vs the same network fully digital."""
    d = digital or DigitalEnergy()
    heads_j = head_macs_per_sample * d.per_mac()
    rram_total = rram_lsm_j_per_sample + heads_j
    digital_total = dense_lsm_macs_per_sample * d.per_mac() + heads_j
    return {
        "rram_lsm_j": rram_lsm_j_per_sample,
        "digital_heads_j": heads_j,
        "rram_system_j": rram_total,
        "digital_system_j": digital_total,
        "energy_ratio": digital_total / rram_total if rram_total > 0 else float("nan"),
        "digital_constants": asdict(d),
    }
