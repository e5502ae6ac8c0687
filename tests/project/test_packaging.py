"""The package installs: a wheel carries the presets and configs as package data, and the
installed copy (not the checkout) runs the CLI and finds its presets from an unrelated folder."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crossbar.resources import config_dir, config_file, config_root, list_config_files

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("crossbar", "firmware", "rram_lsm")
SHIPPED = sorted(p.relative_to(REPO / "configs").as_posix()
                 for p in (REPO / "configs").rglob("*.yaml"))


def test_accessor_reads_the_checkout_configs():
    assert Path(config_root()) == REPO / "configs"
    assert "rram-40nm-256kb.yaml" in list_config_files("macro")
    assert config_file("macro/rram-40nm-256kb.yaml") == REPO / "configs/macro/rram-40nm-256kb.yaml"
    assert config_file("lsm/image.yaml").is_file() and config_dir("data").is_dir()
    assert config_file("lsm/absent.yaml", required=False) is None
    with pytest.raises(FileNotFoundError, match="configs/lsm/absent.yaml"):
        config_file("lsm/absent.yaml")
    with pytest.raises(ValueError, match="without '..'"):
        config_file("../pyproject.toml")
    assert list_config_files("no-such-folder") == []


def _copy_sources(dest: Path) -> None:
    """The files a build needs, without caches or build leftovers of the checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in (*PACKAGES, "configs"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{args} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, target folder): a wheel built from a copy of the sources, installed with --target."""
    if importlib.util.find_spec("pip") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("pip wheel needs pip and setuptools in this interpreter")
    tmp = tmp_path_factory.mktemp("pkg")
    src, dist, target = tmp / "src", tmp / "dist", tmp / "target"
    src.mkdir()
    _copy_sources(src)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", str(dist), str(src)], cwd=tmp, env=env)
    (wheel,) = dist.glob("*.whl")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
          str(wheel)], cwd=tmp, env=env)
    return wheel, target


def test_wheel_contents(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in SHIPPED:
        assert f"crossbar/_configs/{rel}" in names, f"configs/{rel} is not in the wheel"
    # Every module of the checkout is in the wheel: pyproject's package list is complete.
    for pkg in PACKAGES:
        for p in (REPO / pkg).rglob("*.py"):
            rel = p.relative_to(REPO).as_posix()
            assert rel in names, f"{rel} is missing from the wheel (add its package to pyproject)"


def _installed_env(target: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RRAM_LSM_PRESETS")}
    env["PYTHONPATH"] = str(target)  # the venv's python keeps resolving numpy, torch, ...
    env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    return env


def test_installed_copy_runs_from_an_unrelated_folder(installed, tmp_path):
    _, target = installed
    env = _installed_env(target, tmp_path)
    probe = ("import json, crossbar, firmware, rram_lsm\n"
             "from crossbar import Macro\n"
             "from crossbar.resources import config_file, config_root\n"
             "m = Macro('rram-40nm-256kb', seed=0)\n"
             "print(json.dumps({'crossbar': crossbar.__file__, 'firmware': firmware.__file__,\n"
             "  'rram_lsm': rram_lsm.__file__, 'configs': str(config_root()),\n"
             "  'default': str(config_file('zero_shot_default.yaml')), 'rows': m.rows}))\n")
    out = json.loads(_run([sys.executable, "-c", probe], cwd=tmp_path, env=env).splitlines()[-1])
    print("installed copy:", out)
    for key in ("crossbar", "firmware", "rram_lsm", "configs", "default"):
        assert Path(out[key]).resolve().is_relative_to(target.resolve()), (key, out[key])
    assert out["rows"] == 512
    stats = json.loads(_run([sys.executable, "-m", "rram_lsm", "macro", "stats", "--json"],
                            cwd=tmp_path, env=env))
    assert stats["preset"] == "rram-40nm-256kb" and stats["rows"] == 512
    assert 0.3 < stats["formed_fraction"] < 0.7
