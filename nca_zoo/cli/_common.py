"""What every command-line tool of the zoo shares: one error and output policy.

* user errors (a missing file, a bad value, a corrupted input) print ``error: <one line>`` on
  stderr and exit with status 2 -- no traceback; Ctrl-C exits with 130;
* :func:`check_output` refuses an output path that is a folder or whose folder does not exist
  *before* any work is done, and every tool writes its output atomically (no half-written file).
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Union

from ..data.images import ImageError

#: errors that are the user's input, reported as one line (no traceback)
USER_ERRORS = (ImageError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError,
               OSError, KeyError)


def run_cli(main: Callable[[list | None], int], argv: list | None = None) -> int:
    """Call ``main(argv)``; turn user errors into ``error: <message>`` on stderr and exit code 2."""
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
