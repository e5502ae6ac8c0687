"""Where a signed matrix sits on the macro: the one planner of tiles on differential pairs.

A logical weight matrix W [n_in, n_out] is held as G+ - G- on column pairs: output k of a tile
uses physical columns (col0 + 2k, col0 + 2k + 1). When W does not fit one array it is cut into
tiles of at most ``max_rows x max_outputs`` (default: what fits from the offsets), row tiles
outer, output tiles inner, one tile per consecutive array from ``first_array``. Every user of a
placement -- `crossbar.mapping.DifferentialMatrix`, the firmware programs that write weights
(`firmware.programs.pair_layout`) and the LSM's synapses (`rram_lsm.lsm.synapses`) -- asks
this module, so the three agree by construction.

The LSM stacks two row blocks (W_in above W_rec) into one logical matrix of ``n_in + N`` rows;
`plan_stacked` places both blocks (sharing one array when they fit and the constants differ,
else on arrays of their own) and numbers the tiles' rows in the stacked coordinates.

Tiles are immutable; per-tile state that changes (the ADC calibration) lives elsewhere
(`crossbar.periphery.AdcCalibration`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from crossbar.errors import InputError


@dataclass(frozen=True)
class Region:
    """A rectangle of cells in one array: rows [r0, r1), cols [c0, c1)."""

    array: int
    r0: int
    r1: int
    c0: int
    c1: int


@dataclass(frozen=True)
class Tile:
    """One tile of a signed matrix on differential pairs.

    Logical rows [in_lo, in_hi) x outputs [out_lo, out_hi) sit on ``array``: logical row
    ``in_lo + i`` on physical row ``row0 + i``; output ``out_lo + k`` on columns ``col0 + 2k``
    (G+) and ``col0 + 2k + 1`` (G-). ``group`` numbers the row block the tile belongs to (the
    LSM's W_in = 0 / W_rec = 1; 0 for a plain matrix).
    """

    array: int
    row0: int
    col0: int
    in_lo: int
    in_hi: int
    out_lo: int
    out_hi: int
    group: int = 0

    @property
    def n_rows(self) -> int:
        return self.in_hi - self.in_lo

    @property
    def n_outputs(self) -> int:
        return self.out_hi - self.out_lo

    @property
    def region(self) -> Region:
        """The physical cells (both cells of every pair)."""
        return Region(self.array, self.row0, self.row0 + self.n_rows, self.col0,
                      self.col0 + 2 * self.n_outputs)


def tile_shape(rows: int, cols: int, *, row_offset: int = 0, col_offset: int = 0,
               max_rows: int | None = None, max_outputs: int | None = None) -> tuple[int, int]:
    """(rows, outputs) of the largest tile at these offsets in an array of ``rows x cols`` cells;
    raises `InputError` when not even one pair fits."""
    if row_offset < 0 or col_offset < 0:
        raise InputError(f"offsets must be >= 0, got row {row_offset}, col {col_offset}")
    rows_avail = rows - row_offset
    outs_avail = (cols - col_offset) // 2
    tr = min(rows_avail, max_rows or rows_avail)
    to = min(outs_avail, max_outputs or outs_avail)
    if tr < 1 or to < 1:
        raise InputError("no room for a differential matrix at these offsets")
    return tr, to


def count_tiles(n_in: int, n_out: int, tile_rows: int, tile_outputs: int) -> int:
    """Tiles (= arrays) a [n_in, n_out] matrix takes with tiles of ``tile_rows x tile_outputs``."""
    return -(-n_in // tile_rows) * -(-n_out // tile_outputs)


def plan_matrix(rows: int, cols: int, n_in: int, n_out: int, *, first_array: int = 0,
                row_offset: int = 0, col_offset: int = 0, max_rows: int | None = None,
                max_outputs: int | None = None, row_base: int = 0, group: int = 0,
                n_arrays: int | None = None) -> tuple[Tile, ...]:
    """Tiles of a logical [n_in, n_out] signed matrix on arrays of ``rows x cols`` cells.

    Args:
        first_array: the first tile's array; tiles take consecutive arrays.
        row_offset, col_offset: physical origin inside each array (lets several matrices share
            an array, e.g. W_in above W_rec).
        max_rows, max_outputs: tile size limits (default: what fits from the offsets).
        row_base: logical index of the matrix's first row (its place in a stacked matrix).
        group: stamped on every tile.
        n_arrays: the macro's array count; a plan that needs more raises `InputError`.
    """
    tr, to = tile_shape(rows, cols, row_offset=row_offset, col_offset=col_offset,
                        max_rows=max_rows, max_outputs=max_outputs)
    if n_arrays is not None:
        need = first_array + count_tiles(n_in, n_out, tr, to)
        if need > n_arrays:
            raise InputError(f"a {n_in} x {n_out} signed matrix needs {need} arrays of "
                             f"{rows} x {cols}; the macro has {n_arrays}")
    tiles = []
    arr = first_array
    for i0 in range(0, n_in, tr):
        for o0 in range(0, n_out, to):
            tiles.append(Tile(arr, row_offset, col_offset, row_base + i0,
                              row_base + min(i0 + tr, n_in), o0, min(o0 + to, n_out), group))
            arr += 1
    return tuple(tiles)


@dataclass(frozen=True)
class Block:
    """A row block of a stacked matrix: ``n_rows`` logical rows from ``row_base``, placed from
    ``first_array`` at physical row ``row_offset``; its tiles carry ``group``."""

    n_rows: int
    row_base: int
    first_array: int
    row_offset: int
    group: int


@dataclass(frozen=True)
class StackedLayout:
    """Placement of the LSM's stacked matrix [n_in + N, N]: blocks, tiles, arrays used."""

    n_arrays: int
    blocks: tuple[Block, ...]
    tiles: tuple[Tile, ...]


def plan_stacked(rows: int, cols: int, n_in: int, n: int, separate: bool) -> StackedLayout:
    """Place W_in [n_in, N] above W_rec [N, N] on arrays of ``rows x cols`` cells.

    One constant (``separate`` False): one block of ``n_in + N`` rows, tiled as one matrix. Two
    constants: two blocks (groups 0 and 1) read in separate MVMs; they share array 0 (W_rec
    below W_in) when the whole matrix fits one array, else each block is tiled on arrays of its
    own (W_in first).
    """
    tr, to = tile_shape(rows, cols)
    r = n_in + n
    if not separate:
        blocks = (Block(r, 0, 0, 0, 0),)
    elif r <= rows and n <= to:
        blocks = (Block(n_in, 0, 0, 0, 0), Block(n, n_in, 0, n_in, 1))
    else:
        blocks = (Block(n_in, 0, 0, 0, 0), Block(n, n_in, count_tiles(n_in, n, tr, to), 0, 1))
    tiles: list[Tile] = []
    for b in blocks:
        tiles.extend(plan_matrix(rows, cols, b.n_rows, n, first_array=b.first_array,
                                 row_offset=b.row_offset, row_base=b.row_base, group=b.group))
    return StackedLayout(1 + max(t.array for t in tiles), blocks, tuple(tiles))


def gather_pairs(g_us: np.ndarray, tiles: Iterable[Tile], n_rows: int, n_out: int,
                 row_base: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(G+, G-) as logical [n_rows, n_out] arrays (uS) from a macro state ``g_us``
    [n_arrays, rows, cols]; logical row ``row_base + i`` of the tiles lands in row ``i``."""
    gp = np.zeros((n_rows, n_out))
    gm = np.zeros((n_rows, n_out))
    for t in tiles:
        r = t.region
        g = g_us[r.array, r.r0:r.r1, r.c0:r.c1]
        sl = (slice(t.in_lo - row_base, t.in_hi - row_base), slice(t.out_lo, t.out_hi))
        gp[sl] = g[:, 0::2]
        gm[sl] = g[:, 1::2]
    return gp, gm
