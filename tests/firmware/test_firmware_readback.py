"""Import of measured conductance maps (CSV / .npy, uS) into a macro state."""

from __future__ import annotations

import numpy as np
import pytest

from crossbar import Macro
from firmware.errors import ReadbackError
from firmware.readback import load_readback, macro_from_readback


@pytest.fixture(scope="module")
def small(small_spec):
    return small_spec(8, 6)


def _map(seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((8, 6)) < 0.5, rng.uniform(60, 180, (8, 6)), 0.1)


def test_npy_and_csv_give_the_same_macro(small, tmp_path):
    g = _map()
    np.save(tmp_path / "g.npy", g)
    lines = ["# measured on die 7, uS"] + [",".join(repr(float(x)) for x in row) for row in g]
    (tmp_path / "g.csv").write_text("\n".join(lines) + "\n")
    for name in ("g.npy", "g.csv"):
        m = macro_from_readback(tmp_path / name, small, seed=1)
        np.testing.assert_array_equal(m.g_us[0], g)
        np.testing.assert_array_equal(m.formed_mask()[0],
                                      g > small.forming.g_formed_threshold_us)


def test_multi_array_npy_and_state_round_trip(small, tmp_path):
    g = np.stack([_map(1), _map(2)])
    np.save(tmp_path / "g.npy", g)
    m = macro_from_readback(tmp_path / "g.npy", small)
    assert m.n_arrays == 2
    m.save(tmp_path / "s.npz")
    np.testing.assert_array_equal(Macro.load(tmp_path / "s.npz").g_us, g)


@pytest.mark.parametrize("bad,msg", [
    (np.ones((6, 8)), "8 x 6"), (np.full((8, 6), np.nan), "not a finite"),
    (-np.ones((8, 6)), "not a finite"), (np.full((8, 6), 5e4), "convert the map"),
])
def test_bad_maps_are_refused(small, tmp_path, bad, msg):
    np.save(tmp_path / "b.npy", bad)
    with pytest.raises(ReadbackError, match=msg):
        load_readback(tmp_path / "b.npy", small)


def test_bad_files_are_refused(small, tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n1,2\n")
    with pytest.raises(ReadbackError, match="line 2"):
        load_readback(tmp_path / "a.csv", small)
    (tmp_path / "b.csv").write_text("1,x\n")
    with pytest.raises(ReadbackError, match="line 1"):
        load_readback(tmp_path / "b.csv", small)
    (tmp_path / "c.txt").write_text("")
    with pytest.raises(ReadbackError, match="no data"):
        load_readback(tmp_path / "c.txt", small)
    with pytest.raises(ReadbackError, match="not found"):
        load_readback(tmp_path / "missing.npy", small)
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ReadbackError, match=".csv or .npy"):
        load_readback(tmp_path / "d.json", small)
    (tmp_path / "e.npy").write_bytes(b"garbage")
    with pytest.raises(ReadbackError, match="not a valid .npy"):
        load_readback(tmp_path / "e.npy", small)
