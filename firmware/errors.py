"""Errors of the firmware package.

All derive from `crossbar.errors.InputError`, so the CLI turns them into exit code 2 with the
message on stderr. Everything the vector-file reader raises is a `VectorFormatError`; errors about
a single operation (an address outside the geometry, a voltage over an absolute-maximum rating)
have one class for programs that refuse to emit the operation and a subclass that is *also* a
`VectorFormatError` for files that contain it.

`OutputExistsError` and `ReadbackError` are crossbar's classes, re-exported: one overwrite guard
(`crossbar.fsio`) and one readback reader (`crossbar.readback`) serve every package.
"""

from __future__ import annotations

from crossbar.errors import InputError
from crossbar.errors import OutputExistsError as OutputExistsError  # re-export
from crossbar.errors import ReadbackError as ReadbackError  # re-export


class FirmwareError(InputError):
    """Base class of all firmware errors."""


class UnreachableTargetError(FirmwareError):
    """A program cannot reach the requested target within the preset's ratings or physics."""


class OpValidationError(FirmwareError):
    """An operation violates the macro's geometry, ratings or the record rules."""


class AddressError(OpValidationError):
    """An operation addresses a cell outside the macro's geometry."""


class RatingsError(OpValidationError):
    """An operation exceeds an absolute-maximum rating (voltage, pulse width, compliance)."""


class RecordRuleError(OpValidationError):
    """An operation's fields are inconsistent (polarity, NaN, unused field not zero, ...)."""


# --- errors of vector files (.rvec / .csv) ------------------------------------------------------
class VectorFormatError(FirmwareError):
    """A vector file is malformed, corrupt, or does not fit its target."""


class BadMagicError(VectorFormatError):
    """The file does not start with the .rvec magic bytes."""


class UnsupportedVersionError(VectorFormatError):
    """The file's format version is not one this reader understands."""


class TruncatedFileError(VectorFormatError):
    """The file ends before its header, a record or its checksum is complete."""


class TrailingDataError(VectorFormatError):
    """The file has bytes after its checksum."""


class ChecksumError(VectorFormatError):
    """The stored SHA-256 does not match the header and records."""


class HeaderError(VectorFormatError):
    """A header field is invalid."""


class HeaderRatingsError(HeaderError):
    """A header limit is above the rating of the preset the file names (a forged or edited
    header)."""


class UnknownPresetError(VectorFormatError):
    """The preset a file names is neither shipped nor given, so its header limits cannot be
    verified (allowed only with ``unverified_limits`` / ``--unverified-limits``)."""


class RecordValueError(VectorFormatError, RecordRuleError):
    """A record holds an unknown opcode, a NaN, a wrong polarity or a nonzero reserved field."""


class RecordAddressError(VectorFormatError, AddressError):
    """A record addresses a cell outside the geometry."""


class RecordRatingsError(VectorFormatError, RatingsError):
    """A record exceeds an absolute-maximum rating."""


class ChipIdMismatchError(VectorFormatError):
    """The file is bound to a different chip than the target."""


class PresetMismatchError(VectorFormatError):
    """The file was generated for a different preset or geometry than the target."""


class CsvFormatError(VectorFormatError):
    """A CSV vector file is malformed."""

