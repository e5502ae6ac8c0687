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
from pathlib import Path
from typing import BinaryIO

import numpy as np

from crossbar.fsio import atomic_write
from crossbar.spec import MacroSpec
from firmware import errors as E
from firmware.isa import (
    COND_CODES,
    COND_NAMES,
    FLAG_CHECK,
    FLOAT_FIELDS,
    OP_CODES,
    OP_NAMES,
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
    if not name or len(name.encode("utf-8")) > 32:
        raise E.CsvFormatError(f"{origin}: preset_name must be 1..32 UTF-8 bytes")
    try:
        header = VectorHeader(n_arrays, rows, cols, name, digest, limits,
                              check_chip_id(meta["chip_id"]), check_label(meta["program"]))
    except E.FirmwareError as exc:
        raise E.CsvFormatError(f"{origin}: {exc}") from None
    if i >= len(lines) or lines[i].strip() != ",".join(COLUMNS):
        raise E.CsvFormatError(f"{origin}: line {i + 1} must be the column line "
                               f"'{','.join(COLUMNS)}'")
    return header, i + 1


def _parse_column(texts: list[str], what: str, parse, origin: str, first_line: int
                  ) -> np.ndarray:
    try:
        return parse(texts)
    except (ValueError, KeyError, OverflowError):
        for k, t in enumerate(texts):
            try:
                parse([t])
            except (ValueError, KeyError, OverflowError):
                raise E.CsvFormatError(
                    f"{origin}: line {first_line + k}: {what} {t!r} is not valid") from None
        raise


def parse_csv(text: str, origin: str = "<csv>", spec: MacroSpec | None = None, *,
              chip_id: str | None = None, allow_other_preset: bool = False) -> Program:
    """Parse and validate the CSV form (see module docstring)."""
    lines = text.splitlines()
    header, first = _meta(lines, origin)
    body = [ln for ln in lines[first:]]
    while body and not body[-1].strip():
        body.pop()
    fields = [ln.split(",") for ln in body]
    for k, f in enumerate(fields):
        if len(f) != len(COLUMNS):
            raise E.CsvFormatError(f"{origin}: line {first + 1 + k}: {len(f)} fields, expected "
                                   f"{len(COLUMNS)}")
    cols = list(zip(*fields)) if fields else [()] * len(COLUMNS)
    line0 = first + 1
    n = len(fields)
    rec = np.zeros(n, RECORD_DTYPE)

    def ints(t, hi=65535):
        a = np.array([int(x) for x in t], dtype=np.int64)
        if a.size and (a.min() < 0 or a.max() > hi):
            raise ValueError
        return a

    idx = _parse_column(list(cols[0]), "index", lambda t: ints(t, np.iinfo(np.int64).max),
                        origin, line0)
    bad = np.flatnonzero(idx != np.arange(n))
    if bad.size:
        raise E.CsvFormatError(f"{origin}: line {line0 + bad[0]}: index {idx[bad[0]]} out of "
                               f"sequence (expected {bad[0]}; records are numbered 0, 1, ...)")
    for j, (name, table) in enumerate((("op", OP_CODES), ("cond", COND_CODES),
                                       ("flags", _FLAG_CODES)), start=1):
        rec[name] = _parse_column(list(cols[j]), name,
                                  lambda t, tb=table: np.array([tb[x.strip()] for x in t],
                                                               dtype=np.int64),
                                  origin, line0)
    for j, name in enumerate(("array", "row", "col"), start=4):
        rec[name] = _parse_column(list(cols[j]), name, ints, origin, line0)
    for j, name in enumerate(FLOAT_FIELDS, start=7):
        rec[name] = _parse_column(list(cols[j]), name,
                                  lambda t: np.array(t, dtype=np.float64).astype(np.float32),
                                  origin, line0)
    if spec is not None:
        check_target(header, spec, chip_id=chip_id, allow_other_preset=allow_other_preset,
                     origin=origin)
    else:
        check_chip(header, chip_id, origin)
    check_records(rec, header, spec, origin=origin,
                  describe=lambda i: f"record {i} (line {line0 + i})")
    return Program(header, rec)


def read_csv(path: str | os.PathLike, spec: MacroSpec | None = None, *,
             chip_id: str | None = None, allow_other_preset: bool = False) -> Program:
    """Read and validate a vector CSV file (see `parse_csv`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise E.CsvFormatError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise E.CsvFormatError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    return parse_csv(text, str(path), spec, chip_id=chip_id,
                     allow_other_preset=allow_other_preset)
