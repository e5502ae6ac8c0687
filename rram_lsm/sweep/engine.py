"""Run a sweep's trials: on Ray (each trial one task; the binned data put in the object store
once) or serially in this process (the reference the Ray speed-up is measured against).

Every finished trial goes into the results table at once; a trial that raises is recorded with its
error and the sweep goes on; trials already in the table are skipped.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossbar.errors import InputError
from crossbar.fsio import atomic_write_text
from rram_lsm.sweep.plan import Trial, plan_trials
from rram_lsm.sweep.spec import SweepSpec
from rram_lsm.sweep.table import AXIS, METRIC, ResultsTable

SPEC_FILE = "spec.json"


@dataclass
class SweepOutcome:
    """What a sweep run did: trial counts and wall-clock seconds (``trials_per_s`` over the
    trials this run executed)."""

    folder: Path
    trials: int
    skipped: int
    ran: int
    failed: int
    wall_s: float
    executor: str
    startup_s: float = 0.0  # part of wall_s: loading the data, starting / attaching to Ray

    @property
    def trials_per_s(self) -> float:
        return self.ran / self.wall_s if self.wall_s > 0 else math.nan

    def to_dict(self) -> dict:
        return {"folder": str(self.folder), "trials": self.trials, "skipped": self.skipped,
                "ran": self.ran, "failed": self.failed, "wall_s": self.wall_s,
                "trials_per_s": self.trials_per_s, "startup_s": self.startup_s,
                "executor": self.executor}


def trial_row(trial: dict, splits: dict, metrics: list[str]) -> dict[str, Any]:
    """Run one trial (``trial``: `Trial` fields as a dict) and return its table row; an error
    becomes ``status`` 'error' with the message (the traceback's last line)."""
    from rram_lsm.experiments.config import ExperimentConfig
    from rram_lsm.sweep.point import extract, results_dict, run_point

    t = time.perf_counter()
    row: dict[str, Any] = {"key": trial["key"], "die": trial["die"],
                           **{AXIS + k: v for k, v in trial["params"].items()}}
    try:
        res = results_dict(run_point(ExperimentConfig.model_validate(trial["config"]), splits))
        row.update({"status": "ok", "error": ""}, **{METRIC + m: extract(res, m) for m in metrics})
    except Exception as exc:  # a failed trial is a result: record it, the sweep goes on
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        row.update({"status": "error", "error": last[:500]}, **{METRIC + m: math.nan for m in metrics})
    row["runtime_s"] = time.perf_counter() - t
    return row


def prepare_folder(spec: SweepSpec, out: Path, force: bool) -> None:
    """Create the sweep folder; a folder of a different sweep is refused unless ``force``
    (``force`` also drops earlier results, so every trial runs again)."""
    from rram_lsm.sweep.table import TABLE

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(spec.model_dump(mode="json"), indent=1, sort_keys=True)
    old = out / SPEC_FILE
    if old.exists() and old.read_text() != text and not force:
        raise InputError(f"{out}: holds a different sweep ({SPEC_FILE} differs); use another "
                         "--out or --force to start it over")
    if force and (out / TABLE).exists():
        (out / TABLE).unlink()
    atomic_write_text(old, text)


def run_sweep(spec: SweepSpec, out: str | Path, data_root: str | Path = "data_cache", *,
              executor: str = "ray", address: str | None = None, max_concurrent: int | None = None,
              force: bool = False, progress: bool = True, trials: list[Trial] | None = None,
              trial_fn: Callable[..., dict] = trial_row) -> SweepOutcome:
    """Plan (validating every trial first), then run the unfinished trials of ``spec`` into the
    folder ``out``. ``executor``: 'ray' (local Ray on ``max_concurrent`` or all cores; an
    existing cluster with ``address``) or 'serial'. ``trial_fn(trial, splits, metrics)`` makes
    one row (tests swap it in)."""
    from rram_lsm.experiments.runner import check_inputs, load_data
    from rram_lsm.sweep.point import default_metrics

    out = Path(out)
    if trials is None:
        trials = plan_trials(spec, out)  # raises ConfigError naming the axis: nothing ran
    prepare_folder(spec, out, force)
    table = ResultsTable(out)
    done = table.finished()
    todo = [t for t in trials if t.key not in done]
    metrics = spec.metrics or default_metrics(trials[0].experiment_config())
    t0 = time.perf_counter()
    # one binned data set per distinct data section (normally one for the whole sweep)
    data_keys = {t.key: json.dumps(t.config["data"], sort_keys=True) for t in todo}
    datasets: dict[str, Any] = {}
    for t in todo:
        if data_keys[t.key] not in datasets:
            cfg = t.experiment_config()
            check_inputs(cfg, data_root)
            datasets[data_keys[t.key]] = load_data(cfg, data_root, quiet=True)
    failed = 0
    timing = {"startup_s": time.perf_counter() - t0}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(trials), initial=len(trials) - len(todo), desc=f"sweep {spec.name}",
               unit="trial", disable=not progress, file=sys.stderr, dynamic_ncols=True)

    def record(row: dict) -> None:
        nonlocal failed
        table.append(row)
        failed += row.get("status") != "ok"
        bar.set_postfix(failed=failed)
        bar.update()

    with bar:
        if executor == "serial":
            for t in todo:
                record(trial_fn(_as_dict(t), datasets[data_keys[t.key]], metrics))
        elif executor == "ray":
            _run_ray(todo, datasets, data_keys, metrics, record, trial_fn, address, max_concurrent,
                     timing)
        else:
            raise InputError(f"unknown executor {executor!r} (ray, serial)")
    return SweepOutcome(folder=out, trials=len(trials), skipped=len(trials) - len(todo),
                        ran=len(todo), failed=failed, wall_s=time.perf_counter() - t0,
                        executor=executor, startup_s=timing["startup_s"])


def _as_dict(t: Trial) -> dict:
    return {"key": t.key, "params": t.params, "die": t.die, "config": t.config}


def ray_init(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or attach to, with ``address``) Ray once per process; quiet, no dashboard."""
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # the workers import this checkout (PYTHONPATH is inherited by the local raylet)
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **kwargs)


def _run_ray(todo: list[Trial], datasets: dict, data_keys: dict, metrics: list[str],
             record: Callable[[dict], None], trial_fn: Callable, address: str | None,
             max_concurrent: int | None, timing: dict) -> None:
    import ray

    t = time.perf_counter()
    ray_init(address, max_concurrent)
    timing["startup_s"] += time.perf_counter() - t
    if not todo:
        return
    refs = {k: ray.put(v) for k, v in datasets.items()}  # the binned data, once
    task = ray.remote(num_cpus=1, max_retries=0)(trial_fn)
    limit = max_concurrent or max(1, int(ray.available_resources().get("CPU", 1)))
    pending: dict[Any, Trial] = {}
    queue = list(todo)
    while queue or pending:
        while queue and len(pending) < limit:
            t = queue.pop(0)
            pending[task.remote(_as_dict(t), refs[data_keys[t.key]], metrics)] = t
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            t = pending.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as exc:  # the task raised outside trial_row, or its worker died
                cause = getattr(exc, "cause", None) or exc  # RayTaskError wraps the task's error
                text = (str(cause).strip().splitlines() or [""])[-1][:400]
                row = {"key": t.key, "die": t.die, "status": "error",
                       "error": f"{type(cause).__name__}: {text}",
                       **{AXIS + k: v for k, v in t.params.items()},
                       **{METRIC + m: math.nan for m in metrics}}
            record(row)
