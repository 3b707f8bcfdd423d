"""``python -m nca_zoo.restore IMAGE -o OUT.png --model NAME``: restore a photo.

The restorer is a pretrained restoration module (a shipped name from
``nca_zoo.list_pretrained()`` or a local folder).
"""
from __future__ import annotations

import argparse

from .._pretrained import load_pretrained
from ..data.images import load_rgb_uint8, save_png_atomic
from ..layers import to_tensor, to_uint8
from ..restoration.restore import default_tile, restore
from ._common import check_output


def main(argv: list | None = None) -> int:
    """Restore the image given in ``argv`` with a pretrained module, save a PNG; the exit status."""
    ap = argparse.ArgumentParser(prog="python -m nca_zoo.restore", description=__doc__)
    ap.add_argument("image", help="8-bit image file (converted to RGB), or embedded:NAME")
    ap.add_argument("-o", "--output", required=True, help="output PNG")
    ap.add_argument("--model", required=True, help="pretrained name or folder")
    ap.add_argument("--tile", default="auto",
                    help="restore overlapping tiles of this size; 'auto' (default): the training "
                         "size for models with absolute position encodings (ViTCA), else whole")
    args = ap.parse_args(argv)
    out = check_output(args.output)
    model = load_pretrained(args.model)
    if "diffusion" in model.pretrained_config:
        raise ValueError(f"{args.model} is a diffusion model: use python -m nca_zoo.sample --model "
                         f"{args.model}")
    arr = load_rgb_uint8(args.image, strict=False)
    if min(arr.shape[:2]) < 8:
        raise ValueError(f"{args.image} is {arr.shape[1]}x{arr.shape[0]} px; at least 8x8 needed")
    if args.tile == "auto":
        tile = default_tile(model)
    else:
        try:
            tile = int(args.tile)
        except ValueError:
            raise ValueError(f"--tile must be 'auto' or a size in pixels, "
                             f"got {args.tile!r}") from None
    save_png_atomic(to_uint8(restore(model, to_tensor(arr), tile=tile)), out)
    print(f"{out}: restored with {args.model}")
    return 0
