"""The binary vector format `.rvec` (version 1): writer and validating reader.

Layout (all little-endian; the normative text is docs/firmware-vector-format.md)::

    header   256 bytes   magic, version, sizes, op count, geometry, preset name + digest,
                         chip id, program label, the absolute-maximum ratings (7 x f64)
    records  40 bytes x op_count   (firmware.isa.RECORD_DTYPE)
    sha256   32 bytes    SHA-256 of header + records

The reader checks, in this order: magic, version, header length, the header fields in offset
order, file length (truncation names the record), checksum, the identity (the preset the file
names is resolved and its ratings bound the header limits, `firmware.identity`), the target
(geometry, preset digest, chip id), then every record (rules, address inside the header geometry,
ratings of the header and of the target preset; the lowest record index that breaks any rule is
reported). Every failure is a `VectorFormatError` subclass.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from crossbar.fsio import atomic_write
from crossbar.spec import MacroSpec
from firmware import errors as E
from firmware.identity import check_written_identity, resolve_identity
from firmware.isa import (
    CHIP_ID_RE,
    LABEL_RE,
    PRESET_NAME_RE,
    RECORD_DTYPE,
    Limits,
    Program,
    VectorHeader,
    spec_digest,
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

    With ``spec``, the file carries the identity of ``spec`` (name, digest, its ratings as the
    limits) whenever the program's header names another preset: the identity always describes
    the ratings the records were checked against. Refuses to replace an existing file unless
    ``force``. Returns the path.
    """
    header = program.header
    if spec is not None and header.preset_digest != spec_digest(spec):
        try:
            header = header.for_spec(spec)
        except E.FirmwareError as exc:
            raise E.PresetMismatchError(str(exc)) from None
    check_written_identity(header)
    check_records(program.records, header, spec)
    head = header_bytes(header, len(program))
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
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise E.HeaderError(f"{origin}: header field '{what}' is not ASCII text") from None
    if ascii_re is not None and not ascii_re.fullmatch(text):
        raise E.HeaderError(f"{origin}: header field '{what}' = {text!r} has invalid characters")
    return text


def parse_header(data: bytes, origin: str) -> tuple[VectorHeader, int]:
    """Check the fixed part of a file and return (header, op_count). Length and checksum are
    checked by `decode_rvec`.

    Order (docs/firmware-vector-format.md, 'Order of checks'): the magic over the bytes present
    (a file shorter than the magic whose bytes are a prefix of it is truncated), the version as
    soon as its two bytes are present, the header length, then each header field in offset
    order."""
    n = len(data)
    if n == 0:
        raise E.TruncatedFileError(f"{origin}: file is empty (an .rvec file starts with a "
                                   f"{HEADER_SIZE}-byte header)")
    m = min(n, len(MAGIC))
    if data[:m] != MAGIC[:m]:
        raise E.BadMagicError(
            f"{origin}: not an .rvec vector file (bad magic bytes {bytes(data[:8])!r}; expected "
            f"{MAGIC!r})")
    if n < len(MAGIC) + 2:
        raise E.TruncatedFileError(
            f"{origin}: file ends inside the {'magic' if n < len(MAGIC) else 'format_version'} "
            f"field ({n} bytes; an .rvec file starts with a {HEADER_SIZE}-byte header)")
    version = struct.unpack_from("<H", data, 8)[0]
    if version != FORMAT_VERSION:
        raise E.UnsupportedVersionError(
            f"{origin}: format version {version} is not supported (header field "
            f"'format_version'; this reader reads version {FORMAT_VERSION}); use a newer "
            "rram-lsm or re-export the vectors")
    if n < HEADER_SIZE:
        raise E.TruncatedFileError(
            f"{origin}: file ends inside the header ({n} of {HEADER_SIZE} bytes)")
    (_, _, hsize, rsize, flags, count, n_arrays, rows, cols, reserved, name, digest, chip,
     label, *rest) = _HEADER.unpack_from(data)
    limits, reserved_tail = rest[:7], rest[7]
    for what, v, want in (("header_size", hsize, HEADER_SIZE), ("record_size", rsize, RECORD_SIZE),
                          ("flags", flags, 0)):
        if v != want:
            raise E.HeaderError(f"{origin}: header field '{what}' = {v}; version "
                                f"{FORMAT_VERSION} requires {want}")
    for what, v in (("n_arrays", n_arrays), ("rows", rows), ("cols", cols)):
        if not 1 <= v <= 65536:
            raise E.HeaderError(f"{origin}: header field '{what}' = {v} outside 1..65536")
    if reserved != 0:
        raise E.HeaderError(f"{origin}: header field 'reserved' (offset 36) = {reserved}; must "
                            "be 0")
    preset = _text(name, "preset_name", origin)
    if not PRESET_NAME_RE.fullmatch(preset):
        raise E.HeaderError(
            f"{origin}: header field 'preset_name' = {preset!r} must be 1..32 printable ASCII "
            "characters without a leading or trailing space")
    chip_id = _text(chip, "chip_id", origin, CHIP_ID_RE)
    program = _text(label, "program", origin, LABEL_RE)
    lim = Limits(*limits)
    for f, v in zip(Limits._fields, lim):
        if not (math.isfinite(v) and v > 0):
            raise E.HeaderError(f"{origin}: header field 'limits.{f}' = {v} must be finite "
                                "and > 0")
    if reserved_tail.strip(b"\x00"):
        raise E.HeaderError(f"{origin}: header field 'reserved' (offset 192) must be all 0")
    header = VectorHeader(int(n_arrays), int(rows), int(cols), preset, bytes(digest), lim,
                          chip_id, program)
    return header, int(count)


