"""Thread-parallel map with a progress bar, for the stand-in generators.

The per-sample work is dominated by numba kernels compiled with ``nogil`` and numpy calls that
release the GIL, so threads use several cores without the start-up cost of processes.  Each
sample draws from its own seeded stream, so results never depend on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Usable CPU cores of this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (disabled when ``enabled`` is false)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, leave=enabled)


def thread_map(
    func: Callable[[T], R],
    items: Sequence[T],
    n_workers: int = 1,
    bar: Any = None,
) -> list[R]:
    """``[func(x) for x in items]`` on ``n_workers`` threads, in order; ticks ``bar`` per item."""
    if n_workers <= 1 or len(items) <= 1:
        out = []
        for x in items:
            out.append(func(x))
            if bar is not None:
                bar.update(1)
        return out
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        out = []
        # map() keeps order; results are consumed as they arrive in order, which is fine for
        # a progress bar at this granularity.
        for r in pool.map(func, items):
            out.append(r)
            if bar is not None:
                bar.update(1)
        return out
