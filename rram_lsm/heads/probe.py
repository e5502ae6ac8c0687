"""Linear probing: a frozen encoder + a trained linear readout.

Two readouts: ``ridge`` (least-squares readout on +-1 one-vs-all targets, the classic
reservoir-computing readout and the default) and ``logistic`` (multinomial logistic regression,
i.e. a trained Linear + cross-entropy; scikit-learn). The regularisation strength is chosen on a
stratified validation split of the training data (never the test split); the readout is then
refitted on all training data.

The ridge path is closed form and shares its linear algebra:

- one Gram matrix per fit (primal ``Z^T Z`` when d <= n, dual ``Z Z^T`` otherwise), serving every
  regularisation value, the optional PCA and -- with `linear_probes` -- several PCA sizes of the
  same input (raw input with and without PCA);
- each regularisation value is one Cholesky solve of ``Gram + alpha I`` (a few times cheaper than
  the eigendecomposition it replaces; the same solution), the full fit one more;
- the PCA takes only the top-k eigenpairs (LAPACK ``syevr`` on the CPU);
- inputs keep their dtype (uint8 frames stay uint8 until standardised) and the z-scores of the
  validation fit and the full fit share two buffers (`standardise`): with inputs of ~10^4
  features, fresh memory and float64 copies cost more than the arithmetic.

Arithmetic is float64 throughout (the accuracies are those of the eigendecomposition path to
rounding). ``device="cuda"`` runs the ridge path in torch on the GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
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


class _Linalg:
    """The few dense float64 operations of the ridge path, in numpy/scipy (CPU) or torch."""

    def __init__(self, device: str = "cpu") -> None:
        self.torch = None
        if str(device) != "cpu":
            import torch

            self.torch, self.device = torch, torch.device(device)

    def array(self, x: np.ndarray):
        x = np.asarray(x, np.float64)
        return x if self.torch is None else self.torch.as_tensor(x, device=self.device)

    def numpy(self, x) -> np.ndarray:
        return x if self.torch is None else x.cpu().numpy()

    def solve_spd(self, a, b, alpha: float):
        """(a + alpha I)^-1 b for symmetric positive semi-definite a (Cholesky)."""
        if self.torch is None:
            from scipy.linalg import cho_factor, cho_solve

            shifted = a.copy()
            shifted.flat[::len(a) + 1] += alpha  # a + alpha I without an identity matrix
            return cho_solve(cho_factor(shifted, lower=True, overwrite_a=True, check_finite=False),
                             b, check_finite=False)
        t = self.torch
        chol = t.linalg.cholesky(a + alpha * t.eye(len(a), dtype=a.dtype, device=a.device))
        return t.cholesky_solve(b, chol)

    def top_eigh(self, a, k: int):
        """The k largest eigenpairs of symmetric a, largest first: (values [k], vectors [n, k])."""
        n = len(a)
        if self.torch is None:
            from scipy.linalg import eigh

            w, v = eigh(a, subset_by_index=[n - k, n - 1], driver="evr", check_finite=False)
            return w[::-1], v[:, ::-1]
        w, v = self.torch.linalg.eigh(a)
        return w.flip(0)[:k], v.flip(1)[:, :k]

    def sqrt_clip(self, w):
        return np.sqrt(np.maximum(w, 1e-12)) if self.torch is None else w.clamp(min=1e-12).sqrt()


_BLOCK_BYTES = 4 << 20  # row blocks of the standardisation: a few MB, so temporaries stay in cache


def standardise(x_fit: np.ndarray, x_eval: np.ndarray, out: np.ndarray | None = None,
                out_eval: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 z-scores of the fit rows [n, d] and eval rows [m, d] with the fit rows' mean and
    standard deviation (a constant column keeps std 1, so its z-scores are 0).

    Any real dtype goes in (e.g. uint8 binned frames) without a float64 copy of the input, and
    the only large arrays written are the two results (into ``out`` [n, d] / ``out_eval``
    [m, d] when given, e.g. buffers reused between fits): fresh memory costs more than the
    arithmetic here. The sums run over rows in order, as numpy's ``mean`` / ``std`` do, so the
    z-scores are bit for bit ``(x - x.mean(0)) / x.std(0)`` of the float64 input."""
    n, d = x_fit.shape
    z = np.empty((n, d)) if out is None else out
    ze = np.empty(x_eval.shape) if out_eval is None else out_eval
    mu = np.add.reduce(x_fit, axis=0, dtype=np.float64) / n
    step = max(1, _BLOCK_BYTES // (8 * max(d, 1)))
    # sum of squares, block by block; the running sum is the first row of each block's reduction
    # so that the additions happen in the same order as one reduction over all rows
    tmp = np.empty((min(step, n) + 1, d))
    ssq = np.zeros(d)
    for i in range(0, n, step):
        zb = np.subtract(x_fit[i:i + step], mu, out=z[i:i + step], dtype=np.float64)
        tmp[0] = ssq
        np.square(zb, out=tmp[1:len(zb) + 1])
        ssq = np.add.reduce(tmp[:len(zb) + 1], axis=0)
    sd = np.sqrt(ssq / n)
    sd[sd == 0] = 1.0
    z /= sd
    np.subtract(x_eval, mu, out=ze, dtype=np.float64)
    ze /= sd
    return z, ze


class _Fit:
    """One fit of the ridge path: standardisation on the fit rows, their Gram matrix and (per
    PCA size) the projected features; every ridge solve reuses them."""

    def __init__(self, la: _Linalg, x_fit: np.ndarray, x_eval: np.ndarray,
                 buffers: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.la = la
        z, ze = standardise(x_fit, x_eval, *(buffers or (None, None)))
        self.z, self.ze = la.array(z), la.array(ze)
        n, d = self.z.shape
        self.dual = d > n
        self.gram = self.z @ self.z.T if self.dual else self.z.T @ self.z
        self._pcs: dict[int, tuple] = {}

    def features(self, k: int | None):
        """(fit, eval) features: standardised, or projected on the top ``k`` principal
        components of the standardised fit rows."""
        if not k:
            return self.z, self.ze
        if k not in self._pcs:
            w, v = self.la.top_eigh(self.gram, k)
            # dual: eigenvectors of Z Z^T give the components Z^T u / sqrt(lambda)
            if self.dual:
                root = self.la.sqrt_clip(w)
                basis = (self.z.T @ v) / root
                # Z basis = (Z Z^T) v / sqrt(lambda): from the Gram matrix, n x n x k instead of
                # n x d x k multiply-adds (the same numbers to rounding)
                self._pcs[k] = ((self.gram @ v) / root, self.ze @ basis)
            else:
                self._pcs[k] = (self.z @ v, self.ze @ v)
        return self._pcs[k]

    def gram_of(self, k: int | None):
        if not k:
            return self.gram, self.dual
        z = self.features(k)[0]
        return z.T @ z, False  # k < n always (linear_probe caps it)


def _ridge_weights(fit: _Fit, k: int | None, y_fit: np.ndarray, alphas: Sequence[float]):
    """Ridge readouts on +-1 one-vs-all targets (centred; intercept ``b``): yields
    ``(alpha, classes, weights [d, C], b)`` for each alpha."""
    la = fit.la
    zf, _ = fit.features(k)
    gram, dual = fit.gram_of(k)
    classes = np.unique(y_fit)
    t = np.where(y_fit[:, None] == classes[None, :], 1.0, -1.0)
    b = t.mean(0)
    t = la.array(t - b)
    rhs = t if dual else zf.T @ t
    for alpha in alphas:
        sol = la.solve_spd(gram, rhs, alpha)
        yield alpha, classes, (zf.T @ sol if dual else sol), b


def _ridge_scores(fit: _Fit, k: int | None, y_fit: np.ndarray, y_eval: np.ndarray,
                  alphas: Sequence[float]) -> dict[float, float]:
    """Accuracy on the eval rows of the ridge readout for each alpha."""
    ze = fit.features(k)[1]
    out = {}
    for alpha, classes, w, b in _ridge_weights(fit, k, y_fit, alphas):
        pred = classes[np.argmax(fit.la.numpy(ze @ w) + b, axis=1)]
        out[alpha] = float(np.mean(pred == y_eval))
    return out


def _real_2d(x) -> np.ndarray:
    """``x`` as a 2-D array [n, features] (trailing axes flattened, no copy); integers and floats
    keep their dtype (`standardise` promotes them to float64), anything else becomes float64."""
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        x = x.astype(np.float64)
    return x.reshape(len(x), -1)


def linear_probes(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                  y_test: np.ndarray, seed: int = 0, val_fraction: float = 0.2,
                  grid: tuple[float, ...] | None = None, pcas: Sequence[int | None] = (None,),
                  readout: str = "ridge", device: str = "cpu") -> list[ProbeResult]:
    """`linear_probe` for several ``pca`` values of the same input at once (one result each);
    the ridge readout shares the standardisation and Gram matrices between them."""
    if readout not in ("ridge", "logistic"):
        raise ValueError(f"readout must be 'ridge' or 'logistic', got {readout!r}")
    # inputs keep their dtype (e.g. uint8 frames are not copied to float64 here: `standardise`
    # promotes them as it writes the z-scores)
    x_train = _real_2d(x_train)
    x_test = _real_2d(x_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    cap = min(x_train.shape[1], int(len(x_train) * (1 - val_fraction)) - 1)
    pcas = [min(p, cap) if p else None for p in pcas]
    # the split depends only on the labels and the row count: split row indices, copy rows once
    it, iv = train_test_split(np.arange(len(x_train)), test_size=val_fraction,
                              random_state=seed, stratify=y_train)
    xt, xv, yt, yv = x_train[it], x_train[iv], y_train[it], y_train[iv]
    grid = grid or (ALPHA_GRID if readout == "ridge" else C_GRID)
    # ties go to the stronger regularisation (larger alpha, smaller C)
    strength = (lambda r: r) if readout == "ridge" else (lambda r: -r)
    if readout == "logistic":
        return [_logistic(xt, yt, xv, yv, x_train, y_train, x_test, y_test, grid, k, strength)
                for k in pcas]
    la = _Linalg(device)
    # one pair of z-score buffers serves both fits (the validation fit is done before the full
    # fit starts): fresh pages cost more than the arithmetic on them
    d = x_train.shape[1]
    bufs = (np.empty((len(x_train), d)), np.empty((max(len(xv), len(x_test)), d)))
    val_fit = _Fit(la, xt, xv, (bufs[0][:len(xt)], bufs[1][:len(xv)]))
    curves = [_ridge_scores(val_fit, k, yt, yv, grid) for k in pcas]
    del val_fit
    full_fit = _Fit(la, x_train, x_test, (bufs[0], bufs[1][:len(x_test)]))
    out = []
    for k, curve in zip(pcas, curves):
        best = max(grid, key=lambda r: (curve[r], strength(r)))
        acc = _ridge_scores(full_fit, k, y_train, y_test, [best])[best]
        out.append(ProbeResult(acc, curve[best], best, curve, readout))
    return out


def _logistic(xt, yt, xv, yv, x_train, y_train, x_test, y_test, grid, k, strength) -> ProbeResult:
    def fit_scores(x_fit, y_fit, x_eval, y_eval, values):
        f = _Fit(_Linalg(), x_fit, x_eval)
        zf, ze = (np.asarray(z) for z in f.features(k))
        return {r: float(LogisticRegression(C=r, max_iter=1000).fit(zf, y_fit).score(ze, y_eval))
                for r in values}

    curve = fit_scores(xt, yt, xv, yv, grid)
    best = max(grid, key=lambda r: (curve[r], strength(r)))
    acc = fit_scores(x_train, y_train, x_test, y_test, [best])[best]
    return ProbeResult(acc, curve[best], best, curve, "logistic")


def linear_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 y_test: np.ndarray, seed: int = 0, val_fraction: float = 0.2,
                 grid: tuple[float, ...] | None = None, pca: int | None = None,
                 readout: str = "ridge", device: str = "cpu") -> ProbeResult:
    """Fit a linear readout on features [n, d] (any trailing shape is flattened); ``pca``:
    project on that many principal components first (fitted on training data only);
    ``device``: torch device of the ridge path (default: numpy on the CPU)."""
    return linear_probes(x_train, y_train, x_test, y_test, seed, val_fraction, grid, (pca,),
                         readout, device)[0]
