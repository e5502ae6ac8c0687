"""Training the projection heads on cached LSM features, with honest model selection.

The heads train on the paired training features of the seen classes. After every epoch (and
before the first) they are evaluated on a validation split of the training pairs and on the test
sets. Two protocols read the same run:

- ``validation`` (ours, the headline): the epoch with the best validation retrieval
  (mean of audio->image and image->audio top-1);
- ``paper`` (the authors' code): the epoch with the best *test* audio->image top-1 (seen +
  unseen) -- shown only to measure how much selection on the test set inflates the numbers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from rram_lsm.heads.losses import LOSSES, contrastive_loss
from rram_lsm.heads.models import DualProjection
from rram_lsm.heads.retrieval import retrieval_topk


class HeadConfig(BaseModel):
    """Heads, loss and optimiser (defaults: the paper's heads with supervised-contrastive loss)."""

    model_config = ConfigDict(extra="forbid")

    proj_dim: int = Field(64, ge=1, le=4096)
    n_layers: int = Field(1, ge=1, le=3)
    activation: str = Field("gelu", pattern="^(gelu|relu|tanh|sigmoid|identity)$")
    loss: str = Field("supcon", pattern="^(clip|soft_clip|supcon|dcl|proto)$")
    temperature: float = Field(1.0, gt=0, le=100)
    learn_temperature: bool = False
    metric: str = Field("dot", pattern="^(dot|cosine)$")
    lr: float = Field(1e-3, gt=0, le=1.0)
    batch_size: int = Field(64, ge=2, le=65536)
    epochs: int = Field(100, ge=1, le=10000)
    standardize: bool = False
    threads: int = Field(1, ge=1, le=256)


@dataclass
class RetrievalSet:
    """Queries/gallery for retrieval: audio [Na, Da] with labels, image [Ni, Di] with labels."""

    audio: np.ndarray
    audio_labels: np.ndarray
    image: np.ndarray
    image_labels: np.ndarray


@dataclass
class TrainResult:
    history: list[dict]  # per epoch (0 = untrained): loss, val_*, <set>_* metrics
    best_epoch: dict[str, int]  # protocol -> epoch
    metrics: dict[str, dict[str, float]]  # protocol -> {set_metric: value}
    model: DualProjection  # heads at the validation-selected epoch
    norm: dict = field(default_factory=dict)  # standardisation statistics (if any)


@contextlib.contextmanager
def _torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _evaluate(model: DualProjection, s: RetrievalSet, metric: str, prep) -> dict[str, float]:
    with torch.no_grad():
        a = model.audio(prep(s.audio, "audio"))
        i = model.image(prep(s.image, "image"))
        a2i = retrieval_topk(a, i, s.audio_labels, s.image_labels, (1, 5), metric)
        i2a = retrieval_topk(i, a, s.image_labels, s.audio_labels, (1, 5), metric)
    return {"a2i_top1": a2i[0], "i2a_top1": i2a[0], "a2i_top5": a2i[1], "i2a_top5": i2a[1]}


def train_heads(train_audio: np.ndarray, train_image: np.ndarray, train_labels: np.ndarray,
                val: RetrievalSet, evals: dict[str, RetrievalSet], config: HeadConfig,
                seed: int = 0, paper_sets: tuple[str, ...] = ("seen", "unseen"),
                model: torch.nn.Module | None = None, patience: int | None = None) -> TrainResult:
    """Train the two heads on paired features ([n, Da], [n, Di], labels [n]).

    ``evals`` maps a set name (e.g. ``seen``, ``unseen``) to its test retrieval set. The
    ``paper`` protocol picks the epoch maximising the sum of ``<set>.a2i_top1`` over
    ``paper_sets``. ``model``: a ready module with ``.audio``/``.image`` sub-modules and a
    ``temperature`` (e.g. trainable spiking encoders + heads, whose inputs are then frames
    [n, T, d] instead of features); default: a `DualProjection` built from ``config``.
    ``patience``: stop once the validation score has not improved for this many epochs.
    """
    if config.loss not in LOSSES:  # pragma: no cover - validated by HeadConfig
        raise ValueError(config.loss)
    g = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    norm: dict = {}
    if config.standardize:
        for name, x in (("audio", train_audio), ("image", train_image)):
            norm[name] = (x.mean(0), x.std(0) + 1e-6)

    def prep(x: np.ndarray, modality: str) -> torch.Tensor:
        if norm:
            mu, sd = norm[modality]
            x = (x - mu) / sd
        return torch.as_tensor(np.asarray(x, dtype=np.float32))

    with _torch_threads(config.threads):
        if model is None:
            model = DualProjection(train_audio.shape[1], train_image.shape[1], config.proj_dim,
                                   config.n_layers, config.activation, config.temperature,
                                   config.learn_temperature)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, fused=True)
        ta, ti = prep(train_audio, "audio"), prep(train_image, "image")
        ty = torch.as_tensor(np.asarray(train_labels, dtype=np.int64))
        n = ta.shape[0]

        history: list[dict] = []
        best_state: dict = {}  # heads at the best validation score so far (first on ties)

        def record(epoch: int, loss: float | None) -> None:
            model.eval()
            row = {"epoch": epoch, "loss": loss}
            row.update({f"val_{k}": v for k, v in _evaluate(model, val, config.metric, prep).items()})
            for name, s in evals.items():
                row.update({f"{name}_{k}": v
                            for k, v in _evaluate(model, s, config.metric, prep).items()})
            score = 0.5 * (row["val_a2i_top1"] + row["val_i2a_top1"])
            if not best_state or score > best_state["score"]:
                best_state.update(score=score, state={k: v.detach().clone()
                                                      for k, v in model.state_dict().items()})
            history.append(row)
            model.train()

        record(0, None)
        for epoch in range(1, config.epochs + 1):
            perm = torch.randperm(n, generator=g)
            total, count = 0.0, 0
            for start in range(0, n, config.batch_size):
                idx = perm[start:start + config.batch_size]
                if idx.numel() < 2:
                    continue
                a, i = model(ta[idx], ti[idx])
                loss = contrastive_loss(config.loss, a, i, ty[idx], model.temperature,
                                        config.metric)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
                count += idx.numel()
            record(epoch, total / max(count, 1))
            if patience is not None:
                if epoch - int(np.argmax(validation_scores(history))) >= patience:
                    break

    # epoch 0 (untrained) competes too: a run that never beats it says so
    best, metrics = select_epochs(history, paper_sets)
    model.load_state_dict(best_state["state"])
    model.eval()
    return TrainResult(history=history, best_epoch=best, metrics=metrics, model=model, norm=norm)


