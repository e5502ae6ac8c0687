"""Human-readable CSV form of a vector program (same operations as .rvec, exact round trip).

Layout::

    # rram-lsm vectors csv 1
    # preset_name: rram-40nm-256kb
    # preset_digest: <64 hex digits>
    # geometry: <n_arrays> <rows> <cols>
    # chip_id: <id or empty>
    # program: <label or empty>
    # limits: v_form_max=5.0 v_set_max=2.5 ... compliance_max_ua=500.0
    index,op,cond,flags,array,row,col,v_wl,v_bl,v_sl,t_ns,icc_ua,lo_us,hi_us
    0,VERIFY,ALWAYS,CHECK,0,3,7,1.8,0.1,0.0,10.0,0.0,48.0,52.0

Opcodes, conditions and flags are written by name; floats as the shortest text that reads back
to the same float32 (``inf`` / ``-inf`` for open verify windows); the limits as the shortest
float64 text. The reader applies exactly the checks of the .rvec reader (see `firmware.validate`)
and names the line of any problem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from crossbar.fsio import atomic_write
from crossbar.spec import MacroSpec
from firmware import errors as E
from firmware.identity import check_written_identity, resolve_identity
from firmware.isa import (
    COND_CODES,
    COND_NAMES,
    FLAG_CHECK,
    FLOAT_FIELDS,
    OP_CODES,
    OP_NAMES,
    PRESET_NAME_RE,
    RECORD_DTYPE,
    Limits,
    Program,
    VectorHeader,
    check_chip_id,
    check_label,
)
from firmware.validate import check_chip, check_records, check_target

CSV_MAGIC = "# rram-lsm vectors csv 1"
COLUMNS = ("index", "op", "cond", "flags", "array", "row", "col", *FLOAT_FIELDS)
_FLAG_NAMES = {0: "", FLAG_CHECK: "CHECK"}
_FLAG_CODES = {v: k for k, v in _FLAG_NAMES.items()}
_CHUNK = 200_000


def _f32_text(x: np.float32) -> str:
    return str(np.float32(x))


def _column_text(values: np.ndarray, fmt) -> np.ndarray:
    u, inv = np.unique(values, return_inverse=True)
    return np.array([fmt(v) for v in u], dtype=object)[inv.reshape(-1)]


def _names(values: np.ndarray, table: dict[int, str], what: str) -> np.ndarray:
    def fmt(v):
        if int(v) not in table:
            raise E.RecordRuleError(f"cannot write {what} {int(v)} by name")
        return table[int(v)]

    return _column_text(values, fmt)


def header_lines(h: VectorHeader) -> list[str]:
    lim = " ".join(f"{k}={v!r}" for k, v in zip(Limits._fields, h.limits))
    return [CSV_MAGIC, f"# preset_name: {h.preset_name}",
            f"# preset_digest: {h.preset_digest.hex()}",
            f"# geometry: {h.n_arrays} {h.rows} {h.cols}", f"# chip_id: {h.chip_id}",
            f"# program: {h.program}", f"# limits: {lim}", ",".join(COLUMNS)]


def _rows_text(rec: np.ndarray, first_index: int) -> str:
    cols = [np.arange(first_index, first_index + rec.size).astype(str).astype(object),
            _names(rec["op"], OP_NAMES, "opcode"), _names(rec["cond"], COND_NAMES, "condition"),
            _names(rec["flags"], _FLAG_NAMES, "flags")]
    cols += [_column_text(rec[f], lambda v: str(int(v))) for f in ("array", "row", "col")]
    cols += [_column_text(rec[f], _f32_text) for f in FLOAT_FIELDS]
    return "".join(",".join(row) + "\n" for row in zip(*cols))


def write_csv(program: Program, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Validate ``program`` and write it as CSV atomically (refuses to overwrite unless force)."""
    check_written_identity(program.header)
    check_records(program.records, program.header)
    rec = program.records

    def write(fh: BinaryIO) -> None:
        fh.write(("\n".join(header_lines(program.header)) + "\n").encode("utf-8"))
        for s in range(0, rec.size, _CHUNK):
            fh.write(_rows_text(rec[s:s + _CHUNK], s).encode("ascii"))

    return atomic_write(path, write, overwrite=force)


