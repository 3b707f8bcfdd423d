"""What every command-line tool of the zoo shares: one error and output policy.

* user errors (a missing file, a bad value, a corrupted input) print ``error: <one line>`` on
  stderr and exit with status 2 -- no traceback; Ctrl-C exits with 130;
* :class:`ToolParser` turns argparse's usage errors into such one-liners, and the argument types
  :func:`positive_int` & co. refuse zero and negative counts at parse time;
* what a tool did to its input on the user's behalf (an image converted to RGB) is one
  ``note: ...`` line on stderr (:func:`note`);
* :func:`check_output` refuses an output path that is a folder or whose folder does not exist
  *before* any work is done, and every tool writes its output atomically (no half-written file).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Union

from ..data.image_modes import ImageError, parse_color

#: errors that are the user's input, reported as one line (no traceback)
USER_ERRORS = (ImageError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError,
               OSError, KeyError)


class UsageError(ValueError):
    """A bad command line: unknown option, missing argument, invalid value."""


class ToolParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors raise :class:`UsageError` instead of printing the usage."""

    def error(self, message: str):
        """Raise :class:`UsageError` (one line) instead of exiting."""
        raise UsageError(f"{message} (see {self.prog} --help)")


def _number(text: str, kind: type, low, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not value >= low:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    """Argument type: an integer >= 1."""
    return _number(text, int, 1, "a positive integer")


def seed_int(text: str) -> int:
    """Argument type: a random seed, an integer in [0, 2**32)."""
    value = _number(text, int, 0, "a seed >= 0")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be a seed below 2**32, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """Argument type: a finite number >= 0."""
    value = _number(text, float, 0.0, "a number >= 0")
    if value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be finite, got {text}")
    return value


def positive_float(text: str) -> float:
    """Argument type: a finite number > 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def color(text: str) -> str:
    """Argument type: a colour name (``white``) or ``#rrggbb``, checked at parse time."""
    try:
        parse_color(text)
    except ImageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def note(message: str) -> None:
    """Tell the user, in one ``note:`` line on stderr, what was done to their input."""
    print(f"note: {message}", file=sys.stderr)


def run_cli(main: Callable[[list | None], int], argv: list | None = None) -> int:
    """Call ``main(argv)``; turn user errors into ``error: <message>`` on stderr and exit code 2."""
    logging.getLogger("PIL").setLevel(logging.CRITICAL)  # its errors reach us as exceptions
    try:
        return main(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {msg.splitlines()[0] if msg else type(exc).__name__}", file=sys.stderr)
        return 2


def check_output(path: Union[str, os.PathLike]) -> Path:
    """The output path, after checking it can be written: not a folder, its folder exists."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(f"output {out} is a directory")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    return out


def quiet_lightning() -> None:
    """Silence Lightning's banners and warnings for tools that train in the background."""
    os.environ.setdefault("WANDB_MODE", "offline")
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
