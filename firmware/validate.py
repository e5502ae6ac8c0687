"""Checks of operations against the record rules, the geometry and the absolute-maximum ratings.

`check_records` is the single gate that every program passes before it returns and that the
readers (.rvec, CSV) pass before they hand out a `Program`: nothing outside the ratings or the
geometry leaves this package. One pass of `firmware.kernels.scan_records` evaluates every rule;
the error is about the lowest record index that breaks any rule (of that record's broken rules,
the first in the priority order of `kernels.BASE_RULES` then the rating rules per limits source).
It names the record (index, opcode, address), the field, its value, the limit, how many records
break the same rule, and the fix.

Comparisons are done in float64 on the exact float32 values stored in the records.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crossbar.spec import MacroSpec
from firmware import errors as E
from firmware.isa import (
    FLOAT_FIELDS,
    OP_NAMES,
    Limits,
    Program,
    VectorHeader,
    spec_digest,
)
from firmware.kernels import BASE_RULES, N_BASE, RATING_RULES, V_LIMIT_INDEX, scan_records

_LABEL = {"v_wl": "V_WL", "v_bl": "V_BL", "v_sl": "V_SL", "t_ns": "pulse width t_ns",
          "icc_ua": "compliance icc_ua", "lo_us": "verify low lo_us", "hi_us": "verify high hi_us"}
_UNIT = {"v_wl": "V", "v_bl": "V", "v_sl": "V", "t_ns": "ns", "icc_ua": "uA", "lo_us": "uS",
         "hi_us": "uS"}
_RULE_FIX = "the record is malformed (see docs/firmware-vector-format.md, 'Record rules')"
_RATING_FIX = "nothing above an absolute-maximum rating is emitted or replayed; lower it"

# problem text of each base rule
_PROBLEM = {
    "op_unknown": "is not an opcode (0..5)",
    "cond_unknown": "is not a condition (0..2)",
    "cond_not_pulse": "must be 0 (ALWAYS): only FORM/SET/RESET pulses can be conditional",
    "flags_unknown": "has unknown bits set",
    "check_not_verify": "sets CHECK on an operation that is not a VERIFY",
    "reserved0": "must be 0", "reserved1": "must be 0",
    "lo_plus_inf": "is +inf (the low edge may be -inf, not +inf)",
    "hi_minus_inf": "is -inf (the high edge may be +inf, not -inf)",
    "window_empty": "is above hi_us (empty verify window)",
    "window_not_verify": "must be 0 with hi_us = 0: only VERIFY has a window",
    "wait_address": "must be 0 with row = col = 0 for WAIT",
    "wl_off": "must be > 0 (the access transistor must be on)",
    "width_zero": "must be > 0",
    "reset_polarity": "must exceed V_BL: RESET drives the source line",
    "bl_polarity": "must exceed V_SL: FORM/SET/READ/VERIFY drive the bit line",
    "icc_missing": "must be > 0 for FORM/SET (compliance current)",
    "icc_not_applicable": "must be 0: compliance applies to FORM/SET only",
}
for _f in FLOAT_FIELDS:
    _PROBLEM[f"nan_{_f}"] = "is NaN"
for _f in ("v_wl", "v_bl", "v_sl", "t_ns", "icc_ua"):
    _PROBLEM[f"nonfinite_{_f}"] = "is not finite"
    _PROBLEM[f"negative_{_f}"] = ("is negative (line voltages, widths and compliance are "
                                  "magnitudes >= 0)")
for _f in ("v_wl", "v_bl", "v_sl", "icc_ua"):
    _PROBLEM[f"wait_{_f}"] = "must be 0 for WAIT"
_V_RATING_NAME = {1: "v_form_max", 2: "v_set_max", 3: "v_reset_max", 4: "v_read_max",
                  5: "v_read_max"}


def _record_text(rec: np.void, i: int, field: str | None, describe: Callable[[int], str]
                 ) -> str:
    op = OP_NAMES.get(int(rec["op"]), f"opcode {int(rec['op'])}")
    what = (f"{describe(i)} ({op} at array {int(rec['array'])} row {int(rec['row'])} "
            f"col {int(rec['col'])})")
    if field is not None:
        val = float(rec[field]) if field in FLOAT_FIELDS else int(rec[field])
        unit = _UNIT.get(field, "")
        what += f": {_LABEL.get(field, field)} = {val:g}{' ' + unit if unit else ''}"
    return what


def check_records(records: np.ndarray, header: VectorHeader, spec: MacroSpec | None = None, *,
                  origin: str | None = None,
                  describe: Callable[[int], str] | None = None) -> None:
    """Raise unless every record obeys the record rules, the header's geometry and ratings, and
    (when ``spec`` is given) the ratings of that preset.

    Args:
        records: structured array of `RECORD_DTYPE`, [n].
        header: geometry and the ratings stored with the program.
        spec: the target preset; its ratings and the header's both apply.
        origin: file name when checking a file (errors are then `VectorFormatError`s too).
        describe: maps a record index to its description (e.g. with a CSV line number).
    Raises:
        RecordRuleError / AddressError / RatingsError (programs), or their RecordValueError /
        RecordAddressError / RecordRatingsError counterparts (files, when ``origin`` is given).
    """
    sources = [("the vector header", header.limits)]
    if spec is not None:
        sources.append((f"preset '{spec.name}'", Limits.from_spec(spec)))
    first, count = scan_records(records, (header.n_arrays, header.rows, header.cols),
                                np.array([lim for _, lim in sources], dtype=np.float64))
    broken = np.flatnonzero(count)
    if not broken.size:
        return
    # the lowest record index that breaks any rule; of its rules, the first in priority order
    lowest = first[broken].min()
    k = int(broken[first[broken] == lowest][0])
    i, n_bad = int(first[k]), int(count[k])
    rec = records[i]
    where = origin if origin is not None else "program"
    describe = describe or (lambda j: f"record {j}")
    more = f" ({n_bad} record(s) break this rule)" if n_bad > 1 else ""
    file = origin is not None
    if k < N_BASE:
        name, field = BASE_RULES[k]
        if name.startswith("address_"):
            cls = E.RecordAddressError if file else E.AddressError
            hi = {"array": header.n_arrays, "row": header.rows, "col": header.cols}[field]
            problem = f"is outside 0..{hi - 1}"
            fix = (f"the target has {header.n_arrays} array(s) of {header.rows} x "
                   f"{header.cols} cells")
        else:
            cls = E.RecordValueError if file else E.RecordRuleError
            problem, fix = _PROBLEM[name], _RULE_FIX
    else:
        s, j = divmod(k - N_BASE, len(RATING_RULES))
        source, lim = sources[s]
        name, field = RATING_RULES[j]
        cls = E.RecordRatingsError if file else E.RatingsError
        fix = _RATING_FIX
        if name == "rating_v_line":
            op = int(rec["op"])
            field = "v_bl" if float(rec["v_bl"]) >= float(rec["v_sl"]) else "v_sl"
            rating = _V_RATING_NAME[op]
            vmax = lim[int(V_LIMIT_INDEX[op])]
            problem = f"exceeds ratings.{rating} = {vmax:g} V of {source}"
        else:
            rating = {"rating_v_wl": "v_wl_max", "rating_t_ns": "t_pulse_max_ns",
                      "rating_icc": "compliance_max_ua"}[name]
            unit = {"v_wl_max": "V", "t_pulse_max_ns": "ns", "compliance_max_ua": "uA"}[rating]
            problem = f"exceeds ratings.{rating} = {getattr(lim, rating):g} {unit} of {source}"
    raise cls(f"{where}: {_record_text(rec, i, field, describe)} {problem}{more}; {fix}")


def check_program(program: Program, spec: MacroSpec | None = None) -> Program:
    """`check_records` for a program about to be emitted; returns it unchanged."""
    check_records(program.records, program.header, spec)
    return program


def check_target(header: VectorHeader, spec: MacroSpec, *, chip_id: str | None = None,
                 allow_other_preset: bool = False, origin: str = "program") -> None:
    """Raise unless a program fits the target: geometry of ``spec``, the same preset (unless
    ``allow_other_preset``), and -- when ``chip_id`` is given and the program is bound to a
    chip -- the same chip id."""
    g = spec.geometry
    if (header.rows, header.cols) != (g.rows, g.cols):
        raise E.PresetMismatchError(
            f"{origin}: vectors are for arrays of {header.rows} x {header.cols} cells (header "
            f"fields 'rows', 'cols'); preset "
            f"'{spec.name}' has {g.rows} x {g.cols}; use the preset the vectors were made for"
        )
    digest = spec_digest(spec)
    if header.preset_digest != digest and not allow_other_preset:
        raise E.PresetMismatchError(
            f"{origin}: vectors were generated for preset '{header.preset_name}' (header field "
            f"'preset_digest' "
            f"{header.preset_digest.hex()[:16]}...), the target is preset '{spec.name}' (digest "
            f"{digest.hex()[:16]}...); use the same preset, or allow another preset explicitly "
            "(CLI: --any-preset; records are still checked against the target's ratings)"
        )
    check_chip(header, chip_id, origin)


def check_chip(header: VectorHeader, chip_id: str | None, origin: str = "program") -> None:
    """Raise `ChipIdMismatchError` if the program is bound to a chip other than ``chip_id``
    (programs without a chip id fit any chip; no ``chip_id`` means no check)."""
    if chip_id and header.chip_id and chip_id != header.chip_id:
        raise E.ChipIdMismatchError(
            f"{origin}: vectors are bound to chip '{header.chip_id}' (header field 'chip_id'), "
            f"the target is chip "
            f"'{chip_id}'; regenerate the vectors for this chip (or export them without a chip id)"
        )