def validation_scores(history: list[dict]) -> list[float]:
    """Per epoch, the mean validation top-1 of both retrieval directions (selection and early
    stopping use it)."""
    return [0.5 * (h["val_a2i_top1"] + h["val_i2a_top1"]) for h in history]


def select_epochs(history: list[dict], paper_sets: tuple[str, ...]) -> tuple[dict, dict]:
    """The selected epoch per protocol and its metrics: ``validation`` = best mean validation
    top-1 (both directions), ``paper`` = best summed test top-1 a2i over ``paper_sets`` (the
    authors' test-set selection; only when those sets were evaluated)."""
    best = {"validation": int(np.argmax(validation_scores(history)))}
    if all(f"{s}_a2i_top1" in history[0] for s in paper_sets):
        best["paper"] = int(np.argmax([sum(h[f"{s}_a2i_top1"] for s in paper_sets)
                                       for h in history]))
    metrics = {p: {k: v for k, v in history[e].items() if k != "loss"} for p, e in best.items()}
    return best, metrics


def embed(result: TrainResult, features: np.ndarray, modality: str) -> np.ndarray:
    """Embeddings [n, proj_dim] of features under the selected heads."""
    x = features
    if result.norm:
        mu, sd = result.norm[modality]
        x = (x - mu) / sd
    head = result.model.audio if modality == "audio" else result.model.image
    with torch.no_grad():
        return head(torch.as_tensor(np.asarray(x, np.float32))).numpy()
