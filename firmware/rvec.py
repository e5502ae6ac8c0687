"""The binary vector format `.rvec` (version 1): writer and validating reader.

Layout (all little-endian; the normative text is docs/firmware-vector-format.md)::

    header   256 bytes   magic, version, sizes, op count, geometry, preset name + digest,
                         chip id, program label, the absolute-maximum ratings (7 x f64)
    records  40 bytes x op_count   (firmware.isa.RECORD_DTYPE)
    sha256   32 bytes    SHA-256 of header + records

The reader checks, in this order: magic, version, header/record sizes, reserved header fields and
header values, file length (truncation names the record), checksum, the target (geometry, preset
identity, chip id), then every record (rules, address inside the header geometry, ratings of the
header and of the target preset). Every failure is a `VectorFormatError` subclass.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from crossbar.fsio import atomic_write
from crossbar.spec import MacroSpec
from firmware import errors as E
from firmware.isa import (
    CHIP_ID_RE,
    LABEL_RE,
    RECORD_DTYPE,
    Limits,
    Program,
    VectorHeader,
)
from firmware.validate import check_chip, check_records, check_target

MAGIC = b"\x89RVEC\r\n\x1a"
FORMAT_VERSION = 1
HEADER_SIZE = 256
RECORD_SIZE = RECORD_DTYPE.itemsize
DIGEST_SIZE = 32
_HEADER = struct.Struct("<8sHHHHQIIII32s32s16s16s7d64s")
assert _HEADER.size == HEADER_SIZE


def header_bytes(header: VectorHeader, op_count: int) -> bytes:
    """The 256-byte header of a file with ``op_count`` records."""
    return _HEADER.pack(
        MAGIC, FORMAT_VERSION, HEADER_SIZE, RECORD_SIZE, 0, int(op_count),
        header.n_arrays, header.rows, header.cols, 0,
        header.preset_name.encode("utf-8"), header.preset_digest,
        header.chip_id.encode("ascii"), header.program.encode("ascii"),
        *header.limits, b"",
    )


def _records_buffer(records: np.ndarray) -> np.ndarray:
    rec = np.ascontiguousarray(records, dtype=RECORD_DTYPE)
    return rec.view(np.uint8)


def encode_rvec(program: Program, check: bool = True) -> bytes:
    """The complete file as bytes (``check=False`` skips validation; for tests of the reader)."""
    if check:
        check_records(program.records, program.header)
    head = header_bytes(program.header, len(program))
    body = _records_buffer(program.records).tobytes()
    return head + body + hashlib.sha256(head + body).digest()


def write_rvec(program: Program, path: str | os.PathLike, *, force: bool = False,
               spec: MacroSpec | None = None) -> Path:
    """Validate ``program`` (against its header and, if given, ``spec``) and write it atomically.

    Refuses to replace an existing file unless ``force``. Returns the path.
    """
    check_records(program.records, program.header, spec)
    head = header_bytes(program.header, len(program))
    body = _records_buffer(program.records)

    def write(fh: BinaryIO) -> None:
        h = hashlib.sha256(head)
        h.update(body)
        fh.write(head)
        fh.write(body)
        fh.write(h.digest())

    return atomic_write(path, write, overwrite=force)


def _text(raw: bytes, what: str, origin: str, ascii_re=None) -> str:
    body, _, pad = raw.partition(b"\x00")
    if pad.strip(b"\x00"):
        raise E.HeaderError(f"{origin}: header field '{what}' has bytes after its NUL padding")
    try:
        text = body.decode("ascii" if ascii_re is not None else "utf-8")
    except UnicodeDecodeError:
        raise E.HeaderError(f"{origin}: header field '{what}' is not valid text") from None
    if ascii_re is not None and not ascii_re.fullmatch(text):
        raise E.HeaderError(f"{origin}: header field '{what}' = {text!r} has invalid characters")
    return text


def parse_header(data: bytes, origin: str) -> tuple[VectorHeader, int]:
    """Check the fixed part of a file and return (header, op_count). Length and checksum are
    checked by `decode_rvec`."""
    n = len(data)
    if n == 0:
        raise E.TruncatedFileError(f"{origin}: file is empty (an .rvec file starts with a "
                                   f"{HEADER_SIZE}-byte header)")
    if data[:min(n, len(MAGIC))] != MAGIC[:min(n, len(MAGIC))]:
        raise E.BadMagicError(
            f"{origin}: not an .rvec vector file (bad magic bytes {bytes(data[:8])!r}; expected "
            f"{MAGIC!r})")
    if n < HEADER_SIZE:
        raise E.TruncatedFileError(
            f"{origin}: file ends inside the header ({n} of {HEADER_SIZE} bytes)")
    (_, version, hsize, rsize, flags, count, n_arrays, rows, cols, reserved, name, digest, chip,
     label, *rest) = _HEADER.unpack_from(data)
    limits, reserved_tail = rest[:7], rest[7]
    if version != FORMAT_VERSION:
        raise E.UnsupportedVersionError(
            f"{origin}: format version {version} is not supported (this reader reads version "
            f"{FORMAT_VERSION}); use a newer rram-lsm or re-export the vectors")
    if hsize != HEADER_SIZE or rsize != RECORD_SIZE:
        raise E.HeaderError(
            f"{origin}: header says header/record sizes {hsize}/{rsize} bytes; version "
            f"{FORMAT_VERSION} has {HEADER_SIZE}/{RECORD_SIZE}")
    if flags != 0 or reserved != 0 or reserved_tail.strip(b"\x00"):
        raise E.HeaderError(f"{origin}: reserved header fields must be 0")
    for what, v in (("n_arrays", n_arrays), ("rows", rows), ("cols", cols)):
        if not 1 <= v <= 65536:
            raise E.HeaderError(f"{origin}: header field '{what}' = {v} outside 1..65536")
    lim = Limits(*limits)
    for f, v in zip(Limits._fields, lim):
        if not (math.isfinite(v) and v > 0):
            raise E.HeaderError(f"{origin}: header rating '{f}' = {v} must be finite and > 0")
    preset = _text(name, "preset_name", origin)
    if not preset:
        raise E.HeaderError(f"{origin}: header field 'preset_name' is empty")
    header = VectorHeader(int(n_arrays), int(rows), int(cols), preset, bytes(digest), lim,
                          _text(chip, "chip_id", origin, CHIP_ID_RE),
                          _text(label, "program", origin, LABEL_RE))
    return header, int(count)


def decode_rvec(data: bytes | bytearray, origin: str = "<bytes>", spec: MacroSpec | None = None, *,
                chip_id: str | None = None, allow_other_preset: bool = False,
                check_checksum: bool = True) -> Program:
    """Parse and validate a complete .rvec file held in memory (see module docstring)."""
    if not isinstance(data, bytearray):
        data = bytearray(data)  # records are handed out as a writable view of this buffer
    header, count = parse_header(data, origin)
    n = len(data)
    end_records = HEADER_SIZE + count * RECORD_SIZE
    expected = end_records + DIGEST_SIZE
    if n < end_records:
        k = (n - HEADER_SIZE) // RECORD_SIZE
        part = (n - HEADER_SIZE) % RECORD_SIZE
        where = (f"inside record {k} ({part} of {RECORD_SIZE} bytes)" if part
                 else f"after record {k - 1}" if k else "right after the header")
        raise E.TruncatedFileError(
            f"{origin}: file ends {where}; the header announces {count} records "
            f"({expected} bytes in all, the file has {n}); the file is truncated")
    if n < expected:
        raise E.TruncatedFileError(
            f"{origin}: file ends inside the SHA-256 checksum ({n - end_records} of "
            f"{DIGEST_SIZE} bytes); the file is truncated")
    if n > expected:
        raise E.TrailingDataError(
            f"{origin}: {n - expected} unexpected bytes after the checksum (the header announces "
            f"{count} records)")
    if check_checksum:
        digest = hashlib.sha256(memoryview(data)[:end_records]).digest()
        stored = bytes(data[end_records:])
        if digest != stored:
            raise E.ChecksumError(
                f"{origin}: SHA-256 checksum mismatch (stored {stored.hex()[:16]}..., computed "
                f"{digest.hex()[:16]}...); the file is corrupt -- re-export it")
    if spec is not None:
        check_target(header, spec, chip_id=chip_id, allow_other_preset=allow_other_preset,
                     origin=origin)
    else:
        check_chip(header, chip_id, origin)
    records = np.frombuffer(data, RECORD_DTYPE, count=count, offset=HEADER_SIZE)
    check_records(records, header, spec, origin=origin)
    return Program(header, records)


def read_rvec(path: str | os.PathLike, spec: MacroSpec | None = None, *,
              chip_id: str | None = None, allow_other_preset: bool = False,
              check_checksum: bool = True) -> Program:
    """Read and validate an .rvec file.

    Args:
        path: the file.
        spec: target preset; if given, records must also lie within its ratings, and the file
            must match its geometry and identity (unless ``allow_other_preset``).
        chip_id: target chip; a file bound to another chip is refused (files without a chip id
            are accepted).
        check_checksum: verify the SHA-256 (off only for diagnostics, e.g. `inspect`).
    Raises:
        VectorFormatError (a subclass naming the problem) for anything wrong.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = bytearray(os.fstat(fh.fileno()).st_size)
            got = fh.readinto(data)
        del data[got:]
    except FileNotFoundError:
        raise E.VectorFormatError(f"{path}: vector file not found") from None
    except OSError as exc:
        raise E.VectorFormatError(f"{path}: cannot read ({exc.strerror})") from None
    return decode_rvec(data, str(path), spec, chip_id=chip_id,
                       allow_other_preset=allow_other_preset, check_checksum=check_checksum)


def file_digest(path: str | os.PathLike) -> str:
    """Hex SHA-256 stored at the end of an .rvec file (its content identifier)."""
    with open(path, "rb") as fh:
        fh.seek(-DIGEST_SIZE, os.SEEK_END)
        return fh.read(DIGEST_SIZE).hex()
