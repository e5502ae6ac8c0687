"""Worker-process helpers (rram_lsm.workers)."""

from __future__ import annotations

from joblib import Parallel, delayed

from rram_lsm.workers import stop_worker_processes


def test_stop_worker_processes_ends_idle_loky_workers_and_later_calls_still_work():
    from joblib.externals.loky import reusable_executor

    assert Parallel(n_jobs=2, backend="loky")(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]
    # (workers an earlier test left behind may be exiting on their own: look at the live ones)
    procs = [p for p in reusable_executor._executor._processes.values() if p.is_alive()]
    assert procs
    stop_worker_processes()
    for p in procs:
        p.join(timeout=20)
    assert not any(p.is_alive() for p in procs)
    # the next parallel call gets a fresh executor
    assert Parallel(n_jobs=2, backend="loky")(delayed(abs)(-i) for i in range(3)) == [0, 1, 2]
    stop_worker_processes()
    stop_worker_processes()  # nothing running: a no-op
