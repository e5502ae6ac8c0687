"""Counter-based random numbers shared by the numba kernels and their numpy references.

Kernels that run in parallel over a batch must not depend on thread scheduling, so they do not
use a stateful generator. Instead the k-th 64-bit word of a stream is ``splitmix64(seed + (k+1)*phi)``
(the SplitMix64 sequence, Steele et al., OOPSLA 2014), and each word yields four 16-bit indices
into `NORMAL_TABLE`, a 65,536-level inverse-CDF table of the standard normal (quantiles at
(k + 1/2) / 65536, rescaled to unit variance). Its tails are cut at +-4.32 sigma, which changes
the variance of a sum of cell noises by nothing measurable, and makes a per-cell Gaussian cost
about one table load. Both the kernels and `normals_ref` below compute exactly the same numbers.

`NORMAL_TABLE_4096` is the same construction with 4,096 levels (quantiles at (k + 1/2) / 4096,
indexed by the top 12 bits of the 16-bit slot; tails cut at the 1/8192 quantile, +-3.67 sigma
after the rescaling). Its 16 KB (float32) stay in the L1 cache, where the 256 KB float32 table competes with
the weights for L2; the LSM kernel, which draws one normal per output per step, uses it
(`short_normals_ref` is its reference).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.special import ndtri

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_MASK16 = np.uint64(0xFFFF)
_ONE = np.uint64(1)


def _make_table(levels: int = 65536) -> np.ndarray:
    q = (np.arange(levels, dtype=np.float64) + 0.5) / levels
    t = ndtri(q)
    t -= t.mean()
    t /= np.sqrt(np.mean(t * t))
    return t


NORMAL_TABLE: np.ndarray = _make_table()
NORMAL_TABLE_4096: np.ndarray = _make_table(4096)
SHORT_SHIFT = 4  # index of NORMAL_TABLE_4096 = 16-bit slot >> SHORT_SHIFT


@njit(cache=True, inline="always")
def splitmix64(z: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def stream_word(seed: np.uint64, counter: np.int64) -> np.uint64:  # pragma: no cover - compiled
    """The ``counter``-th 64-bit word of the stream ``seed``."""
    return splitmix64(seed + (np.uint64(counter) + _ONE) * GOLDEN)


@njit(cache=True, inline="always")
def table_normal(word: np.uint64, slot: np.int64, table: np.ndarray) -> float:  # pragma: no cover
    """Standard normal from 16-bit slot ``slot`` (0..3) of ``word``."""
    return table[np.int64((word >> np.uint64(16 * slot)) & _MASK16)]


# --- numpy references ---------------------------------------------------------------------


def splitmix64_ref(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def stream_words_ref(seed: int, counters: np.ndarray) -> np.ndarray:
    counters = np.asarray(counters, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        return splitmix64_ref(np.uint64(seed) + (counters + _ONE) * GOLDEN)


def normals_ref(seed: int, base_counters: np.ndarray, n: int) -> np.ndarray:
    """Normals for ``n`` consecutive values after each base counter.

    Value j of a row uses word ``base + j // 4``, slot ``j % 4`` -- the layout the kernels use.
    ``base_counters`` has any shape S; the result has shape S + (n,).
    """
    return NORMAL_TABLE[_slot_indices(seed, base_counters, n)]


def short_normals_ref(seed: int, base_counters: np.ndarray, n: int) -> np.ndarray:
    """As `normals_ref`, from `NORMAL_TABLE_4096` (slot ``>> SHORT_SHIFT``)."""
    return NORMAL_TABLE_4096[_slot_indices(seed, base_counters, n) >> SHORT_SHIFT]


def _slot_indices(seed: int, base_counters: np.ndarray, n: int) -> np.ndarray:
    """The 16-bit slots (int64) of `normals_ref`'s layout: value j uses word
    ``base + j // 4``, slot ``j % 4``."""
    base = np.asarray(base_counters, dtype=np.int64)
    j = np.arange(n)
    words = stream_words_ref(seed, base[..., None] + (j // 4))
    return ((words >> (np.uint64(16) * (j % 4).astype(np.uint64))) & _MASK16).astype(np.int64)


def draw_seed(rng: np.random.Generator) -> int:
    """A fresh 64-bit stream seed from a numpy Generator (how objects derive kernel seeds)."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))
