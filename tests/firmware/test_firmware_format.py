"""The .rvec and CSV formats: exact round trips, and every kind of corruption rejected with its
own error that names the problem (and the record)."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbar import load_preset
from firmware import errors as E
from firmware.csvio import parse_csv, read_csv, to_csv_text, write_csv
from firmware.isa import (
    OP_RESET,
    OP_SET,
    OP_WAIT,
    RECORD_DTYPE,
    Program,
    VectorHeader,
    make_records,
)
from firmware.programs import IsppSettings, forming_sweep, parse_region, write_verify_weights
from firmware.rvec import (
    HEADER_SIZE,
    MAGIC,
    RECORD_SIZE,
    decode_rvec,
    encode_rvec,
    read_rvec,
    write_rvec,
)


@pytest.fixture(scope="module")
def small(small_spec):
    return small_spec(16, 16)


@pytest.fixture(scope="module")
def programs(small):
    """A forming sweep (open windows, +inf), a write-verify on pairs (CHECK flags,
    conditionals, RESETs) and a hand-built program with WAITs and -inf windows."""
    form = forming_sweep(small, target_sparsity=0.4, region=parse_region("0:4,0:5", small),
                         chip_id="DIE-07.a")
    w = np.random.default_rng(1).normal(0, 6.0, (4, 3))
    wv = write_verify_weights(small, w, 1.5, settings=IsppSettings(max_iterations=3))
    h = VectorHeader.from_spec(small, 2, "", "custom")
    rec = np.concatenate([
        make_records(OP_WAIT, t_ns=1e6),
        make_records(OP_SET, array=1, row=15, col=15, v_wl=1.234567, v_bl=1.1, v_sl=0.05,
                     t_ns=50, icc_ua=123.456),
        make_records(OP_RESET, array=1, row=3, col=2, v_wl=2.0, v_bl=0.1, v_sl=1.7, t_ns=80),
        make_records(5, array=0, row=1, col=1, v_wl=1.0, v_bl=0.2, t_ns=10, lo_us=-np.inf,
                     hi_us=3.14159, flags=1),
    ])
    return {"form": form, "wv": wv, "custom": Program(h, rec)}


@pytest.mark.parametrize("name", ["form", "wv", "custom"])
def test_rvec_round_trip_is_exact(programs, small, tmp_path, name):
    prog = programs[name]
    path = write_rvec(prog, tmp_path / "p.rvec", spec=small)
    back = read_rvec(path, small)
    assert back.same_as(prog)
    assert path.stat().st_size == HEADER_SIZE + RECORD_SIZE * len(prog) + 32
    assert path.read_bytes() == encode_rvec(prog)


@pytest.mark.parametrize("name", ["form", "wv", "custom"])
def test_csv_round_trip_is_exact(programs, small, tmp_path, name):
    prog = programs[name]
    back = parse_csv(to_csv_text(prog), spec=small)
    assert back.same_as(prog)
    path = write_csv(prog, tmp_path / "p.csv")
    assert read_csv(path, small).same_as(prog)
    # rvec -> csv -> rvec is byte-exact
    assert encode_rvec(read_csv(path, presets=[small])) == encode_rvec(prog)


def test_header_fields_are_where_the_spec_says(programs):
    prog = programs["form"]
    data = encode_rvec(prog)
    assert data[:8] == MAGIC
    version, hsize, rsize, flags, count = struct.unpack_from("<HHHHQ", data, 8)
    assert (version, hsize, rsize, flags, count) == (1, 256, 40, 0, len(prog))
    assert struct.unpack_from("<III", data, 24) == (1, 16, 16)
    assert data[40:72].rstrip(b"\0") == b"rram-40nm-256kb"
    assert data[104:120].rstrip(b"\0") == b"DIE-07.a"
    assert data[120:136].rstrip(b"\0") == b"forming-sweep"
    assert struct.unpack_from("<7d", data, 136)[0] == 5.0  # v_form_max
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()
    # the first record is the pre-check VERIFY of cell (0, 0, 0): opcode 5 at byte 256
    assert data[256] == 5


def test_no_overwrite_without_force(programs, small, tmp_path):
    p = write_rvec(programs["custom"], tmp_path / "a.rvec")
    with pytest.raises(E.OutputExistsError, match="--force"):
        write_rvec(programs["custom"], p)
    write_rvec(programs["form"], p, force=True)
    assert read_rvec(p, small).same_as(programs["form"])
    assert not list(tmp_path.glob(".*tmp"))


# --- corruption -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(programs):
    return encode_rvec(programs["wv"])


def _rehash(data: bytes) -> bytes:
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


def _patch_record(data: bytes, index: int, field: str, value) -> bytes:
    rec = np.frombuffer(data, RECORD_DTYPE, count=1, offset=HEADER_SIZE + index * RECORD_SIZE)
    rec = rec.copy()
    rec[field] = value
    off = HEADER_SIZE + index * RECORD_SIZE
    return _rehash(data[:off] + rec.tobytes() + data[off + RECORD_SIZE:])


def test_flipped_checksum_byte(good, small):
    bad = good[:-5] + bytes([good[-5] ^ 0x01]) + good[-4:]
    with pytest.raises(E.ChecksumError, match="checksum mismatch"):
        decode_rvec(bad, "x.rvec", small)


def test_flipped_record_byte_fails_checksum(good):
    k = HEADER_SIZE + 3 * RECORD_SIZE + 17
    bad = good[:k] + bytes([good[k] ^ 0x40]) + good[k + 1:]
    with pytest.raises(E.ChecksumError):
        decode_rvec(bad)


def test_truncated_mid_record_names_the_record(good):
    cut = HEADER_SIZE + 7 * RECORD_SIZE + 13
    with pytest.raises(E.TruncatedFileError, match=r"inside record 7 \(13 of 40 bytes\)"):
        decode_rvec(good[:cut], "x.rvec")


@pytest.mark.parametrize("cut,msg", [(100, "inside the header"), (-10, "inside the SHA-256"),
                                     (HEADER_SIZE, "right after the header")])
def test_truncated_elsewhere(good, cut, msg):
    with pytest.raises(E.TruncatedFileError, match=msg):
        decode_rvec(good[:cut])


def test_trailing_bytes(good):
    with pytest.raises(E.TrailingDataError, match="3 unexpected bytes"):
        decode_rvec(good + b"abc")


def test_bumped_version_is_named_not_a_checksum_error(good):
    bad = good[:8] + struct.pack("<H", 2) + good[10:]
    with pytest.raises(E.UnsupportedVersionError, match="version 2 is not supported"):
        decode_rvec(bad)


def test_bad_magic(good):
    with pytest.raises(E.BadMagicError):
        decode_rvec(b"PK\x03\x04" + good[4:])
    with pytest.raises(E.TruncatedFileError, match="empty"):
        decode_rvec(b"")


def test_reserved_header_bytes(good):
    bad = _rehash(good[:200] + b"\x01" + good[201:])
    with pytest.raises(E.HeaderError, match="reserved"):
        decode_rvec(bad)


def test_out_of_range_address_names_record(good, small):
    bad = _patch_record(good, 5, "row", 16)
    with pytest.raises(E.RecordAddressError, match=r"record 5 .*row = 16 is outside 0..15"):
        decode_rvec(bad, "x.rvec", small)


def test_over_voltage_names_record_field_and_rating(good, programs, small):
    i = int(np.flatnonzero(programs["wv"].records["op"] == OP_SET)[0])
    bad = _patch_record(good, i, "v_bl", 2.6)
    with pytest.raises(E.RecordRatingsError,
                       match=rf"record {i} \(SET .*V_BL = 2.6 V exceeds ratings.v_set_max = 2.5"):
        decode_rvec(bad, "x.rvec", small)


def test_target_preset_ratings_apply_too(programs, small):
    """A file within its own header limits but over the target preset's ratings is refused."""
    strict = small.with_overrides(ratings={"v_reset_max": 1.15})  # the program goes to 1.3 V
    data = encode_rvec(programs["wv"])
    with pytest.raises(E.RecordRatingsError, match="v_reset_max = 1.15 V of preset"):
        decode_rvec(data, spec=strict, allow_other_preset=True, presets=[small])


