"""``python -m nca_zoo.compress IMAGE -o OUT.nca``: compress an image into GNCA weights.

Trains one GNCA per patch (all patches as one bank) and writes the 8-bit weights as a ``.nca``
file.  The same image and seed give a byte-identical file.
"""
from __future__ import annotations

import argparse
import time

from ..compression.metrics import compression_rate, image_quality
from ..compression.nca_file import decode, decode_image
from ..compression.train import compress
from ..layers import write_atomic
from ..models.gnca import GNCA_SIZES
from ._common import check_output


def main(argv: list | None = None) -> int:
    """Compress the image given in ``argv`` into a ``.nca`` file; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m nca_zoo.compress", description=__doc__)
    parser.add_argument("image", help="8-bit RGB image file, or embedded:NAME (scikit-image photo)")
    parser.add_argument("-o", "--output", required=True, help="output .nca file")
    parser.add_argument("--size", default="medium", choices=list(GNCA_SIZES),
                        help="GNCA variant (Table 1)")
    parser.add_argument("--patch", type=int, default=40, help="patch side in pixels (paper: 40)")
    parser.add_argument("--iterations", type=int, default=1500, help="training iterations")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same file)")
    parser.add_argument("--steps", type=int, default=None,
                        help="growth steps (default 1.2 x patch)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    args = parser.parse_args(argv)
    out = check_output(args.output)
    start = time.perf_counter()
    data, task, dm = compress(args.image, args.size, args.patch, args.iterations, args.seed,
                              args.steps, progress=not args.quiet)
    write_atomic(data, out)
    if not args.quiet:
        original = dm.originals[0]
        h, w = original.shape[:2]
        q = image_quality(original, decode_image(decode(data)))
        params = sum(p.numel() for p in task.bank.parameters())
        print(f"{out}: {len(data)} bytes for {w}x{h} px ({dm.num_patches} patches), "
              f"PSNR {q['psnr']:.2f} dB, SSIM {q['ssim']:.3f} (after 8-bit quantisation), "
              f"CR {compression_rate(params, h, w):.1f}% (paper) / "
              f"{compression_rate(len(data), h, w):.1f}% (file), "
              f"{time.perf_counter() - start:.0f} s")
    return 0
