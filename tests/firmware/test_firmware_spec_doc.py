"""The vector-file spec is implementable from docs/firmware-vector-format.md alone (issue 11,
section 4): the preset digest re-implemented here from the document's canonical form (without
the product's digest code), the order of checks, 'lowest record index', and CSV round trips for
every allowed preset name."""

from __future__ import annotations

import hashlib
import re
import struct
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossbar.defaults import DEFAULT_PRESET
from crossbar.resources import config_file
from crossbar.spec import MacroSpec, spec_from_dict
from firmware import errors as E
from firmware.csvio import parse_csv, to_csv_text
from firmware.isa import OP_FORM, RECORD_DTYPE, Program, VectorHeader, make_records
from firmware.programs import forming_sweep, parse_region
from firmware.rvec import HEADER_SIZE, decode_rvec, encode_rvec
from rram_lsm.cli import main

# --- an independent implementation of docs/firmware-vector-format.md section 2.1 ---------------

DOC_SECTIONS = {
    "geometry": ["rows", "cols", "cell"],
    "read": ["v_read", "t_read_ns", "noise_relative", "noise_floor_us"],
    "pristine": ["g_median_us", "g_sigma_log"],
    "forming": ["v_start", "v_step", "v_default", "breakdown_mean_v", "breakdown_std_v",
                "g_formed_threshold_us", "g_formed_mean_us", "g_formed_std_us",
                "g_formed_max_us", "compliance_ua", "t_pulse_ns"],
    "switching": ["g_min_us", "g_max_us", "v_set_threshold", "v_reset_threshold",
                  "set_rate_per_v", "reset_rate_per_v", "t_ref_ns", "c2c_std"],
    "drift": ["t0_s", "nu_mean", "nu_std"],
    "faults": ["stuck_low_rate", "stuck_high_rate", "g_stuck_low_us", "g_stuck_high_us"],
    "periphery": ["adc_bits", "adc_range_rule", "adc_percentile", "adc_fixed_range_ua",
                  "adcs_per_array", "t_adc_ns", "tia_v_fullscale", "r_wire_ohm", "ir_drop"],
    "ratings": ["v_form_max", "v_set_max", "v_reset_max", "v_wl_max", "v_read_max",
                "t_pulse_max_ns", "compliance_max_ua"],
    "energy": ["e_adc_j", "e_wordline_j", "e_cell_read_overhead_j", "e_write_overhead_j"],
}
DOC_TYPES = {"geometry.rows": "int", "geometry.cols": "int", "geometry.cell": "str",
             "periphery.adc_bits": "int", "periphery.adcs_per_array": "int",
             "periphery.adc_range_rule": "str", "periphery.ir_drop": "bool"}
DOC_DEFAULTS = {"geometry.cell": "1T1R", "periphery.ir_drop": False}


def doc_float(x: float) -> str:
    """Shortest round-trip digits, laid out as the document says."""
    x = float(x)
    sign = "-" if np.signbit(x) else ""
    x = abs(x)
    if x == 0:
        return sign + "0.0"
    for p in range(17):  # p + 1 significant digits; the rounded value and its neighbours
        mant, exp = f"{x:.{p}e}".split("e")
        d0 = int(mant.replace(".", ""))
        fits = [d for d in (d0 - 1, d0, d0 + 1)
                if d > 0 and float(Decimal(d).scaleb(int(exp) - p)) == x]
        if fits:
            d = min(fits, key=lambda d: (abs(Fraction(d) * Fraction(10) ** (int(exp) - p)
                                             - Fraction(x)), d % 2))  # a tie: even digit
            break
    ds = str(d)
    xexp = len(ds) - 1 + int(exp) - p  # value = d1.d2d3... x 10^xexp
    digits = ds.rstrip("0") or "0"
    e = xexp + 1  # value = 0.d1d2... x 10^e
    if -4 <= xexp < 16:
        if e <= 0:
            body = "0." + "0" * (-e) + digits
        elif e >= len(digits):
            body = digits + "0" * (e - len(digits)) + ".0"
        else:
            body = digits[:e] + "." + digits[e:]
    else:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        body += "e" + ("+" if xexp >= 0 else "-") + f"{abs(xexp):02d}"
    return sign + body


