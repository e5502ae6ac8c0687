"""A minimal ctypes binding to libespeak-ng, as shipped by the ``espeakng-loader`` wheel.

No system package is needed: ``espeakng_loader.get_library_path()`` gives the shared library and
``get_data_path()`` its voice data.  Speech is synthesised into memory
(``AUDIO_OUTPUT_SYNCHRONOUS`` with a synth callback collecting the 16-bit samples).

libespeak-ng seeds its noise generator from the clock (``espeak_ng_SetRandSeed`` fixes that) and
keeps further hidden state between utterances that neither that seed nor re-initialisation resets,
so the output of a call depends on every call made before it in the same process.
`synthesise_blocks` therefore speaks fixed blocks of utterances, each in a fresh interpreter: the
same requests give the same samples whatever the number of workers or what the calling process
did before.

This module imports nothing from the project at load time, so that those child interpreters load
it by file path and start in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np


def _data_error(msg: str) -> Exception:
    """`rram_lsm.errors.DataError` in the project; RuntimeError in a synthesis child process,
    which loads this file on its own (the parent turns the child's failure into a DataError)."""
    if __name__ != "rram_lsm.data.espeak":
        return RuntimeError(msg)
    from rram_lsm.errors import DataError

    return DataError(msg)


_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4
_EE_OK = 0

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise _data_error(
            "the spoken-digits stand-in needs the 'espeakng-loader' package (pip install espeakng-loader)"
        ) from exc
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def espeak_version() -> str:
    """Version of the ``espeakng-loader`` wheel (its voice data define the available voices)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("espeakng-loader")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def variant_names() -> list[str]:
    """Names of the voice variants shipped with the data (``en+<variant>``), sorted."""
    _, data = _paths()
    folder = Path(data) / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file())


@cache
def variant_gender(variant: str) -> str:
    """'woman' if the variant file declares ``gender female``, else 'man'."""
    _, data = _paths()
    try:
        text = (Path(data) / "voices" / "!v" / variant).read_text(errors="replace")
    except OSError:
        return "man"
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "gender":
            return "woman" if parts[1].lower().startswith("f") else "man"
    return "man"


class Espeak:
    """One libespeak-ng instance (the library is process-global: create one per process)."""

    def __init__(self) -> None:
        lib_path, data_path = _paths()
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise _data_error(f"{lib_path}: cannot load libespeak-ng ({exc})") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if self.sample_rate <= 0:
            raise _data_error(f"{data_path}: espeak_Initialize failed ({self.sample_rate})")
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._variants = set(variant_names())

    def _collect(self, wav, n, _events) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = continue synthesis

    def synth(
        self,
        text: str,
        voice: str = "en",
        variant: str | None = None,
        rate_wpm: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        rand_seed: int = 0,
    ) -> np.ndarray:
        """Speak ``text``; return float32 samples in [-1, 1] at `sample_rate` Hz.

        ``voice`` is an espeak language (e.g. 'en-us'), ``variant`` a name from `variant_names`.
        ``rand_seed`` seeds espeak's noise generator (breathy voices), which is otherwise seeded
        from the clock.
        """
        if variant is not None and variant not in self._variants:
            raise _data_error(f"espeak voice variant {variant!r} not found in the voice data")
        name = voice if variant is None else f"{voice}+{variant}"
        if self._lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            raise _data_error(f"espeak voice {voice!r} not found in the voice data")
        for param, value in ((_ESPEAK_RATE, rate_wpm), (_ESPEAK_PITCH, pitch), (_ESPEAK_RANGE, pitch_range)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        self._lib.espeak_ng_SetRandSeed(int(rand_seed))
        self._chunks = []
        buf = text.encode() + b"\0"
        err = self._lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, 0, None, None)
        self._lib.espeak_Synchronize()
        if err != _EE_OK:
            raise _data_error(f"espeak_Synth failed for {text!r} with voice {name!r} ({err})")
        if not self._chunks:
            return np.zeros(0, dtype=np.float32)
        return (np.concatenate(self._chunks).astype(np.float32) / 32768.0).astype(np.float32)


@lru_cache(maxsize=1)
def get_espeak() -> Espeak:
    """The process's espeak instance."""
    return Espeak()


# ---------------------------------------------------------------------------------------------
# Deterministic synthesis in fresh processes
# ---------------------------------------------------------------------------------------------

# The child loads this file by path (not through the package, whose imports take seconds).
_CHILD = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('_rram_lsm_espeak', sys.argv[1])\n"
    "mod = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(mod)\n"
    "sys.exit(mod._child_main(sys.argv[2], sys.argv[3]))\n"
)


def _child_main(job: str, result: str) -> int:
    requests = pickle.loads(Path(job).read_bytes())
    tts = Espeak()
    waves = [np.round(tts.synth(**r) * 32768.0).clip(-32768, 32767).astype(np.int16) for r in requests]
    Path(result).write_bytes(pickle.dumps((tts.sample_rate, waves), protocol=4))
    return 0


def _run_block(requests: list[dict[str, Any]]) -> tuple[int, list[np.ndarray]]:
    with tempfile.TemporaryDirectory(prefix="rram-lsm-espeak-") as tmp:
        job, result = Path(tmp, "job.pkl"), Path(tmp, "result.pkl")
        job.write_bytes(pickle.dumps(list(requests), protocol=4))
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(__file__).resolve()), str(job), str(result)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
            raise _data_error(f"speech synthesis failed (exit {proc.returncode}):\n{tail}")
        return pickle.loads(result.read_bytes())


def synthesise_blocks(
    requests: Sequence[dict[str, Any]],
    block_size: int,
    n_workers: int = 1,
    progress=None,
) -> tuple[int, list[np.ndarray]]:
    """Speak every request (keyword arguments of `Espeak.synth`), ``block_size`` per process.

    Returns ``(sample_rate_hz, waves)`` with float32 waves in [-1, 1], in request order.
    ``progress`` (optional) is called with the number of finished requests of each block.
    """
    blocks = [list(requests[i : i + block_size]) for i in range(0, len(requests), block_size)]
    results: list[Any] = [None] * len(blocks)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        futures = {pool.submit(_run_block, b): i for i, b in enumerate(blocks)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            if progress is not None:
                progress(len(blocks[i]))
    rates = {r[0] for r in results}
    if len(rates) > 1:  # pragma: no cover - one library, one rate
        raise _data_error(f"espeak returned several sample rates {rates}")
    waves = [w.astype(np.float32) / np.float32(32768.0) for r in results for w in r[1]]
    return (rates.pop() if rates else 22050), waves
