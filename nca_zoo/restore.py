"""``python -m nca_zoo.restore IMAGE -o OUT.png --model NAME``: restore a photo with a pretrained
restoration module (a shipped name from ``nca_zoo.list_pretrained()`` or a local folder)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from ._cli import run_cli
from ._pretrained import load_pretrained
from .data.images import load_rgb_uint8, save_png_atomic, to_tensor, to_uint8


@torch.no_grad()
def restore(model: torch.nn.Module, image: torch.Tensor, multiple: int = 4) -> torch.Tensor:
    """Restore ``(3, H, W)`` in [0, 1]; edges are padded to a multiple of 4 (the latent's /4)."""
    _, h, w = image.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    x = F.pad(image[None], (0, pw, 0, ph), mode="replicate")
    return model(x)[0, :, :h, :w].clamp(0, 1)


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nca_zoo.restore", description=__doc__)
    ap.add_argument("image", help="8-bit image file (converted to RGB), or embedded:NAME")
    ap.add_argument("-o", "--output", required=True, help="output PNG")
    ap.add_argument("--model", required=True, help="pretrained name or folder")
    args = ap.parse_args(argv)
    out = Path(args.output)
    if out.is_dir():
        raise IsADirectoryError(f"output {out} is a directory")
    model = load_pretrained(args.model)
    if "diffusion" in model.pretrained_config:
        raise ValueError(f"{args.model} is a diffusion model: use python -m nca_zoo.sample --model "
                         f"{args.model}")
    arr = load_rgb_uint8(args.image, strict=False)
    if min(arr.shape[:2]) < 8:
        raise ValueError(f"{args.image} is {arr.shape[1]}x{arr.shape[0]} px; at least 8x8 needed")
    save_png_atomic(to_uint8(restore(model, to_tensor(arr))), out)
    print(f"{out}: restored with {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
