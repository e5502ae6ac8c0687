"""No unsafe vector under a genuine identity (issue 11, section 1).

An attacker (or a careless edit) can rewrite an .rvec header's self-declared limits and records
and recompute the SHA-256, or pass an edited copy of a shipped preset. Every reader must resolve
the preset the file names and refuse what exceeds its ratings or does not match its digest;
every writer must stamp the identity of the preset it checked against.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml

from crossbar import Macro, load_preset
from crossbar.defaults import DEFAULT_PRESET
from crossbar.resources import config_file
from crossbar.spec import load_spec
from firmware import errors as E
from firmware.csvio import parse_csv, read_csv, to_csv_text, write_csv
from firmware.isa import OP_FORM, RECORD_DTYPE, Limits, Program
from firmware.programs import forming_sweep, parse_region
from firmware.replay import replay
from firmware.rvec import HEADER_SIZE, RECORD_SIZE, decode_rvec, encode_rvec, read_rvec, write_rvec
from rram_lsm.cli import main

LIMITS_AT = 136  # offset of the 7 header limits (f64)


@pytest.fixture(scope="module")
def genuine():
    return load_preset()


@pytest.fixture(scope="module")
def edited_file(tmp_path_factory) -> str:
    """A copy of the shipped preset (same name) with v_form_max and t_pulse_max_ns raised."""
    raw = yaml.safe_load(config_file(f"macro/{DEFAULT_PRESET}.yaml").read_text())
    raw["ratings"]["v_form_max"]["value"] = 50.0
    raw["ratings"]["t_pulse_max_ns"]["value"] = 2e9
    path = tmp_path_factory.mktemp("edited") / "edited.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture(scope="module")
def form(genuine) -> Program:
    return forming_sweep(genuine, v_max=3.2, region=parse_region("0:2,0:2", genuine))


def _rehash(data: bytes) -> bytes:
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


def _forge(data: bytes, limits: dict | None = None, record: tuple[int, str, float] | None = None
           ) -> bytes:
    """Edit header limits and/or one record field, then recompute the checksum."""
    b = bytearray(data)
    if limits:
        lim = list(struct.unpack_from("<7d", b, LIMITS_AT))
        for k, v in limits.items():
            lim[Limits._fields.index(k)] = v
        struct.pack_into("<7d", b, LIMITS_AT, *lim)
    if record:
        i, field, value = record
        off = HEADER_SIZE + i * RECORD_SIZE
        rec = np.frombuffer(bytes(b[off:off + RECORD_SIZE]), RECORD_DTYPE).copy()
        rec[field] = value
        b[off:off + RECORD_SIZE] = rec.tobytes()
    return _rehash(bytes(b))


def _first_form(prog: Program) -> int:
    return int(np.flatnonzero(prog.records["op"] == OP_FORM)[0])


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# --- the attacks of the issue, through the Python API ----------------------------------------


def test_raised_header_limit_with_recomputed_checksum_is_refused(form):
    data = _forge(encode_rvec(form), {"v_form_max": 50.0}, (_first_form(form), "v_bl", 12.0))
    with pytest.raises(E.HeaderRatingsError, match=r"x.rvec: header field 'limits.v_form_max' "
                       r"= 50 exceeds ratings.v_form_max = 5 of preset 'rram-40nm-256kb'"):
        decode_rvec(data, "x.rvec")


def test_raised_pulse_width_limit_is_refused(form):
    data = _forge(encode_rvec(form), {"t_pulse_max_ns": 2e9}, (_first_form(form), "t_ns", 1e9))
    with pytest.raises(E.HeaderRatingsError, match="limits.t_pulse_max_ns"):
        decode_rvec(data, "x.rvec")


def test_record_over_rating_with_recomputed_checksum_is_refused(form):
    data = _forge(encode_rvec(form), None, (_first_form(form), "v_bl", 12.0))
    with pytest.raises(E.RecordRatingsError, match=r"x.rvec: record \d+ \(FORM .*V_BL = 12 V"):
        decode_rvec(data, "x.rvec")


def test_lower_header_limits_are_accepted(form):
    """Tighter self-declared limits are not a danger: the records are still within them."""
    data = _forge(encode_rvec(form), {"v_wl_max": 2.0})
    assert decode_rvec(data).limits_verified


def test_digest_of_a_known_name_must_match(form):
    data = bytearray(encode_rvec(form))
    data[72] ^= 0x01  # preset_digest
    with pytest.raises(E.PresetMismatchError, match="x.rvec: header field 'preset_digest'"):
        decode_rvec(_rehash(bytes(data)), "x.rvec")


def test_unknown_preset_needs_the_explicit_flag(form):
    data = bytearray(encode_rvec(form))
    data[40:72] = b"no-such-preset".ljust(32, b"\0")
    data = _rehash(bytes(data))
    with pytest.raises(E.UnknownPresetError, match="x.rvec: header field 'preset_name'"):
        decode_rvec(data, "x.rvec")
    prog = decode_rvec(data, "x.rvec", unverified_limits=True)
    assert not prog.limits_verified
    # the records stay bound by the header limits even then
    bad = _forge(data, None, (_first_form(form), "v_bl", 12.0))
    with pytest.raises(E.RecordRatingsError):
        decode_rvec(bad, unverified_limits=True)


def test_csv_readers_resolve_the_preset_too(form, genuine):
    text = to_csv_text(form)
    forged = text.replace("v_form_max=5.0", "v_form_max=50.0")
    with pytest.raises(E.HeaderRatingsError, match="limits.v_form_max"):
        parse_csv(forged, "x.csv")
    with pytest.raises(E.UnknownPresetError):
        parse_csv(text.replace("# preset_name: rram-40nm-256kb", "# preset_name: other"))
    assert parse_csv(text, spec=genuine).same_as(form)


def test_edited_copy_given_as_target_does_not_launder_a_forged_file(form, edited_file):
    edited = load_spec(edited_file)
    data = _forge(encode_rvec(form), {"v_form_max": 50.0}, (_first_form(form), "v_bl", 12.0))
    with pytest.raises(E.HeaderRatingsError):
        decode_rvec(data, spec=edited, allow_other_preset=True)


def test_writer_given_another_spec_writes_that_identity(form, edited_file, tmp_path):
    edited = load_spec(edited_file)
    path = write_rvec(form, tmp_path / "e.rvec", spec=edited)
    back = read_rvec(path, presets=[edited])
    assert back.header.preset_digest != form.header.preset_digest
    assert back.header.limits == Limits.from_spec(edited)
    # without the edited copy, the file names a known preset whose digest it does not carry
    with pytest.raises(E.PresetMismatchError, match="preset_digest"):
        read_rvec(path)


def test_writers_refuse_a_genuine_identity_with_raised_limits(form, edited_file, tmp_path):
    edited = load_spec(edited_file)
    h = form.header
    forged = Program(h.__class__(h.n_arrays, h.rows, h.cols, h.preset_name, h.preset_digest,
                                 Limits.from_spec(edited)), form.records)
    with pytest.raises(E.HeaderRatingsError):
        write_rvec(forged, tmp_path / "x.rvec")
    with pytest.raises(E.HeaderRatingsError):
        write_csv(forged, tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())


def test_python_replay_checks_the_named_preset(form, edited_file):
    edited = load_spec(edited_file)
    forged = Program(form.header.__class__(
        form.header.n_arrays, form.header.rows, form.header.cols, form.header.preset_name,
        form.header.preset_digest, Limits.from_spec(edited)), form.records)
    with pytest.raises(E.HeaderRatingsError):
        replay(forged, Macro(edited, n_arrays=1, seed=0), allow_other_preset=True)


# --- the same attacks through every CLI reader ----------------------------------------------


@pytest.fixture
def forged_file(form, tmp_path) -> Path:
    p = tmp_path / "forged.rvec"
    p.write_bytes(_forge(encode_rvec(form), {"v_form_max": 50.0},
                         (_first_form(form), "v_bl", 12.0)))
    return p


@pytest.mark.parametrize("cmd", [
    ["inspect"], ["inspect", "--json"], ["export-csv", "--out", "{out}"],
    ["replay"], ["replay", "--out", "{out}"], ["replay", "--any-preset", "--preset", "{edited}"],
    ["inspect", "--unverified-limits"], ["export-csv", "--unverified-limits", "--out", "{out}"],
])
def test_cli_readers_refuse_a_forged_header(forged_file, edited_file, tmp_path, capsys, cmd):
    out = tmp_path / "out.any"
    argv = ["firmware", cmd[0], str(forged_file)] + [
        a.format(out=out, edited=edited_file) for a in cmd[1:]]
    rc, stdout, err = _run(capsys, argv)
    assert rc == 2, (stdout, err)
    assert str(forged_file) in err and "limits.v_form_max" in err and "Traceback" not in err
    assert not out.exists()


def test_import_csv_refuses_a_forged_csv_even_with_an_edited_preset(form, edited_file, tmp_path,
                                                                    capsys):
    c = tmp_path / "f.csv"
    write_csv(form, c)
    text = c.read_text().replace("v_form_max=5.0", "v_form_max=50.0")
    k = _first_form(form)
    lines = text.splitlines()
    j = next(i for i, ln in enumerate(lines) if ln.startswith(f"{k},FORM"))
    f = lines[j].split(",")
    f[8] = "12.0"
    lines[j] = ",".join(f)
    c.write_text("\n".join(lines) + "\n")
    out = tmp_path / "g.rvec"
    rc, _, err = _run(capsys, ["firmware", "import-csv", str(c), "--preset", edited_file,
                               "--any-preset", "--out", str(out)])
    assert rc == 2 and str(c) in err and "limits.v_form_max" in err
    assert not out.exists()


def test_import_csv_with_an_edited_preset_writes_the_edited_identity(form, edited_file,
                                                                     tmp_path, capsys):
    c, out = tmp_path / "f.csv", tmp_path / "g.rvec"
    write_csv(form, c)
    rc, stdout, err = _run(capsys, ["firmware", "import-csv", str(c), "--preset", edited_file,
                                    "--any-preset", "--out", str(out), "--json"])
    assert rc == 0, err
    data = out.read_bytes()
    edited = load_spec(edited_file)
    assert data[72:104] != form.header.preset_digest  # never the genuine digest ...
    assert struct.unpack_from("<7d", data, LIMITS_AT) == tuple(Limits.from_spec(edited))
    # ... so a reader that knows only the shipped preset refuses it, one given the copy accepts it
    rc, _, err = _run(capsys, ["firmware", "inspect", str(out)])
    assert rc == 2 and "preset_digest" in err
    rc, _, err = _run(capsys, ["firmware", "inspect", str(out), "--preset", edited_file])
    assert rc == 0, err


def test_replay_state_does_not_supply_the_ratings_of_a_known_preset(edited_file, tmp_path,
                                                                    capsys):
    """A macro state saved with an edited copy of the shipped preset, and vectors made for that
    copy (12 V forming): replaying them from the state must check the genuine preset."""
    edited = load_spec(edited_file)
    state = tmp_path / "s.npz"
    Macro(edited, n_arrays=1, seed=0).save(state)
    prog = forming_sweep(edited, v_max=12.0, v_start=11.9, v_step=0.1,
                         region=parse_region("0:1,0:1", edited))
    f = write_rvec(prog, tmp_path / "hot.rvec", spec=edited)
    rc, _, err = _run(capsys, ["firmware", "replay", str(f), "--state", str(state)])
    assert rc == 2 and str(f) in err and "preset_digest" in err
    # the forged-header variant (genuine digest, raised limits) is refused as well
    g = tmp_path / "forged.rvec"
    g.write_bytes(_forge(encode_rvec(forming_sweep(load_preset(), v_max=3.2,
                                                   region=parse_region("0:1,0:1", edited))),
                         {"v_form_max": 50.0}, (1, "v_bl", 12.0)))
    rc, _, err = _run(capsys, ["firmware", "replay", str(g), "--state", str(state),
                               "--any-preset"])
    assert rc == 2 and "limits.v_form_max" in err


def test_unverified_limits_are_said_in_every_output(form, tmp_path, capsys, small_preset_file):
    preset = small_preset_file(32, 32, "unknown-to-readers")
    other = small_preset_file(32, 32, "other-32")  # a replay target that is not the named preset
    spec = load_spec(preset)
    f = tmp_path / "u.rvec"
    rc, _, err = _run(capsys, ["firmware", "form", "--preset", preset, "--v-max", "3.2",
                               "--region", "0:2,0:2", "--out", str(f)])
    assert rc == 0, err
    rc, _, err = _run(capsys, ["firmware", "inspect", str(f)])
    assert rc == 2 and "--unverified-limits" in err and str(f) in err
    for argv in (["inspect"], ["export-csv", "--out", str(tmp_path / "u.csv")],
                 ["replay", "--preset", other, "--any-preset"]):
        rc, out, err = _run(capsys, ["firmware", argv[0], str(f), *argv[1:],
                                     "--unverified-limits"])
        assert rc == 0, err
        assert "limits NOT verified" in out
        rc, out, err = _run(capsys, ["firmware", argv[0], str(f), *argv[1:],
                                     "--unverified-limits", "--json", "--force"]
                            if argv[0] != "inspect" else
                            ["firmware", "inspect", str(f), "--unverified-limits", "--json"])
        assert rc == 0, err
        res = json.loads(out)
        assert res["limits_verified"] is False and "limits NOT verified" in res["warning"]
    # given the preset, the same file is verified
    rc, out, _ = _run(capsys, ["firmware", "inspect", str(f), "--preset", preset, "--json"])
    assert rc == 0 and json.loads(out)["limits_verified"] is True
    assert read_rvec(f, spec).limits_verified
    assert not read_rvec(f, unverified_limits=True).limits_verified
    assert read_csv(tmp_path / "u.csv", presets=[spec]).limits_verified


def test_json_output_is_strict(form, tmp_path, capsys):
    f = write_rvec(form, tmp_path / "f.rvec")
    rc, out, _ = _run(capsys, ["firmware", "inspect", str(f), "--json"])
    assert rc == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


def test_genuine_file_replays_on_an_edited_target_with_any_preset(form, edited_file, tmp_path,
                                                                  capsys):
    """The file's own identity is the shipped preset (verified); the edited copy is only the
    target, whose ratings apply as well."""
    f = write_rvec(form, tmp_path / "g.rvec")
    rc, out, err = _run(capsys, ["firmware", "replay", str(f), "--preset", edited_file,
                                 "--any-preset", "--json"])
    assert rc == 0, err
    assert json.loads(out)["limits_verified"] is True
    rc, _, err = _run(capsys, ["firmware", "replay", str(f), "--preset", edited_file])
    assert rc == 2 and "--any-preset" in err
