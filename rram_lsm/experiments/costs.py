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

from dataclasses import asdict, dataclass, fields
from typing import Any

from rram_lsm.experiments.schema import fields as check_fields
from rram_lsm.experiments.schema import num, text, whole

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

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> DigitalEnergy:
        check_fields(d, where, [f.name for f in fields(cls)])
        return cls(e_mac_j=num(d["e_mac_j"], f"{where}.e_mac_j"),
                   e_mac_source=text(d["e_mac_source"], f"{where}.e_mac_source"),
                   e_weight_read_j=num(d["e_weight_read_j"], f"{where}.e_weight_read_j"),
                   e_weight_read_source=text(d["e_weight_read_source"],
                                             f"{where}.e_weight_read_source"))


@dataclass(frozen=True)
class TrainingCosts:
    """MACs of training LSM + heads against a fully trainable SRNN-CLIP of the same size."""

    lsm_heads_macs_per_epoch: int  # heads forward + backward and the loss, LSM frozen
    srnn_clip_macs_per_epoch: int  # encoders + heads forward + backward (BPTT) and the loss
    lsm_encode_once_macs: int  # the LSM's forward pass over the training pairs, once
    training_ratio: float  # srnn_clip / lsm_heads per epoch
    training_ratio_including_encoding: float  # over all epochs, LSM encoding included
    epochs: int
    backward_factor: int  # forward + backward cost as a multiple of the forward MACs

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> TrainingCosts:
        check_fields(d, where, [f.name for f in fields(cls)])
        ratios = ("training_ratio", "training_ratio_including_encoding")
        return cls(**{k: num(v, f"{where}.{k}") if k in ratios else whole(v, f"{where}.{k}")
                      for k, v in d.items()})


@dataclass(frozen=True)
class InferenceEnergy:
    """Energy of one inference (J): RRAM LSM + digital heads vs the same network digital."""

    rram_lsm_j: float  # the RRAM LSM's ledger energy per sample
    digital_heads_j: float  # the heads on the digital platform
    rram_system_j: float  # rram_lsm_j + digital_heads_j
    digital_system_j: float  # dense LSM MVMs + heads, all digital
    energy_ratio: float  # digital_system_j / rram_system_j (NaN if the latter is 0)
    digital_constants: DigitalEnergy
    note: str | None = None  # what one inference is

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("rram_lsm_j", "digital_heads_j", "rram_system_j",
                                             "digital_system_j", "energy_ratio")}
        out["digital_constants"] = self.digital_constants.to_dict()
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, d: Any, where: str) -> InferenceEnergy:
        nums = ("rram_lsm_j", "digital_heads_j", "rram_system_j", "digital_system_j",
                "energy_ratio")
        check_fields(d, where, nums + ("digital_constants",), ("note",))
        return cls(**{k: num(d[k], f"{where}.{k}") for k in nums},
                   digital_constants=DigitalEnergy.from_dict(d["digital_constants"],
                                                             f"{where}.digital_constants"),
                   note=text(d["note"], f"{where}.note") if "note" in d else None)


@dataclass(frozen=True)
class PaperCosts:
    """The paper's reported ratios, for comparison."""

    training_ratio: float = 152.83
    energy_ratio: float = 23.34

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> PaperCosts:
        check_fields(d, where, ("training_ratio", "energy_ratio"))
        return cls(training_ratio=num(d["training_ratio"], f"{where}.training_ratio"),
                   energy_ratio=num(d["energy_ratio"], f"{where}.energy_ratio"))


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
                   audio_feat_dim: int, image_feat_dim: int) -> TrainingCosts:
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
    return TrainingCosts(
        lsm_heads_macs_per_epoch=lsm_epoch,
        srnn_clip_macs_per_epoch=srnn_epoch,
        lsm_encode_once_macs=lsm_encode_once,
        training_ratio=srnn_epoch / lsm_epoch,
        training_ratio_including_encoding=srnn_total / lsm_total,
        epochs=epochs,
        backward_factor=BACKWARD_FACTOR,
    )


def inference_energy(*, rram_lsm_j_per_sample: float, head_macs_per_sample: int,
                     dense_lsm_macs_per_sample: int, digital: DigitalEnergy | None = None,
                     note: str | None = None) -> InferenceEnergy:
    """Energy per inference of RRAM LSM + digital heads vs the same network fully digital."""
    d = digital or DigitalEnergy()
    heads_j = head_macs_per_sample * d.per_mac()
    rram_total = rram_lsm_j_per_sample + heads_j
    digital_total = dense_lsm_macs_per_sample * d.per_mac() + heads_j
    return InferenceEnergy(
        rram_lsm_j=rram_lsm_j_per_sample,
        digital_heads_j=heads_j,
        rram_system_j=rram_total,
        digital_system_j=digital_total,
        energy_ratio=digital_total / rram_total if rram_total > 0 else float("nan"),
        digital_constants=d,
        note=note,
    )
