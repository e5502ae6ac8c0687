"""Saving and loading a macro's full state (``.npz``, written atomically)."""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from crossbar import kernels as K
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


def _meta_field(meta: dict, key: str, path: Path, kind: type):
    """``meta[key]`` checked to be of ``kind`` (an int is a valid float), else `InputError`."""
    if key not in meta:
        raise InputError(f"{path}: macro state metadata lacks the field '{key}'; the file is "
                         "not a complete macro state (save it again with Macro.save)")
    value = meta[key]
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise InputError(f"{path}: macro state metadata field '{key}' must be a "
                         f"{kind.__name__}, got {value!r}")
    return kind(value) if kind is not dict else value


def load_macro(path: str | os.PathLike, spec: MacroSpec | None = None):
    from crossbar.macro import Macro

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(f"{path}: macro state file not found") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a macro state file ({exc})") from None
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
        if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
            raise KeyError("format")
    except (KeyError, ValueError):
        raise InputError(f"{path}: not a macro state file (missing or wrong 'meta')") from None
    version = _meta_field(meta, "version", path, int)
    if version != STATE_VERSION:
        raise InputError(f"{path}: state version {version} unsupported "
                         f"(this build reads {STATE_VERSION})")
    n_arrays = _meta_field(meta, "n_arrays", path, int)
    clock_s = _meta_field(meta, "clock_s", path, float)
    if n_arrays < 1 or not math.isfinite(clock_s) or clock_s < 0:
        raise InputError(f"{path}: metadata field 'n_arrays' must be >= 1 and 'clock_s' finite "
                         f"and >= 0 (got {n_arrays}, {clock_s})")
    if spec is None:
        spec = spec_from_dict(_meta_field(meta, "spec", path, dict), origin=f"{path} (field 'spec')")
    m = Macro(spec, n_arrays=n_arrays, seed=0)
    n = m.n_cells
    fields = ("g_prog", "t_prog", "nu", "vbd", "g_latent", "status")
    for f in fields:
        if f not in arrays or arrays[f].shape != (n,):
            raise InputError(f"{path}: field '{f}' missing or not of length {n}")
        if f != "status" and (arrays[f].dtype.kind != "f" or not np.all(np.isfinite(arrays[f]))):
            bad = int(np.count_nonzero(~np.isfinite(arrays[f]))) if arrays[f].dtype.kind == "f" else n
            raise InputError(f"{path}: field '{f}' must hold finite floats ({bad} of {n} values "
                             "are NaN, infinite or not floats)")
    if arrays["status"].dtype.kind not in "iu" or not np.isin(
            arrays["status"], (K.PRISTINE, K.FORMED, K.STUCK_LOW, K.STUCK_HIGH)).all():
        raise InputError(f"{path}: field 'status' holds unknown cell states")
    m.cells = CellArrays(*(np.array(arrays[f]) for f in fields[:-1]),
                         np.array(arrays["status"], dtype=np.int8))
    m.clock_s = clock_s
    if "rng_state" in arrays:
        try:
            m.rng.bit_generator.state = json.loads(arrays["rng_state"].tobytes().decode())
        except (ValueError, TypeError, KeyError):
            raise InputError(f"{path}: field 'rng_state' is not a valid generator state") from None
    m._touch()
    return m
