"""Measured conductance maps (weights.source = "measured").

Accepted files (conductances in uS, finite, >= 0):

* the chip readback format (`crossbar.readback`): ``.csv`` / ``.txt`` (one array row per
  line, comma or whitespace separated, ``#`` comments) or ``.npy``, of shape [rows, cols] or
  [n_arrays, rows, cols] of the preset's arrays -- validated by `crossbar.readback.load_readback`
  (including its check that values are plausible in uS);
* the same formats holding a smaller 2-D block, e.g. just the logical [n_inputs + N, 2N] block of
  pairs (G+ in even, G- in odd columns): it is placed at the origin of array 0 and the rest of
  the array is pristine;
* ``.npz``: a macro state written by `crossbar.Macro.save` (its present conductances; e.g. a
  readback imported with ``rram-lsm firmware import-readback``), or an archive with one array
  named ``g_us``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from crossbar import MacroSpec
from crossbar.readback import load_readback
from rram_lsm.errors import DataError, InputError


def load_conductance_map(path: str | os.PathLike, spec: MacroSpec | None = None) -> np.ndarray:
    """Read a conductance map (uS) from ``path``; raises `DataError` naming the problem.

    With ``spec``, a map of the preset's full geometry goes through the readback validation of
    `crossbar.readback.load_readback`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: conductance map not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            g = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".txt"):
            text = path.read_text()
            delim = "," if "," in text else None
            g = np.loadtxt(path, delimiter=delim, comments="#", ndmin=2)
        elif suffix == ".npz":
            g = _load_npz(path)
        else:
            raise DataError(f"{path}: unknown conductance-map format '{suffix}' "
                            "(use .npy, .csv or a macro state .npz)")
    except DataError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read conductance map ({exc})") from None
    g = np.asarray(g, dtype=np.float64)
    full = spec is not None and g.shape[-2:] == (spec.geometry.rows, spec.geometry.cols)
    if full and suffix != ".npz":
        try:
            return load_readback(path, spec)
        except InputError as exc:
            raise DataError(str(exc)) from None
    if g.ndim not in (2, 3) or g.size == 0:
        raise DataError(f"{path}: conductance map must be 2-D or 3-D, got shape {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise DataError(f"{path}: conductances must be finite and non-negative (uS)")
    return g


def _load_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        if "g_us" in files:
            return np.array(z["g_us"])
    if "meta" in files:
        from crossbar import Macro

        return np.array(Macro.load(path).g_us)
    raise DataError(f"{path}: an .npz map needs an array 'g_us' or must be a macro state")


def embed_map(g: np.ndarray, spec: MacroSpec, n_arrays: int, n_rows: int,
              n_out: int) -> np.ndarray:
    """A [n_arrays, rows, cols] conductance state holding ``g``, checked against the layout."""
    rows, cols = spec.geometry.rows, spec.geometry.cols
    if g.ndim == 3:
        if g.shape[1:] != (rows, cols):
            raise DataError(f"a 3-D conductance map must be [n_arrays, {rows}, {cols}] for "
                            f"preset '{spec.name}', got {g.shape}")
        if g.shape[0] < n_arrays:
            raise DataError(f"the LSM needs {n_arrays} arrays of {rows} x {cols}; the map has "
                            f"{g.shape[0]}")
        return g
    if g.shape[0] > rows or g.shape[1] > cols:
        raise DataError(f"a 2-D conductance map must fit one {rows} x {cols} array of preset "
                        f"'{spec.name}', got {g.shape}")
    if n_arrays > 1 or g.shape[0] < n_rows or g.shape[1] < 2 * n_out:
        raise DataError(
            f"the map {g.shape} does not cover the LSM's {n_rows} rows x {2 * n_out} columns "
            f"(W_in above W_rec, one pair per neuron); give a map of at least that size"
            + (f" or a 3-D map of {n_arrays} arrays" if n_arrays > 1 else "")
        )
    full = np.full((n_arrays, rows, cols), spec.pristine.g_median_us)
    full[0, : g.shape[0], : g.shape[1]] = g
    return full