def to_csv_text(program: Program) -> str:
    """The CSV file as a string (small programs)."""
    check_records(program.records, program.header)
    return "\n".join(header_lines(program.header)) + "\n" + _rows_text(program.records, 0)


def _meta(lines: list[str], origin: str) -> tuple[VectorHeader, int]:
    if not lines or lines[0].strip() != CSV_MAGIC:
        raise E.CsvFormatError(f"{origin}: line 1 must be '{CSV_MAGIC}' (not a vector CSV)")
    meta: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].startswith("#"):
        key, sep, value = lines[i][1:].partition(":")
        if not sep:
            raise E.CsvFormatError(f"{origin}: line {i + 1}: expected '# key: value'")
        meta[key.strip()] = value.strip()
        i += 1
    need = ("preset_name", "preset_digest", "geometry", "chip_id", "program", "limits")
    missing = [k for k in need if k not in meta]
    if missing:
        raise E.CsvFormatError(f"{origin}: header line(s) missing: {', '.join(missing)}")
    try:
        n_arrays, rows, cols = (int(x) for x in meta["geometry"].split())
        digest = bytes.fromhex(meta["preset_digest"])
        if len(digest) != 32:
            raise ValueError
        lim_kv = dict(kv.split("=", 1) for kv in meta["limits"].split())
        limits = Limits(*(float(lim_kv[k]) for k in Limits._fields))
    except (ValueError, KeyError):
        raise E.CsvFormatError(
            f"{origin}: malformed 'geometry', 'preset_digest' or 'limits' header line") from None
    for what, v in (("n_arrays", n_arrays), ("rows", rows), ("cols", cols)):
        if not 1 <= v <= 65536:
            raise E.CsvFormatError(f"{origin}: geometry {what} = {v} outside 1..65536")
    if not all(np.isfinite(v) and v > 0 for v in limits):
        raise E.CsvFormatError(f"{origin}: limits must be finite and > 0")
    name = meta["preset_name"]
    if not PRESET_NAME_RE.fullmatch(name):
        raise E.CsvFormatError(f"{origin}: header line 'preset_name' = {name!r} must be 1..32 "
                               "printable ASCII characters without a leading or trailing space")
    try:
        header = VectorHeader(n_arrays, rows, cols, name, digest, limits,
                              check_chip_id(meta["chip_id"]), check_label(meta["program"]))
    except E.FirmwareError as exc:
        raise E.CsvFormatError(f"{origin}: {exc}") from None
    if i >= len(lines) or lines[i].strip() != ",".join(COLUMNS):
        raise E.CsvFormatError(f"{origin}: line {i + 1} must be the column line "
                               f"'{','.join(COLUMNS)}'")
    return header, i + 1


def _first_bad(texts: list[str], parse) -> tuple[np.ndarray | None, int]:
    """(parsed column, -1) or (None, position of the first text that does not parse)."""
    try:
        return parse(texts), -1
    except (ValueError, KeyError, OverflowError):
        for k, t in enumerate(texts):
            try:
                parse([t])
            except (ValueError, KeyError, OverflowError):
                return None, k
        raise


def _ints(t: list[str], hi: int = 65535) -> np.ndarray:
    a = np.array([int(x) for x in t], dtype=np.int64)
    if a.size and (a.min() < 0 or a.max() > hi):
        raise ValueError
    return a


