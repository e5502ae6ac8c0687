"""The preset a vector file names (its identity) and the check of its header limits against it.

A file's header declares its own limits; they are worth only as much as the preset they claim to
come from. Every reader (.rvec and CSV) therefore resolves the named preset, in this order:

1. a preset the caller gave (the target ``spec`` or one of ``presets``) whose digest equals the
   header's ``preset_digest`` (the digest covers the name, so the names match too);
2. else a known preset of the header's name: shipped, or in a ``$RRAM_LSM_PRESETS`` folder
   (`crossbar.spec.list_presets`). Its digest must equal the header's, otherwise the file is
   refused (`PresetMismatchError`): it was made for another version or an edited copy of it.
   Likewise a given preset of the header's name but another digest refuses the file;
3. else a ``fallback`` preset with that digest (the spec stored in a macro state file: it may
   name a custom preset, but never stands in for a known one);
4. else the preset is unknown: refused (`UnknownPresetError`) unless the caller accepts
   unverified limits explicitly (``unverified_limits=True``, CLI ``--unverified-limits``); every
   output then says so (`UNVERIFIED_NOTE`).

A resolved preset's ratings bound every header limit (`HeaderRatingsError` otherwise). The
records are bound by the header limits (and the target's ratings), so they are within the named
preset's ratings too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from crossbar.spec import MacroSpec, list_presets, load_preset
from firmware import errors as E
from firmware.isa import Limits, VectorHeader, spec_digest

#: What every output of a reader says when the limits were taken on trust.
UNVERIFIED_NOTE = ("limits NOT verified: the preset '{name}' named by the file is unknown "
                   "(neither shipped nor given), so its header limits were taken on trust")


@dataclass(frozen=True)
class Identity:
    """Outcome of `resolve_identity`.

    Attributes:
        spec: the preset the file names, verified (digest equal, header limits within its
            ratings); None when the preset is unknown and unverified limits were accepted.
        how: 'given preset', 'shipped preset' or 'not verified'.
    """

    spec: MacroSpec | None
    how: str

    @property
    def verified(self) -> bool:
        return self.spec is not None


def known_preset(name: str) -> MacroSpec | None:
    """The shipped (or ``$RRAM_LSM_PRESETS``) preset called ``name``, or None. Names that
    `load_preset` would take as a path are never looked up: a file header must not make the
    reader open a file of its choosing."""
    if (not name or "/" in name or os.sep in name or name.endswith((".yaml", ".yml"))
            or name not in list_presets()):
        return None
    return load_preset(name)


def check_header_limits(header: VectorHeader, spec: MacroSpec, how: str, origin: str) -> None:
    """Raise `HeaderRatingsError` if a header limit exceeds the rating of ``spec``."""
    for field, value, rating in zip(Limits._fields, header.limits, Limits.from_spec(spec)):
        if value > rating:
            raise E.HeaderRatingsError(
                f"{origin}: header field 'limits.{field}' = {value:g} exceeds ratings.{field} = "
                f"{rating:g} of preset '{spec.name}' ({how}) that the file names; the header was "
                "edited or forged -- regenerate the vectors from the preset")


def resolve_identity(header: VectorHeader, given: Sequence[MacroSpec] = (), *,
                     fallback: Sequence[MacroSpec] = (), unverified_limits: bool = False,
                     origin: str = "program") -> Identity:
    """Resolve and verify the preset ``header`` names (see the module docstring).

    Args:
        header: the file's header.
        given: presets the caller vouches for (target and extra presets).
        fallback: presets consulted only when the name is not a known preset (e.g. the spec
            stored in a macro state file: it must never override a shipped preset's ratings).
        unverified_limits: accept a file whose preset is unknown (its limits are then unchecked).
        origin: the file name for messages.
    Raises:
        PresetMismatchError, UnknownPresetError, HeaderRatingsError.
    """
    for spec in given:
        if spec_digest(spec) == header.preset_digest:
            check_header_limits(header, spec, "given preset", origin)
            return Identity(spec, "given preset")
    known = known_preset(header.preset_name)
    if known is not None:
        digest = spec_digest(known)
        if digest != header.preset_digest:
            raise E.PresetMismatchError(
                f"{origin}: header field 'preset_digest' ({header.preset_digest.hex()[:16]}...) "
                f"does not match the digest of the known preset '{known.name}' "
                f"({digest.hex()[:16]}...): the file was made for another version or an edited "
                "copy of that preset; pass that preset with --preset FILE (Python: presets=)")
        check_header_limits(header, known, "shipped preset", origin)
        return Identity(known, "shipped preset")
    same_name = [s for s in given if s.name == header.preset_name]
    if same_name:
        raise E.PresetMismatchError(
            f"{origin}: header field 'preset_digest' ({header.preset_digest.hex()[:16]}...) does "
            f"not match the digest of the given preset '{same_name[0].name}' "
            f"({spec_digest(same_name[0]).hex()[:16]}...): the file was made for another version "
            "or an edited copy of that preset, or it was altered")
    for spec in fallback:
        if spec_digest(spec) == header.preset_digest:
            check_header_limits(header, spec, "preset of the macro state", origin)
            return Identity(spec, "preset of the macro state")
    if unverified_limits:
        return Identity(None, "not verified")
    raise E.UnknownPresetError(
        f"{origin}: header field 'preset_name' = '{header.preset_name}' names a preset that is "
        "neither shipped nor given, so the header limits cannot be verified; pass that preset "
        "with --preset FILE (Python: spec= / presets=), or accept unverified limits explicitly "
        "with --unverified-limits (Python: unverified_limits=True)")


def check_written_identity(header: VectorHeader) -> None:
    """What a writer checks about the header it writes: if its digest is that of the known
    preset of its name, every limit is within that preset's ratings (an in-memory header with a
    genuine identity and raised limits is never written). Headers of presets derived in Python
    or unknown to this installation pass; their records are checked against their limits."""
    try:
        resolve_identity(header, unverified_limits=True, origin="program")
    except E.PresetMismatchError:
        pass
