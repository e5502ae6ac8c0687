"""The firmware instruction set: opcodes, the fixed-size record, the file header and `Program`.

One operation is one little-endian record of 40 bytes (`RECORD_DTYPE`); a program is a numpy
structured array of records plus a `VectorHeader` (geometry, preset identity, optional chip id,
the absolute-maximum ratings the records were checked against). Opcodes and conditions are the
pulse-engine codes of `crossbar.kernels` so that a record maps 1:1 onto `Macro.apply_ops`.

Line voltages: FORM / SET / READ / VERIFY drive the bit line (V_BL > V_SL, source line usually
0 V); RESET drives the source line (V_SL > V_BL). The cell sees |V_BL - V_SL|. The word-line
(gate) voltage V_WL switches the access transistor on. Units: V, ns, uA, uS.
See docs/firmware-vector-format.md for the full semantics.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from crossbar import kernels as K
from crossbar.spec import MacroSpec
from firmware.errors import FirmwareError, RecordRuleError

# --- opcodes and conditions (identical to the crossbar pulse engine) -----------------------------
OP_WAIT, OP_FORM, OP_SET, OP_RESET, OP_READ, OP_VERIFY = (
    K.OP_WAIT, K.OP_FORM, K.OP_SET, K.OP_RESET, K.OP_READ, K.OP_VERIFY)
OP_NAMES: dict[int, str] = {OP_WAIT: "WAIT", OP_FORM: "FORM", OP_SET: "SET", OP_RESET: "RESET",
                            OP_READ: "READ", OP_VERIFY: "VERIFY"}
OP_CODES: dict[str, int] = {v: k for k, v in OP_NAMES.items()}
PULSE_OPS = (OP_FORM, OP_SET, OP_RESET)
READ_OPS = (OP_READ, OP_VERIFY)

COND_ALWAYS, COND_IF_BELOW, COND_IF_ABOVE = K.COND_ALWAYS, K.COND_IF_BELOW, K.COND_IF_ABOVE
COND_NAMES: dict[int, str] = {COND_ALWAYS: "ALWAYS", COND_IF_BELOW: "IF_BELOW",
                              COND_IF_ABOVE: "IF_ABOVE"}
COND_CODES: dict[str, int] = {v: k for k, v in COND_NAMES.items()}

# Record flag bits. CHECK (VERIFY only): the cell's outcome counts -- a cell that has CHECK verifies
# and whose last executed verify did not pass is reported as failed.
FLAG_CHECK = 0x01
FLAG_MASK = FLAG_CHECK

#: One operation, 40 bytes, little-endian, no padding. Field order is the on-disk order.
RECORD_DTYPE = np.dtype([
    ("op", "u1"), ("cond", "u1"), ("flags", "u1"), ("reserved0", "u1"),
    ("array", "<u2"), ("row", "<u2"), ("col", "<u2"), ("reserved1", "<u2"),
    ("v_wl", "<f4"), ("v_bl", "<f4"), ("v_sl", "<f4"),
    ("t_ns", "<f4"), ("icc_ua", "<f4"), ("lo_us", "<f4"), ("hi_us", "<f4"),
])
assert RECORD_DTYPE.itemsize == 40

FLOAT_FIELDS = ("v_wl", "v_bl", "v_sl", "t_ns", "icc_ua", "lo_us", "hi_us")

#: Default word-line (gate) voltage of programs: an assumption (1.8 V gate drive of a 3.3 V I/O
#: access transistor); programs use min(this, ratings.v_wl_max) unless told otherwise.
DEFAULT_V_WL = 1.8

CHIP_ID_RE = re.compile(r"[A-Za-z0-9._:-]{0,16}")
LABEL_RE = re.compile(r"[a-z0-9._-]{0,16}")
#: Preset names a vector file can carry: 1..32 printable ASCII characters (0x21-0x7E, inner
#: spaces allowed), no leading or trailing space -- exactly the names that survive the CSV header
#: line ``# preset_name: <name>`` unchanged.
PRESET_NAME_RE = re.compile(r"[!-~](?:[ -~]{0,30}[!-~])?")


class Limits(NamedTuple):
    """Absolute-maximum ratings a program was checked against (V, ns, uA); stored in the header."""

    v_form_max: float
    v_set_max: float
    v_reset_max: float
    v_wl_max: float
    v_read_max: float
    t_pulse_max_ns: float
    compliance_max_ua: float

    @classmethod
    def from_spec(cls, spec: MacroSpec) -> Limits:
        r = spec.ratings
        return cls(*(float(getattr(r, f)) for f in cls._fields))


def spec_digest(spec: MacroSpec) -> bytes:
    """SHA-256 (32 bytes) of the preset's values (canonical JSON, provenance excluded)."""
    data = spec.model_dump(exclude={"provenance"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).digest()


def check_preset_name(name: str) -> str:
    """``name`` if a vector file can carry it (`PRESET_NAME_RE`), else `FirmwareError`."""
    if not isinstance(name, str) or not PRESET_NAME_RE.fullmatch(name):
        raise FirmwareError(
            f"preset name {name!r} cannot be stored in a vector file: use 1..32 printable ASCII "
            "characters (inner spaces allowed, none at either end)")
    return name


def check_chip_id(chip_id: str) -> str:
    if not isinstance(chip_id, str) or not CHIP_ID_RE.fullmatch(chip_id):
        raise FirmwareError(
            f"chip id {chip_id!r} is invalid: use at most 16 characters from A-Z a-z 0-9 . _ : -"
        )
    return chip_id


def check_label(label: str) -> str:
    if not isinstance(label, str) or not LABEL_RE.fullmatch(label):
        raise FirmwareError(
            f"program label {label!r} is invalid: at most 16 characters from a-z 0-9 . _ -"
        )
    return label


@dataclass(frozen=True)
class VectorHeader:
    """Everything an .rvec file says besides its records.

    Attributes:
        n_arrays, rows, cols: target geometry (arrays x rows x cols cells).
        preset_name: name of the preset the program was generated for (<= 32 UTF-8 bytes).
        preset_digest: `spec_digest` of that preset (32 bytes).
        limits: the absolute-maximum ratings every record was checked against.
        chip_id: the physical chip the vector is bound to ('' = any chip).
        program: a short label of the generating program ('forming-sweep', ...).
    """

    n_arrays: int
    rows: int
    cols: int
    preset_name: str
    preset_digest: bytes
    limits: Limits
    chip_id: str = ""
    program: str = ""

    @classmethod
    def from_spec(cls, spec: MacroSpec, n_arrays: int = 1, chip_id: str = "",
                  program: str = "") -> VectorHeader:
        if not 1 <= int(n_arrays) <= 65536:
            raise FirmwareError(f"n_arrays must lie in 1..65536, got {n_arrays}")
        return cls(int(n_arrays), spec.geometry.rows, spec.geometry.cols,
                   check_preset_name(spec.name), spec_digest(spec), Limits.from_spec(spec),
                   check_chip_id(chip_id), check_label(program))

    def for_spec(self, spec: MacroSpec) -> VectorHeader:
        """This header with the identity (name, digest, ratings) of ``spec``: what a writer that
        checks the records against ``spec`` stores, so that a file never carries one preset's
        name and digest with another preset's limits."""
        if (self.rows, self.cols) != (spec.geometry.rows, spec.geometry.cols):
            raise FirmwareError(
                f"vectors are for arrays of {self.rows} x {self.cols} cells; preset "
                f"'{spec.name}' has {spec.geometry.rows} x {spec.geometry.cols}")
        return VectorHeader.from_spec(spec, self.n_arrays, self.chip_id, self.program)

    @property
    def n_cells(self) -> int:
        return self.n_arrays * self.rows * self.cols

    def with_chip_id(self, chip_id: str) -> VectorHeader:
        return VectorHeader(self.n_arrays, self.rows, self.cols, self.preset_name,
                            self.preset_digest, self.limits, check_chip_id(chip_id), self.program)


@dataclass
class Program:
    """A vector program: header plus ``records`` (structured array of `RECORD_DTYPE`, shape [n]).

    ``info`` holds what the generating program computed (e.g. the chosen forming voltage and the
    predicted formed fraction); it is not stored in the .rvec file. ``limits_verified`` is False
    only for a file read with ``unverified_limits=True`` whose preset could not be resolved: its
    header limits were then taken on trust (see `firmware.identity`).
    """

    header: VectorHeader
    records: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    limits_verified: bool = True

    def __post_init__(self) -> None:
        if self.records.dtype != RECORD_DTYPE or self.records.ndim != 1:
            raise FirmwareError("Program.records must be a 1-d array of RECORD_DTYPE")

    def __len__(self) -> int:
        return int(self.records.shape[0])

    def op_counts(self) -> dict[str, int]:
        counts = np.bincount(self.records["op"], minlength=256)
        return {name: int(counts[code]) for code, name in OP_NAMES.items()}

    def cell_index(self) -> np.ndarray:
        """Flat cell index of every record (int64, [n]; WAIT records give cell 0)."""
        r = self.records
        h = self.header
        return ((r["array"].astype(np.int64) * h.rows + r["row"]) * h.cols
                + r["col"].astype(np.int64))

    def same_as(self, other: Program) -> bool:
        """Header and records identical bit for bit."""
        return (self.header == other.header and self.records.shape == other.records.shape
                and self.records.tobytes() == other.records.tobytes())


def make_records(op: Any, *, array: Any = 0, row: Any = 0, col: Any = 0, v_wl: Any = 0.0,
                 v_bl: Any = 0.0, v_sl: Any = 0.0, t_ns: Any = 0.0, icc_ua: Any = 0.0,
                 lo_us: Any = 0.0, hi_us: Any = 0.0, cond: Any = COND_ALWAYS,
                 flags: Any = 0) -> np.ndarray:
    """Build records from field values (scalars or arrays, broadcast together, then flattened).

    No validation happens here; use `firmware.validate.check_program` (programs always do).
    """
    vals = dict(op=op, cond=cond, flags=flags, array=array, row=row, col=col, v_wl=v_wl,
                v_bl=v_bl, v_sl=v_sl, t_ns=t_ns, icc_ua=icc_ua, lo_us=lo_us, hi_us=hi_us)
    vals = {k: np.asarray(v) for k, v in vals.items()}
    shape = np.broadcast_shapes(*(v.shape for v in vals.values()))
    rec = np.zeros(shape, RECORD_DTYPE)
    for name in ("op", "cond", "flags", "array", "row", "col"):
        v = vals[name]
        hi = np.iinfo(RECORD_DTYPE[name]).max
        if v.size and (v.min() < 0 or v.max() > hi or not np.all(v == np.round(v))):
            raise RecordRuleError(f"record field '{name}' needs integers in 0..{hi}")
    for name, v in vals.items():
        if v.ndim or v.item() != 0:
            rec[name] = v  # broadcast assignment, no temporaries
    return rec.reshape(-1)


def f32_floor(x: float) -> np.float32:
    """The largest float32 not above ``x`` (so a clipped value never rounds above a rating)."""
    v = np.float32(x)
    if float(v) > x:
        v = np.nextafter(v, np.float32(-np.inf))
    return v


def line_voltages(op: int, v_cell: Any) -> tuple[np.ndarray, np.ndarray]:
    """(V_BL, V_SL) for a cell voltage: RESET drives the source line, everything else the bit
    line; the other line is at 0 V."""
    v = np.asarray(v_cell, dtype=np.float64)
    zero = np.zeros_like(v)
    return (zero, v) if op == OP_RESET else (v, zero)