_PARSERS = (("index", None),
            ("op", lambda t: np.array([OP_CODES[x.strip()] for x in t], dtype=np.int64)),
            ("cond", lambda t: np.array([COND_CODES[x.strip()] for x in t], dtype=np.int64)),
            ("flags", lambda t: np.array([_FLAG_CODES[x.strip()] for x in t], dtype=np.int64)),
            ("array", _ints), ("row", _ints), ("col", _ints),
            *((f, lambda t: np.array(t, dtype=np.float64).astype(np.float32))
              for f in FLOAT_FIELDS))


def _parse_body(body: list[str], origin: str, line0: int) -> np.ndarray:
    """Records of the data lines; a problem is reported for the lowest line that has one (in
    that line: field count, then the columns from left to right)."""
    fields = [ln.split(",") for ln in body]
    short = next((k for k, f in enumerate(fields) if len(f) != len(COLUMNS)), len(fields))
    good = fields[:short]
    cols = list(zip(*good)) if good else [()] * len(COLUMNS)
    n = len(good)
    rec = np.zeros(n, RECORD_DTYPE)
    worst: tuple[int, str] | None = None  # (position of the lowest bad line, problem)
    for j, (name, parse) in enumerate(_PARSERS):
        texts = list(cols[j])
        if name == "index":
            values, k = _first_bad(texts, lambda t: _ints(t, np.iinfo(np.int64).max))
            if values is not None:
                off = np.flatnonzero(values != np.arange(n))
                k = int(off[0]) if off.size else -1
        else:
            values, k = _first_bad(texts, parse)
            if values is not None:
                rec[name] = values
        if k >= 0 and (worst is None or k < worst[0]):  # strict: the leftmost column wins ties
            problem = (f"index {texts[k]!r} is not valid or out of sequence (expected {k}; "
                       "records are numbered 0, 1, ...)" if name == "index"
                       else f"{name} {texts[k]!r} is not valid")
            worst = (k, problem)
    if worst is not None:
        raise E.CsvFormatError(f"{origin}: line {line0 + worst[0]}: {worst[1]}")
    if short < len(fields):
        raise E.CsvFormatError(f"{origin}: line {line0 + short}: {len(fields[short])} fields, "
                               f"expected {len(COLUMNS)}")
    return rec


def parse_csv(text: str, origin: str = "<csv>", spec: MacroSpec | None = None, *,
              chip_id: str | None = None, allow_other_preset: bool = False,
              presets: Sequence[MacroSpec] = (),
              fallback_presets: Sequence[MacroSpec] = (), unverified_limits: bool = False) -> Program:
    """Parse and validate the CSV form (see module docstring); the identity, target and record
    checks and the meaning of the arguments are those of `firmware.rvec.read_rvec`."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    header, first = _meta(lines, origin)
    body = lines[first:]
    while body and not body[-1].strip():
        body.pop()
    line0 = first + 1
    rec = _parse_body(body, origin, line0)
    given = ([spec] if spec is not None else []) + list(presets)
    identity = resolve_identity(header, given, fallback=fallback_presets,
                                unverified_limits=unverified_limits, origin=origin)
    if spec is not None:
        check_target(header, spec, chip_id=chip_id, allow_other_preset=allow_other_preset,
                     origin=origin)
    else:
        check_chip(header, chip_id, origin)
    check_records(rec, header, spec, origin=origin,
                  describe=lambda i: f"record {i} (line {line0 + i})")
    return Program(header, rec, limits_verified=identity.verified)


def read_csv(path: str | os.PathLike, spec: MacroSpec | None = None, *,
             chip_id: str | None = None, allow_other_preset: bool = False,
             presets: Sequence[MacroSpec] = (),
             fallback_presets: Sequence[MacroSpec] = (), unverified_limits: bool = False) -> Program:
    """Read and validate a vector CSV file (see `parse_csv`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise E.CsvFormatError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise E.CsvFormatError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    return parse_csv(text, str(path), spec, chip_id=chip_id,
                     allow_other_preset=allow_other_preset, presets=presets,
                     fallback_presets=fallback_presets, unverified_limits=unverified_limits)