def decode_rvec(data: bytes | bytearray, origin: str = "<bytes>", spec: MacroSpec | None = None, *,
                chip_id: str | None = None, allow_other_preset: bool = False,
                check_checksum: bool = True, presets: Sequence[MacroSpec] = (),
                fallback_presets: Sequence[MacroSpec] = (),
                unverified_limits: bool = False) -> Program:
    """Parse and validate a complete .rvec file held in memory (see `read_rvec`)."""
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
            f"{origin}: file ends {where}; the header field 'op_count' announces {count} records "
            f"({expected} bytes in all, the file has {n}); the file is truncated")
    if n < expected:
        raise E.TruncatedFileError(
            f"{origin}: file ends inside the SHA-256 checksum ({n - end_records} of "
            f"{DIGEST_SIZE} bytes); the file is truncated")
    if n > expected:
        raise E.TrailingDataError(
            f"{origin}: {n - expected} unexpected bytes after the checksum (the header field "
            f"'op_count' announces {count} records)")
    if check_checksum:
        digest = hashlib.sha256(memoryview(data)[:end_records]).digest()
        stored = bytes(data[end_records:])
        if digest != stored:
            raise E.ChecksumError(
                f"{origin}: SHA-256 checksum mismatch (stored {stored.hex()[:16]}..., computed "
                f"{digest.hex()[:16]}...); the file is corrupt -- re-export it")
    given = ([spec] if spec is not None else []) + list(presets)
    identity = resolve_identity(header, given, fallback=fallback_presets,
                                unverified_limits=unverified_limits, origin=origin)
    if spec is not None:
        check_target(header, spec, chip_id=chip_id, allow_other_preset=allow_other_preset,
                     origin=origin)
    else:
        check_chip(header, chip_id, origin)
    records = np.frombuffer(data, RECORD_DTYPE, count=count, offset=HEADER_SIZE)
    check_records(records, header, spec, origin=origin)
    return Program(header, records, limits_verified=identity.verified)


def read_rvec(path: str | os.PathLike, spec: MacroSpec | None = None, *,
              chip_id: str | None = None, allow_other_preset: bool = False,
              check_checksum: bool = True, presets: Sequence[MacroSpec] = (),
              fallback_presets: Sequence[MacroSpec] = (),
              unverified_limits: bool = False) -> Program:
    """Read and validate an .rvec file.

    Args:
        path: the file.
        spec: target preset; if given, records must also lie within its ratings, and the file
            must match its geometry and identity (unless ``allow_other_preset``).
        chip_id: target chip; a file bound to another chip is refused (files without a chip id
            are accepted).
        check_checksum: verify the SHA-256 (off only for diagnostics, e.g. `inspect`).
        presets: further presets the file may name (besides ``spec`` and the shipped ones).
        fallback_presets: presets consulted only when the name is not a known preset.
        unverified_limits: accept a file naming an unknown preset; its header limits are then
            taken on trust and the returned program has ``limits_verified = False``.
    Raises:
        VectorFormatError (a subclass naming the problem) for anything wrong; see
        `firmware.identity` for how the named preset is resolved and checked.
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
                       allow_other_preset=allow_other_preset, check_checksum=check_checksum,
                       presets=presets, fallback_presets=fallback_presets,
                       unverified_limits=unverified_limits)


def file_digest(path: str | os.PathLike) -> str:
    """Hex SHA-256 stored at the end of an .rvec file (its content identifier)."""
    with open(path, "rb") as fh:
        fh.seek(-DIGEST_SIZE, os.SEEK_END)
        return fh.read(DIGEST_SIZE).hex()
