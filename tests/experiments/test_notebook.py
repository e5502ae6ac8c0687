"""``notebooks/zero_shot_walkthrough.ipynb`` executes end to end (nbclient) and stays clean.

The notebook runs in a kernel of *this* interpreter: a ``python3`` kernelspec pointing at
``sys.executable`` is written to a temporary ``JUPYTER_PATH`` (which takes precedence over any
user or system kernelspec), and the Jupyter / IPython config and runtime folders are temporary
too, so no user configuration is read.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import rram_lsm

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "zero_shot_walkthrough.ipynb"

# Appended to the in-memory copy only: which interpreter and which package the kernel ran.
_PROBE = (
    "import json as _json, sys as _sys, rram_lsm as _pkg\n"
    "print('KERNEL-INFO ' + _json.dumps({'executable': _sys.executable, 'prefix': _sys.prefix,\n"
    "                                    'package': _pkg.__file__}))"
)


def _write_kernelspec(share: Path) -> None:
    kdir = share / "kernels" / "python3"
    kdir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test interpreter)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook after execution (plus the probe cell), run in a temporary folder."""
    base = tmp_path_factory.mktemp("notebook")
    _write_kernelspec(base / "share")
    run_dir = base / "cwd"
    run_dir.mkdir()
    pkg_root = str(Path(rram_lsm.__file__).resolve().parents[1])  # the kernel imports this copy
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(base / "share"))
        mp.setenv("JUPYTER_CONFIG_DIR", str(base / "config"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(base / "runtime"))
        mp.setenv("IPYTHONDIR", str(base / "ipython"))
        mp.setenv("MPLBACKEND", "Agg")  # headless; the notebook switches to inline itself
        mp.setenv("PYTHONPATH", os.pathsep.join(
            p for p in (pkg_root, os.environ.get("PYTHONPATH")) if p))
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(run_dir)}})
        client.execute()  # raises CellExecutionError (with the traceback) if a cell fails
    return nb


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _stdout(nb) -> str:
    return "".join(o.text for o in _outputs(nb)
                   if o.output_type == "stream" and o.name == "stdout")


def test_kernel_is_this_interpreter(executed):
    line = next(ln for ln in _stdout(executed).splitlines() if ln.startswith("KERNEL-INFO "))
    info = json.loads(line.removeprefix("KERNEL-INFO "))
    assert info["prefix"] == sys.prefix
    assert os.path.realpath(info["executable"]) == os.path.realpath(sys.executable)
    assert Path(info["package"]).resolve() == Path(rram_lsm.__file__).resolve()


def test_runs_without_errors(executed):
    assert not [o for o in _outputs(executed) if o.output_type == "error"]
    stderr = "".join(o.text for o in _outputs(executed)
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr


def test_key_outputs(executed):
    out = _stdout(executed)
    # step 1: macro statistics and the forming sweep
    assert "formed_fraction_expected" in out
    assert "breakdown CDF" in out
    # step 3: firing statistics and ledger energy
    assert "energy/sample" in out and "nJ per sample" in out
    # step 4: retrieval numbers with chance levels
    for split in ("seen", "unseen"):
        assert any(ln.startswith(f"{split} ") and "retrieval top-1" in ln and "chance" in ln
                   for ln in out.splitlines()), split
    # step 5: metrics.json keys and the report
    assert "keys:" in out and "zero_shot" in out
    assert "read back equal to what run_experiment returned: True" in out  # typed results
    data = [o.data for o in _outputs(executed) if o.output_type in ("display_data", "execute_result")]
    assert sum("image/png" in d for d in data) >= 6
    assert any("# rram-lsm run" in d.get("text/markdown", "") for d in data)
    # the scratch folder is removed by the last cell
    work = next(ln for ln in out.splitlines() if ln.startswith("scratch folder: "))
    assert not Path(work.removeprefix("scratch folder: ")).exists()


def test_committed_notebook_is_clean():
    nb = nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for c in code:
        assert c.outputs == [], "commit the notebook without outputs"
        assert c.execution_count is None
        assert "execution" not in c.metadata
