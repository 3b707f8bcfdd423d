"""Shared plumbing of the zoo's command-line tools: one-line errors, non-zero exit."""
from __future__ import annotations

import sys
from typing import Callable

from .data.images import ImageError

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