def doc_string(s: str) -> str:
    named = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t"}
    out = []
    for ch in s:
        c = ord(ch)
        if ch in named:
            out.append(named[ch])
        elif c < 0x20 or 0x7E < c <= 0xFFFF:
            out.append(f"\\u{c:04x}")
        elif c > 0xFFFF:
            v = c - 0x10000
            out.append(f"\\u{0xD800 + (v >> 10):04x}\\u{0xDC00 + (v & 0x3FF):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def doc_digest(raw: dict) -> bytes:
    """SHA-256 of the canonical text of a preset given as its parsed YAML (sourced leaves)."""
    members: dict[str, str] = {"name": doc_string(raw["name"]),
                               "description": doc_string(raw.get("description", ""))}
    for section, keys in DOC_SECTIONS.items():
        given_ = raw.get(section, {})
        parts = {}
        for k in keys:
            dotted = f"{section}.{k}"
            v = given_[k]["value"] if k in given_ else DOC_DEFAULTS[dotted]
            kind = DOC_TYPES.get(dotted, "float")
            parts[k] = (str(int(v)) if kind == "int" else doc_string(v) if kind == "str"
                        else ("true" if v else "false") if kind == "bool" else doc_float(v))
        members[section] = "{" + ",".join(f"{doc_string(k)}:{parts[k]}"
                                          for k in sorted(parts)) + "}"
    text = "{" + ",".join(f"{doc_string(k)}:{members[k]}" for k in sorted(members)) + "}"
    return hashlib.sha256(text.encode("utf-8")).digest()


# --- the digest ---------------------------------------------------------------------------------


def _raw() -> dict:
    return yaml.safe_load(config_file(f"macro/{DEFAULT_PRESET}.yaml").read_text())


def _product_digest(raw: dict) -> bytes:
    """The digest the product writes into a file header (bytes 72..104)."""
    spec = spec_from_dict(raw)
    return encode_rvec(Program(VectorHeader.from_spec(spec), make_records([])))[72:104]


@pytest.mark.parametrize("x,text", [(5.0, "5.0"), (0.05, "0.05"), (100000.0, "100000.0"),
                                    (2e-12, "2e-12"), (1e-05, "1e-05"), (0.0001, "0.0001"),
                                    (1.5e16, "1.5e+16"), (1234567890123456.0,
                                                          "1234567890123456.0"),
                                    (-0.5, "-0.5"), (0.0, "0.0"), (1e12, "1000000000000.0"),
                                    (2.0 ** -24, "5.960464477539063e-08"), (9.5, "9.5"),
                                    (1e-4, "0.0001"), (1e16, "1e+16")])
def test_doc_float_examples(x, text):
    assert doc_float(x) == text


def test_doc_schema_lists_every_preset_key():
    """The document's key table (copied above) covers the whole preset schema."""
    assert set(DOC_SECTIONS) | {"name", "description", "provenance"} == set(
        MacroSpec.model_fields)
    for section, keys in DOC_SECTIONS.items():
        assert set(keys) == set(MacroSpec.model_fields[section].annotation.model_fields)


def test_shipped_preset_digest_from_the_document(tmp_path, capsys):
    f = tmp_path / "f.rvec"
    assert main(["firmware", "form", "--v-max", "3.2", "--region", "0:1,0:1",
                 "--out", str(f)]) == 0
    assert f.read_bytes()[72:104] == doc_digest(_raw())


def test_digest_with_defaults_integers_and_escapes():
    raw = _raw()
    del raw["description"]
    del raw["geometry"]["cell"]
    del raw["periphery"]["ir_drop"]
    raw["read"]["t_read_ns"]["value"] = 10  # an integer in YAML is the float 10.0
    raw["ratings"]["t_pulse_max_ns"]["value"] = 1e12
    raw["energy"]["e_adc_j"]["value"] = 1e-05 * 1e-7
    assert _product_digest(raw) == doc_digest(raw)
    raw["description"] = 'µ — "q" \\ \n\t\x01 é 😀'
    raw["name"] = "q\"uote \\ back"
    assert _product_digest(raw) == doc_digest(raw)


_FLOAT_KEYS = [("read", "noise_relative", 0.0, 1.0), ("drift", "nu_std", 0.0, 1.0),
               ("energy", "e_wordline_j", 0.0, 1e-6), ("faults", "g_stuck_low_us", 0.0, 1e4),
               ("ratings", "compliance_max_ua", 200.0, 1e5), ("periphery", "r_wire_ohm", 0, 1e4)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.tuples(*(st.floats(lo, hi, allow_nan=False, allow_subnormal=False)
                          for _, _, lo, hi in _FLOAT_KEYS)),
       description=st.text(max_size=40))
def test_digest_matches_the_document_for_random_values(values, description):
    raw = _raw()
    for (section, key, _, _), v in zip(_FLOAT_KEYS, values):
        raw[section][key]["value"] = v
    raw["description"] = description
    assert _product_digest(raw) == doc_digest(raw)


# --- order of checks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(small_spec) -> bytes:
    spec = small_spec(16, 16)
    return encode_rvec(forming_sweep(spec, v_max=3.2, region=parse_region("0:2,0:2", spec)))


def _rehash(data: bytes) -> bytes:
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


@pytest.mark.parametrize("n,cls", [(0, E.TruncatedFileError), (3, E.TruncatedFileError),
                                   (8, E.TruncatedFileError), (9, E.TruncatedFileError)])
def test_files_shorter_than_magic_and_version(good, n, cls):
    with pytest.raises(cls):
        decode_rvec(good[:n])


@pytest.mark.parametrize("data", [b"abc", b"\x89RVEX", b"\x89RVEC\r\n\x1b", b"\x00" * 300])
def test_bad_magic_over_the_bytes_present(data):
    with pytest.raises(E.BadMagicError):
        decode_rvec(data)


def test_version_before_length(good):
    data = good[:8] + struct.pack("<H", 2) + good[10:100]
    assert len(data) == 100
    with pytest.raises(E.UnsupportedVersionError):
        decode_rvec(data)
    with pytest.raises(E.UnsupportedVersionError):
        decode_rvec(good[:8] + struct.pack("<H", 2))


def test_header_fields_in_offset_order(good):
    b = bytearray(good)
    struct.pack_into("<I", b, 28, 0)  # rows = 0
    struct.pack_into("<d", b, 136, -1.0)  # v_form_max < 0
    b[40:72] = b" bad name".ljust(32, b"\0")
    with pytest.raises(E.HeaderError, match="'rows'"):
        decode_rvec(_rehash(bytes(b)))
    struct.pack_into("<I", b, 28, 16)
    with pytest.raises(E.HeaderError, match="'preset_name'"):
        decode_rvec(_rehash(bytes(b)))
    b[40:72] = good[40:72]
    with pytest.raises(E.HeaderError, match="'limits.v_form_max'"):
        decode_rvec(_rehash(bytes(b)))
    struct.pack_into("<H", b, 12, 41)  # record_size wrong: before everything else
    with pytest.raises(E.HeaderError, match="'record_size'"):
        decode_rvec(_rehash(bytes(b)))


def test_lowest_record_index_whatever_the_rule(good, small_spec):
    """Record 3 breaks a rating (late in the rule order), record 5 has a NaN and record 6 an
    unknown opcode (early in the rule order): record 3 is reported."""
    spec = small_spec(16, 16)
    b = bytearray(good)
    rec = np.frombuffer(bytes(b[HEADER_SIZE:-32]), RECORD_DTYPE).copy()
    k = int(np.flatnonzero(rec["op"] == OP_FORM)[0])
    rec[k]["v_bl"] = 4.9  # under the header's 5 V: make it over by the ratings of the target
    rec[k + 2]["hi_us"] = np.nan
    rec[k + 3]["op"] = 9
    b[HEADER_SIZE:-32] = rec.tobytes()
    strict = spec.with_overrides(ratings={"v_form_max": 4.0})
    with pytest.raises(E.RecordRatingsError, match=rf"record {k} "):
        decode_rvec(_rehash(bytes(b)), spec=strict, allow_other_preset=True, presets=[spec])
    with pytest.raises(E.RecordValueError, match=rf"record {k + 2} .*is NaN"):
        decode_rvec(_rehash(bytes(b)), presets=[spec])


def test_csv_reports_the_lowest_bad_line(good, small_spec):
    spec = small_spec(16, 16)
    prog = decode_rvec(good, spec=spec)
    lines = to_csv_text(prog).split("\n")
    first = next(i for i, ln in enumerate(lines) if ln.startswith("0,"))
    a = lines[first + 1].split(",")
    a[9] = "x"  # v_sl of record 1: a late column
    lines[first + 1] = ",".join(a)
    b = lines[first + 4].split(",")
    b[1] = "ZAP"  # op of record 4: an early column
    lines[first + 4] = ",".join(b)
    lines[first + 6] = "1,2,3"  # wrong field count, later still
    with pytest.raises(E.CsvFormatError, match=rf"line {first + 2}: v_sl 'x'"):
        parse_csv("\n".join(lines), spec=spec)


# --- preset names that round-trip ---------------------------------------------------------------

NAME_RE = re.compile(r"[!-~](?:[ -~]{0,30}[!-~])?")  # copied from the document, section 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.from_regex(NAME_RE, fullmatch=True))
def test_csv_round_trip_is_byte_exact_for_every_allowed_name(small_spec, name):
    spec = small_spec(16, 16).with_overrides()
    spec = spec.model_copy(update={"name": name})
    prog = Program(VectorHeader.from_spec(spec), make_records(OP_FORM, v_wl=1.0, v_bl=3.0,
                                                              t_ns=100.0, icc_ua=100.0))
    back = parse_csv(to_csv_text(prog), presets=[spec])
    assert back.header.preset_name == name
    assert encode_rvec(back) == encode_rvec(prog)


@pytest.mark.parametrize("name", ["", " lead", "trail ", "tab\tname", "new\nline", "é",
                                  "x" * 33, "a\x00b"])
def test_names_that_would_not_round_trip_are_refused(small_spec, good, name):
    spec = small_spec(16, 16).model_copy(update={"name": name})
    with pytest.raises(E.FirmwareError, match="preset name"):
        VectorHeader.from_spec(spec)
    b = bytearray(good)
    raw = name.encode("utf-8")
    if b"\0" not in raw and len(raw) <= 32:
        b[40:72] = raw.ljust(32, b"\0")
        with pytest.raises(E.HeaderError, match="preset_name"):
            decode_rvec(_rehash(bytes(b)))


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_doc_float_is_the_text_json_writes(x):
    import json

    assert doc_float(x) == json.dumps(x)
    assert float(doc_float(x)) == x
