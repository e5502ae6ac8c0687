"""Property-based tests of the firmware parsers of outside data (issue 11): .rvec files
(mutations with a recomputed checksum reach every check, but raise only the documented error
type), vector CSV, readback maps, .npy targets / weights, saved macro states. Nothing crashes,
nothing non-finite passes, and --json output stays strict JSON."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crossbar import Macro, load_preset
from crossbar.errors import InputError, ReadbackError
from crossbar.readback import load_readback
from firmware import errors as E
from firmware.csvio import parse_csv, to_csv_text
from firmware.programs import forming_sweep, parse_region, write_verify, write_verify_weights
from firmware.rvec import decode_rvec, encode_rvec
from rram_lsm.cli import main

SLOW = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def genuine():
    return load_preset()


@pytest.fixture(scope="module")
def good(genuine) -> bytes:
    """A file of the shipped preset: readers resolve its identity without being told."""
    return encode_rvec(forming_sweep(genuine, v_max=3.3, region=parse_region("0:2,0:2", genuine)))


@settings(max_examples=150, **SLOW)
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                      max_size=4))
def test_rvec_mutations_with_recomputed_checksum_raise_only_format_errors(good, edits):
    b = bytearray(good)
    for pos, val in edits:
        b[pos % (len(b) - 32)] = val
    data = bytes(b[:-32]) + hashlib.sha256(bytes(b[:-32])).digest()
    try:
        prog = decode_rvec(data, "m.rvec")
    except E.VectorFormatError as exc:
        assert str(exc).startswith("m.rvec: ")
        return
    # accepted: then it is a file within the genuine preset's ratings
    assert prog.limits_verified
    assert np.all(prog.records["v_bl"] <= 5.0) and np.all(prog.records["t_ns"] <= 1e5)


@settings(max_examples=150, **SLOW)
@given(pos=st.integers(0, 10_000), junk=st.text(max_size=8), cut=st.integers(0, 3))
def test_csv_mutations_raise_only_format_errors(good, genuine, pos, junk, cut):
    text = to_csv_text(decode_rvec(good))
    pos %= len(text)
    bad = text[:pos] + junk + text[pos + cut:]
    try:
        prog = parse_csv(bad, "m.csv", genuine)
    except E.VectorFormatError as exc:
        assert str(exc).startswith("m.csv: ")
        return
    assert np.all(np.isfinite(prog.records["v_bl"]))


_DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_, np.complex128,
                           "U3"])


def _arrays(shapes):
    return _DTYPES.flatmap(lambda dt: hnp.arrays(dt, shapes))


@settings(max_examples=120, **SLOW)
@given(g=_arrays(st.sampled_from([(8, 6), (6, 8), (2, 8, 6), (3,), (8, 6, 1)])))
def test_readback_npy_maps(small_spec, tmp_path, g):
    spec = small_spec(8, 6)
    p = tmp_path / "g.npy"
    np.save(p, g)
    _assert_readback_maps(p, spec, (8, 6))


@settings(max_examples=120, **SLOW)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,-+e #\n\tnaifNA x")),
                    max_size=200))
def test_readback_csv_maps(small_spec, tmp_path, text):
    spec = small_spec(2, 3)
    p = tmp_path / "g.csv"
    p.write_text(text)
    _assert_readback_maps(p, spec, (2, 3))


def _assert_readback_maps(p, spec, shape) -> None:
    """A read-back file either loads as finite, non-negative maps [n, *shape] or fails with a
    ReadbackError naming the file."""
    try:
        out = load_readback(p, spec)
    except ReadbackError as exc:
        assert str(p) in str(exc)
        return
    assert out.shape[1:] == shape and np.all(np.isfinite(out)) and np.all(out >= 0)


@settings(max_examples=60, **SLOW)
@given(t=hnp.arrays(np.float64, st.sampled_from([(2, 2), (1, 3)]),
                    elements=st.sampled_from([np.nan, np.inf, -np.inf, 50.0, 80.0, -1.0])))
def test_write_verify_targets_and_weights_never_pass_non_finite(small_spec, t):
    spec = small_spec(16, 16)
    try:
        prog = write_verify(spec, t, 2.0)
    except E.FirmwareError:
        pass
    else:
        assert len(prog) > 0 and np.isfinite(t[~np.isnan(t)]).all()
    try:
        prog = write_verify_weights(spec, np.where(np.isfinite(t), t / 10, t), 2.0)
    except E.FirmwareError:
        pass
    else:
        assert np.isfinite(t).all()


@settings(max_examples=30, **SLOW)
@given(t=_arrays(st.sampled_from([(2, 2), (3,)])))
def test_cli_npy_targets_exit_0_or_2_with_strict_json(small_preset_file, tmp_path, capsys, t):
    preset = small_preset_file(16, 16, "prop-16")
    p, out = tmp_path / "t.npy", tmp_path / "o.rvec"
    np.save(p, t)
    out.unlink(missing_ok=True)
    capsys.readouterr()
    rc = main(["firmware", "write-verify", "--preset", preset, "--targets", str(p),
               "--tolerance-us", "2", "--out", str(out), "--json"])
    res = capsys.readouterr()
    assert rc in (0, 2), res.err
    if rc == 2:
        assert "Traceback" not in res.err and not out.exists()
    else:
        json.loads(res.out, parse_constant=lambda c: pytest.fail(f"bare {c}"))
        assert json.loads(res.out)["ops"] > 0


@settings(max_examples=25, **SLOW)
@given(field=st.sampled_from(["g_prog", "t_prog", "nu", "vbd", "g_latent"]),
       cell=st.integers(0, 63), value=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_saved_states_with_non_finite_values_are_refused(small_spec, tmp_path, field, cell,
                                                         value):
    spec = small_spec(8, 8)
    src, bad = tmp_path / "s.npz", tmp_path / "bad.npz"
    Macro(spec, seed=0).save(src)
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[field] = arrays[field].copy()
    arrays[field][cell] = value
    np.savez(bad, **arrays)
    with pytest.raises(InputError, match=rf"bad.npz: field '{field}' must hold finite floats \(1 of 64"):
        Macro.load(bad, spec)
