"""``python -m nca_zoo.decompress FILE.nca -o OUT.png``: grow the image back from its weights."""
from __future__ import annotations

import argparse
import time

from ..compression.nca_file import decode_image, read
from ..data.images import save_png_atomic
from ._common import check_output


def main(argv: list | None = None) -> int:
    """Grow the image of the ``.nca`` file given in ``argv`` and save it as PNG; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m nca_zoo.decompress", description=__doc__)
    parser.add_argument("file", help="a .nca file written by nca_zoo.compress")
    parser.add_argument("-o", "--output", required=True, help="output PNG")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = check_output(args.output)
    nca = read(args.file)
    start = time.perf_counter()
    image = decode_image(nca)
    elapsed = time.perf_counter() - start
    save_png_atomic(image, out)
    if not args.quiet:
        print(f"{out}: {nca.width}x{nca.height} px grown in {nca.steps} steps, {elapsed:.3f} s")
    return 0
