"""The `rram-lsm` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` to a handler ``handler(args) -> int``.  Exit codes: 0 success, 2 bad input
(`InputError`, message on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import sys

from crossbar.errors import InputError

# Command-group modules, registered in this order. A module missing from a partial checkout is
# skipped so that the rest of the CLI keeps working.
_COMMAND_MODULES = ("macro", "data", "encode", "run", "firmware", "nir", "bmi", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rram-lsm",
        description="RRAM liquid state machine simulator (Lin et al., Nat. Comput. Sci. 2025).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rram_lsm.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rram_lsm.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code. Without ``argv`` (the program itself: the
    ``rram-lsm`` script or ``python -m rram_lsm``) the process also skips the interpreter's
    teardown at exit (see `_exit_after_cleanup`)."""
    if argv is None:
        atexit.register(_exit_after_cleanup)  # first registered: runs after every other handler
    _exit_status[0] = 1  # an uncaught exception exits 1
    try:
        _exit_status[0] = code = _run(argv)
        return code
    except SystemExit as exc:  # argparse errors and --help
        c = exc.code
        _exit_status[0] = 0 if c is None else c if isinstance(c, int) else 1
        raise


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"rram-lsm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rram-lsm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`): not an error of ours; silence the
        # interpreter's own report at exit by pointing stdout at devnull
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


_exit_status = [1]


def _exit_after_cleanup() -> None:
    """The last exit handler of the program: flush stdout / stderr and end the process with
    main's exit code, skipping the interpreter's teardown of every loaded module (with torch,
    numba, scipy and matplotlib loaded that teardown takes about a second and does nothing for
    us). Worker pools, temporary folders and other exit handlers have already been cleaned up
    by then: Python joins threads and runs later-registered handlers first."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to write
            pass
    os._exit(_exit_status[0])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
