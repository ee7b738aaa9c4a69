"""The ``harness`` command line: a thin front end over the plain functions of each stage, one module per command
group (model.py, device.py, firmware.py, link.py, history.py, eval.py, calibrate.py, virtual_bench.py, farm.py),
each with a ``register(sub, bench)`` that adds its subcommands; what they share is in common.py, the options it
shares with the pytest plugin in harness/options.py.

Exit status, one policy for every command (common.py OK, FAILED, USAGE; an error's is its class's ``exit_code``,
harness/errors.py):
  0    ok
  1    a test outcome: the device or the self-test disagrees with the reference (MismatchError), a regression
       (compare, regressions), a failed check (doctor, fixtures check), a wrong result (bench link, bench firmware)
  2    a usage or environment error: bad input, a missing file, tool, board or port, a failed build; every
       HarnessError that is not a test outcome, and argparse's errors
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import functools
import sys

from harness.cli import calibrate, device, eval, farm, firmware, history, link, model, virtual_bench
from harness.cli.common import OK, USAGE, exit_status
from harness.errors import HarnessError
from harness.progress import Progress

# The order of `harness --help`; `harness bench` is listed where its first benchmark registers.
COMMANDS = (model, device, link, history, eval, firmware, calibrate, virtual_bench, farm)


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one ``--help`` away), exit status USAGE."""

    def error(self, message: str):
        self.exit(USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="harness", description="Firmware-in-the-loop test harness for RNNPool on STM32.")
    p.add_argument("--traceback", action="store_true", help="show the Python traceback on errors")
    sub = p.add_subparsers(dest="command", required=True)
    bench = functools.cache(lambda: sub.add_parser("bench", help="benchmarks that print figures").add_subparsers(
        dest="bench_command", required=True))
    for module in COMMANDS:
        module.register(sub, bench)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        if args.traceback:
            raise
        Progress().warn(f"harness: error: {exc}")
        return exit_status(exc)
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
    except KeyboardInterrupt:
        Progress().warn("harness: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
