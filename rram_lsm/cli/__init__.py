"""The `rram-lsm` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func`` to a handler ``handler(args) -> int``.  Exit codes: 0 success, 2 bad input
(`InputError`, message on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
