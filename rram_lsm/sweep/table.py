"""The sweep's results table: ``results.csv`` in the sweep folder, one row per finished trial,
keyed by the trial's config hash; rewritten atomically after every trial, so a killed sweep
keeps every finished row and a rerun skips them.

CSV is used so that pandas, Arrow and a spreadsheet all read it without an extra dependency.
Columns: ``key``, ``status`` (ok / error), ``error``, ``runtime_s``, ``die``, one ``axis:<key>``
column per axis and one ``metric:<path>`` column per metric.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from crossbar.fsio import atomic_write_text

TABLE = "results.csv"
AXIS, METRIC = "axis:", "metric:"
FIXED = ("key", "status", "error", "runtime_s", "die")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if isinstance(v, (list, dict, bool)):
        return json.dumps(v)
    return str(v)


def _parse(text: str) -> Any:
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


class ResultsTable:
    """Rows of one sweep folder, by trial key (the file is the truth: read at open)."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / TABLE
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            with open(self.path, newline="") as fh:
                for row in csv.DictReader(fh):
                    self.rows[row["key"]] = {k: _parse(v) if k not in ("key", "error", "status")
                                             else v for k, v in row.items()}

    def finished(self) -> set[str]:
        """Keys of trials that succeeded (failed ones run again on a rerun)."""
        return {k for k, r in self.rows.items() if r.get("status") == "ok"}

    def append(self, row: dict[str, Any]) -> None:
        """Add (or replace) the row of ``row['key']`` and rewrite the table atomically."""
        self.rows[row["key"]] = row
        cols = list(FIXED)
        for r in self.rows.values():
            cols += [c for c in r if c not in cols]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows.values():
            w.writerow({c: _cell(r.get(c)) for c in cols})
        atomic_write_text(self.path, buf.getvalue())

    @property
    def axes(self) -> list[str]:
        return _cols(self.rows, AXIS)

    @property
    def metrics(self) -> list[str]:
        return _cols(self.rows, METRIC)


def _cols(rows: dict, prefix: str) -> list[str]:
    out: list[str] = []
    for r in rows.values():
        out += [c[len(prefix):] for c in r if c.startswith(prefix) and c[len(prefix):] not in out]
    return out
