"""Linear probing: a frozen encoder + a trained linear (logistic-regression) readout.

The regularisation strength C is chosen on a stratified validation split of the training data
(never the test split); the readout is then refitted on all training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


@dataclass
class ProbeResult:
    accuracy: float  # test accuracy, fraction
    val_accuracy: float
    C: float
    val_curve: dict[float, float]


def _model(C: float, seed: int, pca: int | None):
    steps = [StandardScaler()]
    if pca:
        steps.append(PCA(n_components=pca, random_state=seed))
    steps.append(LogisticRegression(C=C, max_iter=2000))
    return make_pipeline(*steps)


def linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 y_test: np.ndarray, seed: int = 0, val_fraction: float = 0.2,
                 c_grid: tuple[float, ...] = C_GRID, pca: int | None = None) -> ProbeResult:
    """Fit a linear readout on features [n, d]; ``pca``: project to that many components first
    (fitted on training data only)."""
    x_train = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, np.float64).reshape(len(x_test), -1)
    if pca:
        pca = min(pca, x_train.shape[1], int(len(x_train) * (1 - val_fraction)) - 1)
    xt, xv, yt, yv = train_test_split(x_train, y_train, test_size=val_fraction,
                                      random_state=seed, stratify=y_train)
    curve = {}
    for c in c_grid:
        curve[c] = float(_model(c, seed, pca).fit(xt, yt).score(xv, yv))
    best_c = max(c_grid, key=lambda c: (curve[c], -c))  # prefer stronger regularisation on ties
    final = _model(best_c, seed, pca).fit(x_train, y_train)
    return ProbeResult(float(final.score(x_test, y_test)), curve[best_c], best_c, curve)
