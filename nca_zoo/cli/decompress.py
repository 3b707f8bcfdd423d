"""``python -m nca_zoo.decompress FILE.nca -o OUT.png``: grow the image back from its weights.

The header of the file is checked against the decoder's limits before any work (pixels, patch
size, steps, model size, cell updates: see ``nca_zoo.compression.nca_file.DecodeLimits``);
``--max-pixels`` / ``--max-work`` raise two of them and ``--no-limits`` lifts all, for files you
trust.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

from ..compression.nca_file import DEFAULT_LIMITS, decode_image, read
from ..data.images import save_png_atomic
from ._common import ToolParser, check_output, positive_int


def main(argv: list | None = None) -> int:
    """Grow the image of the ``.nca`` file given in ``argv`` and save it as PNG; the exit status."""
    parser = ToolParser(prog="python -m nca_zoo.decompress", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="a .nca file written by nca_zoo.compress")
    parser.add_argument("-o", "--output", required=True, help="output PNG")
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_LIMITS.max_pixels,
                        help="most pixels to grow, padding included (default %(default)s)")
    parser.add_argument("--max-work", type=positive_int, default=DEFAULT_LIMITS.max_work,
                        help="most cell updates, pixels x steps (default %(default)s)")
    parser.add_argument("--no-limits", action="store_true",
                        help="decode whatever the header asks for (files you trust only)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = check_output(args.output)
    limits = None if args.no_limits else dataclasses.replace(
        DEFAULT_LIMITS, max_pixels=args.max_pixels, max_work=args.max_work)
    nca = read(args.file, limits)
    start = time.perf_counter()
    image = decode_image(nca)
    elapsed = time.perf_counter() - start
    save_png_atomic(image, out)
    if not args.quiet:
        print(f"{out}: {nca.width}x{nca.height} px grown in {nca.steps} steps, {elapsed:.3f} s")
    return 0
