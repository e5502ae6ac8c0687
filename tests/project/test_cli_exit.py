"""The program (`python -m rram_lsm`, the `rram-lsm` script) ends without the interpreter's
teardown, yet with main's exit code and all of its output."""

from __future__ import annotations

import subprocess
import sys

from rram_lsm.cli import build_parser


def _prog(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "rram_lsm", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_help_is_complete_and_exits_0():
    r = _prog("run", "--help")
    assert r.returncode == 0
    assert r.stdout == build_parser()._subparsers._group_actions[0].choices["run"].format_help()


def test_usage_errors_exit_2_with_their_message():
    r = _prog("no-such-command")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = _prog("run", "--set", "no_such_key=1", "--out", "unused")
    assert r.returncode == 2 and r.stderr.startswith("rram-lsm: error:")


def test_an_internal_error_exits_1_with_its_traceback():
    r = _prog(code="import sys, rram_lsm.cli as c\n"
                   "def boom(argv):\n    raise RuntimeError('boom')\n"
                   "c._run = boom\nsys.exit(c.main())")
    assert r.returncode == 1 and "RuntimeError: boom" in r.stderr


def test_exit_handlers_registered_later_still_run():
    r = _prog(code="import atexit, sys, rram_lsm.cli as c\n"
                   "def run(argv):\n"
                   "    atexit.register(lambda: print('handler ran', flush=True))\n"
                   "    print('partial line', end='')\n    return 3\n"
                   "c._run = run\nsys.exit(c.main())")
    assert r.returncode == 3
    assert r.stdout == "partial linehandler ran\n"
