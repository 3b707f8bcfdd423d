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


def _pad(image: torch.Tensor, multiple: int) -> torch.Tensor:
    _, h, w = image.shape
    return F.pad(image[None], (0, (-w) % multiple, 0, (-h) % multiple), mode="replicate")[0]


def is_size_dependent(model: torch.nn.Module) -> bool:
    """True when a cell encodes absolute positions (ViTCA's raster-index encoding): such a model
    only sees positions of its training size, so larger images are restored tile by tile."""
    return any(getattr(m, "pos_encoding", "none") != "none" for m in model.modules())


def default_tile(model: torch.nn.Module) -> int | None:
    """The training image size (from the card) for size-dependent models, else None (whole)."""
    card = getattr(model, "card", {}) or {}
    return card.get("metrics", {}).get("image_size") if is_size_dependent(model) else None


@torch.no_grad()
def restore(model: torch.nn.Module, image: torch.Tensor, multiple: int = 4,
            tile: int | None = None) -> torch.Tensor:
    """Restore ``(3, H, W)`` in [0, 1]; edges are padded to a multiple of 4 (the latent's /4).

    ``tile``: restore overlapping ``tile`` x ``tile`` windows (stride tile / 2) and average them.
    """
    _, h, w = image.shape
    if tile is None or (h <= tile and w <= tile):
        return model(_pad(image, multiple)[None])[0, :, :h, :w].clamp(0, 1)
    if tile < 8 or tile % multiple:
        raise ValueError(f"tile must be a multiple of {multiple} and at least 8, got {tile}")
    x = F.pad(image[None], (0, max(0, tile - w), 0, max(0, tile - h)), mode="replicate")[0]
    H, W = x.shape[-2:]
    step = tile // 2
    tops = sorted({*range(0, H - tile + 1, step), H - tile})
    lefts = sorted({*range(0, W - tile + 1, step), W - tile})
    out, weight = torch.zeros_like(x), torch.zeros_like(x[:1])
    for top in tops:
        windows = torch.stack([x[:, top:top + tile, left:left + tile] for left in lefts])
        restored = model(windows).clamp(0, 1)
        for left, r in zip(lefts, restored):
            out[:, top:top + tile, left:left + tile] += r
            weight[:, top:top + tile, left:left + tile] += 1
    return (out / weight)[:, :h, :w]


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nca_zoo.restore", description=__doc__)
    ap.add_argument("image", help="8-bit image file (converted to RGB), or embedded:NAME")
    ap.add_argument("-o", "--output", required=True, help="output PNG")
    ap.add_argument("--model", required=True, help="pretrained name or folder")
    ap.add_argument("--tile", default="auto",
                    help="restore overlapping tiles of this size; 'auto' (default): the training "
                         "size for models with absolute position encodings (ViTCA), else whole")
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
    if args.tile == "auto":
        tile = default_tile(model)
    else:
        try:
            tile = int(args.tile)
        except ValueError:
            raise ValueError(f"--tile must be 'auto' or a size in pixels, got {args.tile!r}") from None
    save_png_atomic(to_uint8(restore(model, to_tensor(arr), tile=tile)), out)
    print(f"{out}: restored with {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
