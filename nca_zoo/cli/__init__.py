"""The zoo's command-line tools, one module each, sharing one error and output policy.

``nca-zoo TOOL ...`` (console script) and ``python -m nca_zoo.TOOL ...`` run the same code:

========== ===================================================================
fit        train any task from a YAML config (LightningCLI)
compress   image -> ``.nca`` file (GNCA)
decompress ``.nca`` file -> PNG
restore    denoise / deblur a photo with a pretrained restorer (LNCA)
sample     generate, inpaint or super-resolve with a diffusion model
========== ===================================================================
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

from ._common import check_output, quiet_lightning, run_cli

TOOLS = ("fit", "compress", "decompress", "restore", "sample")


def run(tool: str, argv: Optional[list] = None) -> int:
    """Run one tool's ``main`` under the shared error policy; the process exit status."""
    module = importlib.import_module(f".{tool}", __name__)
    if tool == "fit":  # fit's main returns the LightningCLI (tests inspect it), not a status
        return run_cli(lambda args: (module.main(args), 0)[1], argv)
    if tool == "compress":  # trains in the background: its own summary line is the output
        quiet_lightning()
    return run_cli(module.main, argv)


def main(argv: Optional[list] = None) -> int:
    """``nca-zoo TOOL [args...]``: dispatch to one of :data:`TOOLS`."""
    from_command_line = argv is None
    argv = sys.argv[1:] if from_command_line else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().split("\n\n", 1)[1] if argv
              else f"usage: nca-zoo {{{','.join(TOOLS)}}} ...")
        return 0 if argv else 2
    if argv[0] not in TOOLS:
        print(f"error: unknown tool {argv[0]!r}; choose from {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    if from_command_line:  # the tool reads its own arguments, as under `python -m nca_zoo.TOOL`
        sys.argv = [f"{Path(sys.argv[0]).name} {argv[0]}", *argv[1:]]
        return run(argv[0])
    return run(argv[0], argv[1:])


__all__ = ["TOOLS", "check_output", "main", "run", "run_cli"]
