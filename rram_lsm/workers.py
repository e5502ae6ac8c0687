"""Helpers for the worker processes (joblib / loky) that run head trainings and probes."""

from __future__ import annotations

import ctypes


def return_freed_memory() -> None:
    """Hand freed memory back to the OS at the end of a worker task.

    glibc keeps freed heap memory in the process, so a task's large temporaries stay in its
    resident size. joblib's loky workers measure that size after their first task and restart
    themselves ("memory leak") once it has grown by 300 MB; a restart costs seconds (torch is
    imported again) and prints a warning. Trimming after every task keeps each worker near its
    baseline whatever mix of trainings and probes it runs. Outside glibc it does nothing. (No
    ``gc.collect()``: with torch loaded it takes ~0.1 s, and the tasks' arrays are freed by
    reference counting.)
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def stop_worker_processes() -> None:
    """Stop joblib's reusable loky worker processes now, if any are running (they keep no state
    between tasks). A program that ends with them alive waits at exit while each one tears its
    own interpreter down (~2 s with torch loaded); killing idle workers skips that."""
    try:
        from joblib.externals.loky import reusable_executor
    except ImportError:  # pragma: no cover - joblib is a dependency
        return
    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)  # killing is quick; then they are gone
