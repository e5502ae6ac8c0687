"""Reading measured conductance maps (chip readback) and checking them against a preset.

A readback map holds one conductance per cell in uS: a CSV file (one array row per line, comma
or whitespace separated, ``#`` comment lines allowed) or a ``.npy`` file of shape [rows, cols] or
[n_arrays, rows, cols]. The geometry must match the preset. `macro_from_readback` turns a map into
a `crossbar.Macro` (`Macro.from_conductances`) that the LSM uses like a simulated one
(``weights.source: measured``); `Macro.save` stores it as a macro state ``.npz``.

It lives in crossbar because both `firmware` (``rram-lsm firmware import-readback``) and
`rram_lsm.lsm.measured` read these files, and neither may import the other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crossbar.errors import ReadbackError
from crossbar.spec import MacroSpec

if TYPE_CHECKING:  # the macro pulls in numba; only `macro_from_readback` needs it
    from crossbar.macro import Macro

__all__ = ["PLAUSIBLE_FACTOR", "ReadbackError", "load_readback", "macro_from_readback"]

#: Conductances above this many times the preset's largest physical conductance are refused:
#: they are almost certainly in another unit (ohms, siemens x 1e6 ...).
PLAUSIBLE_FACTOR = 10.0


def _load_csv(path: Path) -> np.ndarray:
    rows = []
    width = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ReadbackError(f"{path}: not a UTF-8 text file") from None
    for k, line in enumerate(lines, start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            vals = [float(x) for x in (s.split(",") if "," in s else s.split())]
        except ValueError:
            raise ReadbackError(f"{path}: line {k}: values must be numbers (uS), comma "
                                "separated") from None
        if width is None:
            width = len(vals)
        elif len(vals) != width:
            raise ReadbackError(f"{path}: line {k}: {len(vals)} values, earlier lines have "
                                f"{width}")
        rows.append(vals)
    if not rows:
        raise ReadbackError(f"{path}: no data rows")
    return np.asarray(rows, dtype=np.float64)


def load_readback(path: str | os.PathLike, spec: MacroSpec) -> np.ndarray:
    """Load a measured conductance map (uS) and check it against ``spec``.

    Returns [n_arrays, rows, cols] float64. Raises `ReadbackError` for a missing file, a wrong
    shape, non-finite or negative values, or values implausibly large for uS.
    """
    path = Path(path)
    if not path.is_file():
        raise ReadbackError(f"{path}: readback file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            g = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ReadbackError(f"{path}: not a valid .npy file ({exc})") from None
        if not np.issubdtype(g.dtype, np.number) or np.iscomplexobj(g):
            raise ReadbackError(f"{path}: array dtype {g.dtype} is not a real number type")
    elif suffix in (".csv", ".txt"):
        g = _load_csv(path)
    else:
        raise ReadbackError(f"{path}: readback must be a .csv or .npy file")
    g = np.asarray(g, dtype=np.float64)
    if g.ndim == 2:
        g = g[None]
    rows, cols = spec.geometry.rows, spec.geometry.cols
    if g.ndim != 3 or g.shape[1:] != (rows, cols) or g.shape[0] < 1:
        raise ReadbackError(
            f"{path}: map has shape {g.shape[1:] if g.ndim == 3 else g.shape}; preset "
            f"'{spec.name}' has arrays of {rows} x {cols} cells ([rows, cols] or "
            "[n_arrays, rows, cols])")
    bad = ~np.isfinite(g) | (g < 0)
    if bad.any():
        a, r, c = (int(x[0]) for x in np.nonzero(bad))
        raise ReadbackError(f"{path}: value {g[a, r, c]} at array {a}, row {r}, col {c} is not a "
                            "finite conductance >= 0 (uS)")
    top = PLAUSIBLE_FACTOR * max(spec.switching.g_max_us, spec.forming.g_formed_max_us,
                                 spec.faults.g_stuck_high_us)
    if g.max() > top:
        a, r, c = np.unravel_index(int(np.argmax(g)), g.shape)
        raise ReadbackError(
            f"{path}: value {g.max():g} at array {a}, row {r}, col {c} is implausible for uS "
            f"(preset maximum ~{top / PLAUSIBLE_FACTOR:g} uS); convert the map to microsiemens")
    return g


def macro_from_readback(path: str | os.PathLike, spec: MacroSpec,
                        seed: int | np.random.Generator | None = 0) -> Macro:
    """A macro whose conductances are the measured map (cells above the formed threshold count
    as formed; hidden per-cell properties such as drift exponents are sampled from the preset
    with ``seed``)."""
    from crossbar.macro import Macro

    return Macro.from_conductances(spec, load_readback(path, spec), seed=seed)
