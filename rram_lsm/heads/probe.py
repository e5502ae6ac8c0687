"""Linear probing: a frozen encoder + a trained linear readout.

Two readouts: ``ridge`` (least-squares readout on +-1 one-vs-all targets, the classic
reservoir-computing readout and the default) and ``logistic`` (multinomial logistic regression,
i.e. a trained Linear + cross-entropy; scikit-learn). The regularisation strength is chosen on a
stratified validation split of the training data (never the test split); the readout is then
refitted on all training data.

The ridge path is closed form: one eigendecomposition of the (primal d x d or dual n x n) Gram
matrix serves every regularisation value, and the optional PCA uses the same dual trick, so
probing 12,800-dimensional raw inputs costs about as much as probing 200 LSM features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)  # logistic: inverse regularisation strength
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)  # ridge: regularisation strength


@dataclass
class ProbeResult:
    accuracy: float  # test accuracy, fraction
    val_accuracy: float
    C: float  # the chosen regularisation value (C for logistic, alpha for ridge)
    val_curve: dict[float, float]
    readout: str = "ridge"


class _Preprocess:
    """Standardise (train statistics), then optionally project on the top ``k`` principal
    components of the standardised training data."""

    def __init__(self, x: np.ndarray, k: int | None) -> None:
        self.mu = x.mean(0)
        self.sd = x.std(0)
        self.sd[self.sd == 0] = 1.0
        self.basis = None
        if k:
            z = (x - self.mu) / self.sd
            if z.shape[1] <= z.shape[0]:
                evals, evecs = np.linalg.eigh(z.T @ z)
                self.basis = evecs[:, ::-1][:, :k]
            else:  # dual: eigenvectors of Z Z^T give Z^T u / sqrt(lambda)
                evals, evecs = np.linalg.eigh(z @ z.T)
                evals, evecs = evals[::-1][:k], evecs[:, ::-1][:, :k]
                self.basis = (z.T @ evecs) / np.sqrt(np.maximum(evals, 1e-12))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mu) / self.sd
        return z @ self.basis if self.basis is not None else z


class _RidgePath:
    """Ridge regression for many alphas from one eigendecomposition (z is centred)."""

    def __init__(self, z: np.ndarray, y: np.ndarray) -> None:
        self.classes = np.unique(y)
        t = np.where(y[:, None] == self.classes[None, :], 1.0, -1.0)
        self.b = t.mean(0)
        t = t - self.b
        self.z = z
        if z.shape[1] <= z.shape[0]:
            self.dual = False
            self.s, self.v = np.linalg.eigh(z.T @ z)
            self.proj = self.v.T @ (z.T @ t)
        else:
            self.dual = True
            self.s, self.v = np.linalg.eigh(z @ z.T)
            self.proj = self.v.T @ t

    def weights(self, alpha: float) -> np.ndarray:
        inner = self.proj / (np.maximum(self.s, 0.0) + alpha)[:, None]
        return self.z.T @ (self.v @ inner) if self.dual else self.v @ inner

    def score(self, alpha: float, z: np.ndarray, y: np.ndarray) -> float:
        pred = self.classes[np.argmax(z @ self.weights(alpha) + self.b, axis=1)]
        return float(np.mean(pred == y))


def linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 y_test: np.ndarray, seed: int = 0, val_fraction: float = 0.2,
                 grid: tuple[float, ...] | None = None, pca: int | None = None,
                 readout: str = "ridge") -> ProbeResult:
    """Fit a linear readout on features [n, d] (any trailing shape is flattened); ``pca``:
    project on that many principal components first (fitted on training data only)."""
    if readout not in ("ridge", "logistic"):
        raise ValueError(f"readout must be 'ridge' or 'logistic', got {readout!r}")
    x_train = np.asarray(x_train, np.float64).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, np.float64).reshape(len(x_test), -1)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if pca:
        pca = min(pca, x_train.shape[1], int(len(x_train) * (1 - val_fraction)) - 1)
    xt, xv, yt, yv = train_test_split(x_train, y_train, test_size=val_fraction,
                                      random_state=seed, stratify=y_train)
    grid = grid or (ALPHA_GRID if readout == "ridge" else C_GRID)
    # ties go to the stronger regularisation (larger alpha, smaller C)
    strength = (lambda r: r) if readout == "ridge" else (lambda r: -r)

    def fit_scores(x_fit, y_fit, x_eval, y_eval, values):
        prep = _Preprocess(x_fit, pca)
        zf, ze = prep(x_fit), prep(x_eval)
        if readout == "ridge":
            path = _RidgePath(zf, y_fit)
            return {r: path.score(r, ze, y_eval) for r in values}
        return {r: float(LogisticRegression(C=r, max_iter=1000).fit(zf, y_fit).score(ze, y_eval))
                for r in values}

    curve = fit_scores(xt, yt, xv, yv, grid)
    best = max(grid, key=lambda r: (curve[r], strength(r)))
    acc = fit_scores(x_train, y_train, x_test, y_test, [best])[best]
    return ProbeResult(acc, curve[best], best, curve, readout)
