"""Trainable classifiers on binned frames: SRNN + linear readout, and a conventional RNN.

The epoch is chosen on a stratified validation split of the training data.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import train_test_split
from torch import nn

from rram_lsm.baselines.srnn import SpikingRNN


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field("rnn", pattern="^(rnn|srnn)$")
    hidden: int = Field(200, ge=1, le=8192)
    lr: float = Field(1e-3, gt=0, le=1)
    batch_size: int = Field(64, ge=1, le=65536)
    epochs: int = Field(20, ge=1, le=10000)
    val_fraction: float = Field(0.2, gt=0, lt=1)


class _RNNClassifier(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(n_in, hidden, batch_first=True, nonlinearity="tanh")
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x):
        _, h = self.rnn(x.float())
        return self.out(h[-1])


class _SRNNClassifier(nn.Module):
    def __init__(self, encoder: SpikingRNN, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.out = nn.Linear(encoder.n, n_classes)

    def forward(self, x):
        return self.out(self.encoder(x))


def _accuracy(model, x, y, batch=512) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), batch):
            pred = model(torch.as_tensor(x[s:s + batch])).argmax(1).numpy()
            correct += int((pred == y[s:s + batch]).sum())
    model.train()
    return correct / max(len(x), 1)


def train_classifier(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                     y_test: np.ndarray, config: ClassifierConfig, seed: int = 0,
                     srnn_kwargs: dict | None = None) -> dict:
    """Train on frames [n, T, d] with labels; returns test accuracy at the validation-best epoch."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    classes = np.unique(y_train)
    remap = {c: k for k, c in enumerate(classes.tolist())}
    yt_all = np.array([remap[c] for c in y_train])
    y_te = np.array([remap.get(c, -1) for c in y_test])
    xt, xv, yt, yv = train_test_split(x_train, yt_all, test_size=config.val_fraction,
                                      random_state=seed, stratify=yt_all)
    if config.kind == "rnn":
        model: nn.Module = _RNNClassifier(x_train.shape[2], config.hidden, len(classes))
    else:
        model = _SRNNClassifier(SpikingRNN(x_train.shape[2], config.hidden, **(srnn_kwargs or {})),
                                len(classes))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    xt_t, yt_t = torch.as_tensor(xt), torch.as_tensor(yt)
    best = (-1.0, 0, None)
    curve = []
    for epoch in range(1, config.epochs + 1):
        perm = torch.randperm(len(xt), generator=g)
        for s in range(0, len(xt), config.batch_size):
            idx = perm[s:s + config.batch_size]
            loss = loss_fn(model(xt_t[idx]), yt_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        va = _accuracy(model, xv, yv)
        curve.append(va)
        if va > best[0]:
            best = (va, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    return {"accuracy": _accuracy(model, x_test, y_te), "val_accuracy": best[0],
            "epoch": best[1], "val_curve": curve}