def test_nan_and_rule_violations(good, small):
    with pytest.raises(E.RecordValueError, match="hi_us = nan"):
        decode_rvec(_patch_record(good, 0, "hi_us", np.nan), spec=small)
    with pytest.raises(E.RecordValueError, match="opcode"):
        decode_rvec(_patch_record(good, 2, "op", 9), spec=small)
    with pytest.raises(E.RecordValueError, match="RESET drives the source line"):
        decode_rvec(_patch_record(good, 2, "v_bl", 2.9), spec=small)  # record 2 is a RESET


def test_wrong_chip_id(programs, small):
    data = encode_rvec(programs["form"])
    with pytest.raises(E.ChipIdMismatchError, match="bound to chip 'DIE-07.a'"):
        decode_rvec(data, chip_id="DIE-08", presets=[small])
    assert len(decode_rvec(data, chip_id="DIE-07.a", presets=[small])) == len(programs["form"])
    # a file without a chip id runs on any chip
    decode_rvec(encode_rvec(programs["wv"]), chip_id="DIE-08", presets=[small])


def test_preset_mismatch(programs, small):
    data = encode_rvec(programs["form"])
    other = small.with_overrides(forming={"breakdown_mean_v": 3.7})
    with pytest.raises(E.PresetMismatchError, match="--any-preset"):
        decode_rvec(data, spec=other, presets=[small])
    decode_rvec(data, spec=other, allow_other_preset=True, presets=[small])
    with pytest.raises(E.PresetMismatchError, match="16 x 16"):
        decode_rvec(data, spec=load_preset(), allow_other_preset=True, presets=[small])


