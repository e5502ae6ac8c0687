"""Reader (and stand-in writer) of Willett et al. 2021's ``singleLetters.mat``.

The release stores, per letter, ``neuralActivityCube_<letter>``: trials x time bins x 192
electrodes of raw threshold-crossing counts in 10 ms bins. The paper clips counts at 1 (binary
LSM input) and uses the first 201 bins. MATLAB v5 files are read with `scipy.io.loadmat`; v7.3
(HDF5) files with h5py (their arrays come transposed: electrodes x bins x trials).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rram_lsm.data.handwriting import LETTERS
from rram_lsm.errors import DataError

FILE_NAME = "singleLetters.mat"
N_ELECTRODES = 192
KEY = "neuralActivityCube_{}"


def _expected(path: Path) -> str:
    return (f"expected {path} (Willett et al. 2021 'singleLetters.mat' with "
            f"{KEY.format('a')} ... {KEY.format('z')}: trials x time bins x {N_ELECTRODES})")


def _load_raw(path: Path) -> dict[str, np.ndarray]:
    import scipy.io

    keys = [KEY.format(ch) for ch in LETTERS]
    try:
        mat = scipy.io.loadmat(str(path), variable_names=keys)
        return {k: np.asarray(v) for k, v in mat.items() if k in keys}
    except NotImplementedError:  # v7.3: HDF5
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k]).transpose(2, 1, 0) for k in keys if k in f}
    except (ValueError, TypeError, OSError) as exc:
        raise DataError(f"cannot read {path}: {exc}; {_expected(path)}") from None


def read_single_letters(path: str | os.PathLike, n_bins: int = 201, clip: int | None = 1,
                        letters: str = LETTERS) -> dict[str, np.ndarray]:
    """Letter -> counts uint8 [trials, n_bins, 192] (clipped at ``clip``; None: raw).

    Raises `DataError` naming the expected file and keys if the file is missing or malformed.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    if not path.is_file():
        raise DataError(f"neural data not found: {_expected(path)}")
    raw = _load_raw(path)
    out = {}
    for ch in letters:
        k = KEY.format(ch)
        if k not in raw:
            raise DataError(f"{path}: key '{k}' missing; {_expected(path)}")
        a = raw[k]
        if a.ndim != 3 or a.shape[2] != N_ELECTRODES or a.shape[0] < 1:
            raise DataError(f"{path}: '{k}' has shape {a.shape}; {_expected(path)}")
        if a.shape[1] < n_bins:
            raise DataError(f"{path}: '{k}' has {a.shape[1]} time bins, {n_bins} needed")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)) or a.min() < 0:
            raise DataError(f"{path}: '{k}' must hold finite non-negative counts")
        a = a[:, :n_bins]
        if clip is not None:
            a = np.minimum(a, clip)
        out[ch] = np.minimum(np.rint(a), 255).astype(np.uint8)
    return out


def write_single_letters(path: str | os.PathLike, cubes: dict[str, np.ndarray]) -> Path:
    """Write letter -> counts [trials, bins, 192] in the release's layout (MATLAB v5)."""
    import scipy.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {KEY.format(ch): np.asarray(c) for ch, c in cubes.items()},
                     do_compression=True)
    return path


def split_trials(n: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Train / test trial indices of one letter: the last ``test_fraction`` of the trials (in
    recording order) are the test trials, at least one of each when n >= 2."""
    n_test = int(round(n * test_fraction))
    n_test = min(max(n_test, 1 if n >= 2 else 0), n - 1 if n >= 2 else n)
    return np.arange(n - n_test), np.arange(n - n_test, n)
