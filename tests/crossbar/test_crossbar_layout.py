"""The layout planner (`crossbar.layout`): brute-force coverage of every plan, and its users
(`DifferentialMatrix`, `firmware.programs.pair_layout`, the LSM's synapses) agree with it."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from crossbar import DifferentialMatrix, Macro
from crossbar.errors import InputError
from crossbar.layout import gather_pairs, plan_matrix, plan_stacked


def _check_cover(tiles, rows, cols, n_in, n_out, row_base=0, row_offset=0, col_offset=0,
                 max_rows=None, max_outputs=None, occupied=None):
    """Every logical (i, o) on exactly one pair of cells, no physical cell used twice, all
    cells inside their array and inside the offsets / size limits. Returns the occupancy."""
    seen = np.zeros((n_in, n_out), np.int64)
    occupied = {} if occupied is None else occupied
    for t in tiles:
        assert t.in_hi > t.in_lo and t.out_hi > t.out_lo
        assert max_rows is None or t.n_rows <= max_rows
        assert max_outputs is None or t.n_outputs <= max_outputs
        for i in range(t.in_lo, t.in_hi):
            for o in range(t.out_lo, t.out_hi):
                seen[i - row_base, o] += 1
                r = t.row0 + (i - t.in_lo)
                cp = t.col0 + 2 * (o - t.out_lo)
                for c in (cp, cp + 1):
                    assert row_offset <= r < rows and col_offset <= c < cols
                    key = (t.array, r, c)
                    assert key not in occupied, f"cell {key} used twice"
                    occupied[key] = (i, o)
        reg = t.region
        assert (reg.r1 - reg.r0, reg.c1 - reg.c0) == (t.n_rows, 2 * t.n_outputs)
    assert np.all(seen == 1)
    return occupied


@pytest.mark.parametrize("rows,cols,n_in,n_out,ro,co,mr,mo,first", [
    (32, 32, 10, 5, 0, 0, None, None, 0),
    (32, 32, 40, 7, 3, 4, None, None, 2),
    (32, 32, 70, 33, 0, 2, None, None, 0),
    (16, 10, 37, 11, 1, 1, 7, 3, 1),
    (512, 512, 456, 200, 0, 0, None, None, 0),
    (7, 5, 1, 1, 6, 3, None, None, 0),
])
def test_plan_matrix_covers_every_weight_once(rows, cols, n_in, n_out, ro, co, mr, mo, first):
    tiles = plan_matrix(rows, cols, n_in, n_out, first_array=first, row_offset=ro,
                        col_offset=co, max_rows=mr, max_outputs=mo)
    _check_cover(tiles, rows, cols, n_in, n_out, row_offset=ro, col_offset=co, max_rows=mr,
                 max_outputs=mo)
    arrays = [t.array for t in tiles]
    assert arrays == list(range(first, first + len(tiles)))  # one tile per consecutive array
    tr = min(rows - ro, mr or rows)
    to = min((cols - co) // 2, mo or cols)
    assert len(tiles) == -(-n_in // tr) * -(-n_out // to)


def test_plan_matrix_limits_and_errors():
    with pytest.raises(InputError, match="needs 5 arrays of 32 x 32; the macro has 4"):
        plan_matrix(32, 32, 40, 20, first_array=1, n_arrays=4)
    assert len(plan_matrix(32, 32, 40, 20, first_array=1, n_arrays=5)) == 4
    with pytest.raises(InputError, match="no room"):
        plan_matrix(32, 32, 4, 4, col_offset=31)
    with pytest.raises(InputError, match="offsets"):
        plan_matrix(32, 32, 4, 4, row_offset=-1)
    t = plan_matrix(32, 32, 4, 4)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.array = 3


@pytest.mark.parametrize("rows,cols,n_in,n", [(512, 512, 256, 200), (32, 32, 40, 20),
                                               (32, 64, 10, 20), (20, 8, 9, 11)])
@pytest.mark.parametrize("separate", [False, True])
def test_plan_stacked_covers_the_stacked_matrix(rows, cols, n_in, n, separate):
    lay = plan_stacked(rows, cols, n_in, n, separate)
    _check_cover(lay.tiles, rows, cols, n_in + n, n)
    assert lay.n_arrays == 1 + max(t.array for t in lay.tiles)
    groups = {t.group for t in lay.tiles}
    if not separate:
        assert groups == {0}
    else:
        assert groups == {0, 1}
        for t in lay.tiles:  # a tile never mixes input and recurrent rows
            assert (t.in_hi <= n_in) if t.group == 0 else (t.in_lo >= n_in)
    fits = n_in + n <= rows and n <= cols // 2
    if separate and fits:
        assert lay.n_arrays == 1  # W_rec below W_in on the same columns
    # blocks tile like plain matrices at their own offsets
    for b in lay.blocks:
        mine = [t for t in lay.tiles if t.group == b.group]
        assert mine == list(plan_matrix(rows, cols, b.n_rows, n, first_array=b.first_array,
                                        row_offset=b.row_offset, row_base=b.row_base,
                                        group=b.group))


def test_users_share_the_planner(small_preset_spec):
    from firmware.programs import pair_layout

    spec = small_preset_spec
    g = spec.geometry
    macro = Macro(spec, n_arrays=9, seed=0)
    for n_in, n_out, ro, co in [(10, 5, 0, 0), (40, 7, 3, 4), (70, 33, 0, 2)]:
        plan = list(plan_matrix(g.rows, g.cols, n_in, n_out, row_offset=ro, col_offset=co))
        assert DifferentialMatrix(macro, n_in, n_out, row_offset=ro, col_offset=co).tiles == plan
        assert pair_layout(spec, n_in, n_out, row_offset=ro, col_offset=co) == plan


def test_gather_pairs_reads_the_planned_cells():
    rng = np.random.default_rng(0)
    g = rng.uniform(0, 100, (7, 8, 10))  # 3 row tiles x 2 output tiles from array 1
    tiles = plan_matrix(8, 10, 13, 7, row_offset=2, first_array=1)
    gp, gm = gather_pairs(g, tiles, 13, 7)
    for i, o in itertools.product(range(13), range(7)):
        (t,) = [t for t in tiles if t.in_lo <= i < t.in_hi and t.out_lo <= o < t.out_hi]
        r, c = t.row0 + i - t.in_lo, t.col0 + 2 * (o - t.out_lo)
        assert (gp[i, o], gm[i, o]) == (g[t.array, r, c], g[t.array, r, c + 1])


@pytest.fixture(scope="module")
def small_preset_spec(small_spec):
    return small_spec(32, 32)