def test_csv_errors_name_the_line(programs, small):
    text = to_csv_text(programs["custom"])
    lines = text.splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("1,SET"))
    bad = "\n".join(lines[:k] + [lines[k].replace("1.1,", "3.1,", 1)] + lines[k + 1:])
    with pytest.raises(E.RecordRatingsError, match=rf"record 1 \(line {k + 1}\)"):
        parse_csv(bad, spec=small)
    bad = "\n".join(lines[:k] + [lines[k].replace("SET", "ZAP")] + lines[k + 1:])
    with pytest.raises(E.CsvFormatError, match=rf"line {k + 1}: op 'ZAP'"):
        parse_csv(bad)
    with pytest.raises(E.CsvFormatError, match="line 1"):
        parse_csv("index,op\n")


# --- property tests ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_format_errors(data):
    try:
        decode_rvec(data)
    except E.VectorFormatError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([0, 8, 12, 40, 136, 256]), noise=st.binary(min_size=1,
                                                                            max_size=300))
def test_valid_prefix_plus_random_bytes_only_raise_format_errors(good, prefix, noise):
    """Random content behind a valid magic/header, checked with and without the checksum."""
    data = good[:prefix] + noise
    for check in (True, False):
        try:
            decode_rvec(data, check_checksum=check)
        except E.VectorFormatError:
            pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(min_size=40, max_size=400))
def test_random_records_with_valid_checksum_only_raise_format_errors(good, small, body):
    """Random record bytes behind a valid header and a correct checksum reach the record rules:
    they must be refused with a format error or accepted as valid records."""
    n = len(body) // RECORD_SIZE
    head = bytearray(good[:HEADER_SIZE])
    struct.pack_into("<Q", head, 16, n)
    core = bytes(head) + body[:n * RECORD_SIZE]
    data = core + hashlib.sha256(core).digest()
    try:
        prog = decode_rvec(data, spec=small)
    except E.VectorFormatError:
        return
    assert len(prog) == n


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(0, 10_000), flip=st.integers(1, 255), cut=st.booleans())
def test_mutated_files_are_rejected(good, pos, flip, cut):
    pos %= len(good)
    data = good[:pos] if cut else good[:pos] + bytes([good[pos] ^ flip]) + good[pos + 1:]
    with pytest.raises(E.VectorFormatError):
        decode_rvec(data)
