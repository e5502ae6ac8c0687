"""Imports go one way: crossbar <- firmware, crossbar <- rram_lsm; the LSM does not need firmware.

Each check imports a package and every one of its submodules in a fresh interpreter and looks at
``sys.modules`` afterwards.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import importlib, json, pkgutil, sys
loaded = []
for top in {packages!r}:
    pkg = importlib.import_module(top)
    loaded.append(top)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=top + "."):
        importlib.import_module(info.name)
        loaded.append(info.name)
print(json.dumps({{"loaded": loaded, "modules": sorted(sys.modules)}}))
"""


def _import_all(*packages: str) -> tuple[list[str], set[str]]:
    """(submodules imported, top-level names in sys.modules) after importing ``packages``."""
    res = subprocess.run([sys.executable, "-c", _PROBE.format(packages=list(packages))],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.splitlines()[-1])
    return out["loaded"], {m.split(".")[0] for m in out["modules"]}


@pytest.mark.parametrize(
    ("packages", "forbidden", "expect"),
    [
        (("crossbar",), ("torch", "rram_lsm", "firmware"),
         ("crossbar.readback", "crossbar.resources", "crossbar.fsio", "crossbar.macro")),
        (("firmware",), ("rram_lsm",), ("firmware.readback", "firmware.replay")),
        (("rram_lsm.lsm",), ("firmware",), ("rram_lsm.lsm.measured", "rram_lsm.lsm.model")),
    ],
)
def test_import_direction(packages, forbidden, expect):
    loaded, mods = _import_all(*packages)
    assert set(expect) <= set(loaded), f"submodules not walked: {set(expect) - set(loaded)}"
    bad = [f for f in forbidden if f in mods]
    assert not bad, f"importing {packages} (all submodules) imports {bad}"


def test_errors_module_stays_light():
    """Every package's error classes derive from crossbar.errors: it must not pull in numba."""
    res = subprocess.run([sys.executable, "-c", "import sys, crossbar.errors, crossbar.fsio; "
                          "print(sorted({m.split('.')[0] for m in sys.modules}))"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    mods = res.stdout
    assert "numba" not in mods and "numpy" not in mods and "torch" not in mods


def _imported_names(path: Path) -> set[str]:
    """Top-level package of every import statement in a file, also those inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [("crossbar", {"torch", "rram_lsm", "firmware"}), ("firmware", {"rram_lsm", "torch"}),
     ("rram_lsm/lsm", {"firmware"})],
)
def test_no_forbidden_import_statements(folder, forbidden):
    """Also lazy imports inside functions, which the sys.modules check above cannot see."""
    bad = {str(p.relative_to(REPO)): sorted(_imported_names(p) & forbidden)
           for p in sorted((REPO / folder).rglob("*.py"))}
    assert not {k: v for k, v in bad.items() if v}
