"""``python -m nca_zoo.restore IMAGE -o OUT.png --model NAME``: restore a photo.

The restorer is a classical filter (``median3``, ``median5``, ``tv``, ``nlmeans``, ``wavelet``,
``unsharp``; :mod:`nca_zoo.restoration.classical`) or a pretrained restoration module (a shipped
name from ``nca_zoo.list_pretrained()`` or a local folder).  Any image mode is converted to 8-bit
RGB (a ``note:`` line says so); transparent images need ``--background``.
"""
from __future__ import annotations

import argparse

from ..data.images import read_rgb, save_png_atomic
from ..layers import to_tensor, to_uint8
from ..restoration.classical import load_restorer
from ..restoration.restore import default_tile, restore
from ._common import ToolParser, check_output, color, note, positive_int


def tile_size(text: str) -> str | int:
    """Argument type of ``--tile``: ``auto`` or a size in pixels (>= 1)."""
    if text == "auto":
        return text
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a size in pixels, "
                                         f"got {text!r}") from None


def main(argv: list | None = None) -> int:
    """Restore the image given in ``argv`` with a restorer, save a PNG; the exit status."""
    ap = ToolParser(prog="python -m nca_zoo.restore", description=__doc__)
    ap.add_argument("image", help="image file (converted to RGB), or embedded:NAME")
    ap.add_argument("-o", "--output", required=True, help="output PNG")
    ap.add_argument("--model", required=True,
                    help="classical filter (median3, median5, tv, nlmeans, wavelet, unsharp), "
                         "pretrained name or folder")
    ap.add_argument("--tile", default="auto", type=tile_size,
                    help="restore overlapping tiles of this size; 'auto' (default): the training "
                         "size for models with absolute position encodings (ViTCA), else whole")
    ap.add_argument("--background", type=color,
                    help="colour to put behind a transparent image (white, #rrggbb)")
    args = ap.parse_args(argv)
    out = check_output(args.output)
    model = load_restorer(args.model)
    if "diffusion" in getattr(model, "pretrained_config", {}):
        raise ValueError(f"{args.model} is a diffusion model: use python -m nca_zoo.sample --model "
                         f"{args.model}")
    arr, converted = read_rgb(args.image, args.background)
    if min(arr.shape[:2]) < 8:
        raise ValueError(f"{args.image} is {arr.shape[1]}x{arr.shape[0]} px; at least 8x8 needed")
    if converted:
        note(converted)
    tile = default_tile(model) if args.tile == "auto" else args.tile
    save_png_atomic(to_uint8(restore(model, to_tensor(arr), tile=tile)), out)
    print(f"{out}: restored with {args.model}")
    return 0
