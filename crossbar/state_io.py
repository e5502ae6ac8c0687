"""Saving and loading a macro's full state (``.npz``, written atomically)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from crossbar.device import CellArrays
from crossbar.errors import InputError
from crossbar.fsio import atomic_write_bytes
from crossbar.spec import MacroSpec, spec_from_dict

STATE_FORMAT = "rram-lsm-macro-state"
STATE_VERSION = 1


def _spec_to_sourced(spec: MacroSpec) -> dict:
    """Back to the preset's sourced-leaf form so that the saved spec re-validates."""
    data = spec.model_dump(exclude={"provenance"})
    out: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = {
                k: {"value": v, **_prov(spec.provenance.get(f"{key}.{k}"))}
                for k, v in value.items()
            }
        else:
            out[key] = value
    return out


def _prov(text: str | None) -> dict:
    if not text:
        return {"assumption": "unknown (saved state)"}
    label, _, rest = text.partition(": ")
    if label in ("source", "assumption"):
        return {label: rest}
    return {"assumption": text}


def save_macro(macro, path: str | os.PathLike) -> Path:
    path = Path(path)
    c = macro.cells
    buf = io.BytesIO()
    meta = {"format": STATE_FORMAT, "version": STATE_VERSION, "n_arrays": macro.n_arrays,
            "clock_s": macro.clock_s, "spec": _spec_to_sourced(macro.spec)}
    np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                        g_prog=c.g_prog, t_prog=c.t_prog, nu=c.nu, vbd=c.vbd,
                        g_latent=c.g_latent, status=c.status,
                        rng_state=np.frombuffer(
                            json.dumps(macro.rng.bit_generator.state).encode(), np.uint8))
    return atomic_write_bytes(path, buf.getvalue())


def load_macro(path: str | os.PathLike, spec: MacroSpec | None = None):
    from crossbar.macro import Macro

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(f"{path}: macro state file not found") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a macro state file ({exc})") from None
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != STATE_FORMAT:
            raise KeyError("format")
    except (KeyError, ValueError):
        raise InputError(f"{path}: not a macro state file (missing or wrong 'meta')") from None
    if meta["version"] != STATE_VERSION:
        raise InputError(f"{path}: state version {meta['version']} unsupported "
                         f"(this build reads {STATE_VERSION})")
    spec = spec or spec_from_dict(meta["spec"], origin=str(path))
    m = Macro(spec, n_arrays=int(meta["n_arrays"]), seed=0)
    n = m.n_cells
    fields = ("g_prog", "t_prog", "nu", "vbd", "g_latent", "status")
    for f in fields:
        if f not in arrays or arrays[f].shape != (n,):
            raise InputError(f"{path}: field '{f}' missing or not of length {n}")
        if f == "status":
            continue
        try:  # a NaN or inf would silently poison every later read of the macro
            finite = np.isfinite(np.asarray(arrays[f], dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError(f"{path}: field '{f}' is not numeric") from None
        if not finite.all():
            raise InputError(f"{path}: field '{f}' has {int((~finite).sum())} NaN or infinite "
                             f"value(s) (first at cell {int(np.argmin(finite))}); the state "
                             "file is corrupt")
    m.cells = CellArrays(*(np.array(arrays[f]) for f in fields))
    m.clock_s = float(meta["clock_s"])
    if not np.isfinite(m.clock_s):
        raise InputError(f"{path}: field 'clock_s' = {m.clock_s} is not finite; the state file "
                         "is corrupt")
    if "rng_state" in arrays:
        m.rng.bit_generator.state = json.loads(arrays["rng_state"].tobytes().decode())
    m._touch()
    return m
