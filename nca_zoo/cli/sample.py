"""``python -m nca_zoo.sample CKPT -o grid.png`` or ``--model NAME``: sample a diffusion model.

``CKPT`` is a checkpoint written by ``python -m nca_zoo.fit`` (a DiffusionTask, or a VNCATask:
a VNCA samples its prior in one decoder pass, at its own size); ``--model`` names a pretrained
module instead (shipped: see ``nca_zoo.list_pretrained()``, a local folder, or
``hf-hub:<repo>``).

Modes (Diff-NCA paper §4.6-4.9), all with the EMA weights unless ``--no-ema``:

* ``generate`` (default): ``--n`` images of ``--size`` (or ``--height`` x ``--width``: any size,
  e.g. 96x96 or 78x64 from a 64x64 model); ``--tile N`` predicts the noise tile by tile with a
  halo (bounded memory, for large seamless images from a local Diff-NCA);
* ``inpaint``: ``--image`` with the box ``--box top,left,height,width`` (default: the central
  quarter) or a ``--mask`` PNG (white = fill) regenerated ``--n`` times;
* ``superres``: ``--image`` upscaled x2 (``[[1,0],[0,0]]`` grid, 90 % noise, 2 % blend).

``--sampler NAME --steps N`` picks a diffusers scheduler built from the model's own schedule
(``ddpm``: ancestral, all T steps by default; ``ddim`` with ``--eta``; ``dpm-solver++``,
``unipc``, ``euler``, ``heun``, ...: see ``--help``; 20 steps by default).  Without
``--sampler``, a pretrained module samples with the choice measured for it (its card's
``sampling``: ``benchmarks/diffusion/diffusion_samplers.py``), a checkpoint with
``dpm-solver++``.  Output is one PNG grid (the image itself when there is one), written
atomically.  Errors are one line, exit status 2.
"""
from __future__ import annotations

import argparse
import time
from typing import Optional

import numpy as np
import torch
from torchvision.utils import make_grid

from ..data.images import ImageError, read_rgb, resize_square, save_png_atomic
from ..diffusion.pretrained import load_denoiser
from ..diffusion.samplers import DEFAULT_SAMPLER, SAMPLERS, default_sampling_steps
from ..diffusion.sampling import denoise, inpaint, superres_x2
from ..diffusion.tiling import TiledDenoiser
from ..layers import to_tensor, to_uint8
from ._common import (
    ToolParser,
    check_output,
    color,
    non_negative_float,
    note,
    positive_int,
    seed_int,
)

MODES = ("generate", "inpaint", "superres")
#: most pixels of all images together: Pillow's ``Image.MAX_IMAGE_PIXELS`` (the grid is one PNG)
MAX_PIXELS = 89_478_485


def check_pixels(n: int, h: int, w: int) -> None:
    """Refuse ``n`` images of ``h`` x ``w`` px beyond :data:`MAX_PIXELS` (before allocating)."""
    if n * h * w > MAX_PIXELS:
        raise ValueError(f"{n} images of {w}x{h} px are {n * h * w:,} pixels, over the limit of "
                         f"{MAX_PIXELS:,}; use a smaller --n or size")


def parse_box(text: Optional[str], h: int, w: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` from ``--box`` text (default: the central quarter)."""
    if text is None:
        return h // 4, w // 4, h // 2, w // 2
    try:
        top, left, bh, bw = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--box must be top,left,height,width in pixels, got {text!r}") from None
    if bh < 1 or bw < 1 or top < 0 or left < 0 or top + bh > h or left + bw > w:
        raise ValueError(f"--box {text} does not fit inside the {w}x{h} image")
    return top, left, bh, bw


def load_mask(path: str, h: int, w: int) -> torch.Tensor:
    """A ``(1, 1, h, w)`` float mask from a PNG: 1 where it is white (regenerate), else 0."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            m = np.asarray(img.convert("L"), dtype=np.uint8)
    except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"cannot read mask {path} ({type(exc).__name__})") from None
    if m.shape != (h, w):
        raise ImageError(f"mask {path} is {m.shape[1]}x{m.shape[0]}, image is {w}x{h}")
    return torch.from_numpy(m > 127).float()[None, None]


def is_vnca(checkpoint: Optional[str], model: Optional[str]) -> bool:
    """Whether the source is a VNCA (a VAE with an NCA decoder) rather than a diffusion model."""
    import json
    from pathlib import Path

    from .._pretrained import _resolve
    from .._registry import model_info

    if model is not None:
        try:
            cfg = json.loads((_resolve(model) / "config.json").read_text())
            return model_info(cfg["architecture"]).family == "vae"
        except Exception:     # any problem is reported by the loader with its own message
            return False
    if not Path(checkpoint).is_file():
        return False
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)
    except Exception:
        return False
    hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    return isinstance(hp, dict) and "beta" in hp and "timesteps" not in hp


def sample_vnca(a, out) -> int:
    """``--n`` images from a VNCA's prior (one decoder pass each): its own size, no sampler."""
    from ..tasks.vnca import load_vnca

    if a.mode != "generate":
        raise ValueError(f"--mode {a.mode} needs a diffusion model; a VNCA only generates")
    given = [f"--{k.replace('_', '-')}" for k in ("size", "height", "width", "tile", "steps")
             if getattr(a, k) is not None]
    if a.sampler is not None or a.eta or a.no_ema:
        given.append("--sampler/--eta/--no-ema")
    if given:
        raise ValueError(f"a VNCA samples its training size in one pass: {', '.join(given)} "
                         f"do not apply")
    model = load_vnca(a.model or a.checkpoint, a.device)
    check_pixels(a.n, model.image_size, model.image_size)
    torch.manual_seed(a.seed)
    start = time.perf_counter()
    with torch.no_grad():
        imgs = model.sample(a.n, generator=torch.Generator(a.device).manual_seed(a.seed))
    elapsed = time.perf_counter() - start
    save_png_atomic(to_uint8(_grid(imgs)), out)
    if not a.quiet:
        s = model.image_size
        print(f"{out}: {len(imgs)} x {s}x{s} px (VNCA prior samples) in {elapsed:.1f} s")
    return 0


def _grid(imgs: torch.Tensor) -> torch.Tensor:
    return (imgs[0] if len(imgs) == 1
            else make_grid(imgs.cpu(), nrow=int(np.ceil(np.sqrt(len(imgs)))), padding=2,
                           pad_value=1.0))


def main(argv: Optional[list] = None) -> int:
    """Sample the diffusion model as ``argv`` says and write the PNG grid; the exit status."""
    ap = ToolParser(prog="python -m nca_zoo.sample", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", help="a .ckpt written by training a DiffusionTask")
    ap.add_argument("--model", help="a pretrained diffusion module instead of a checkpoint")
    ap.add_argument("-o", "--output", required=True, help="output PNG")
    ap.add_argument("--mode", choices=MODES, default="generate")
    ap.add_argument("--n", type=positive_int, default=16, help="images to generate (default 16)")
    ap.add_argument("--size", type=positive_int, nargs="+", metavar="H [W]",
                    help="output size (generate: H, or H W) or square input resize "
                         "(inpaint/superres)")
    ap.add_argument("--height", type=positive_int)
    ap.add_argument("--width", type=positive_int)
    ap.add_argument("--sampler", choices=SAMPLERS,
                    help=f"scheduler: {', '.join(SAMPLERS)} (default: the pretrained module's "
                         f"measured choice, its card's 'sampling', else {DEFAULT_SAMPLER})")
    ap.add_argument("--steps", type=positive_int,
                    help="sampling steps (heun evaluates the model twice a step; default: all "
                         "T for ddpm, 20 for the others)")
    ap.add_argument("--eta", type=non_negative_float, default=0.0,
                    help="DDIM eta (0 = deterministic; ddim only)")
    ap.add_argument("--image", help="input for inpaint / superres: a file or embedded:NAME")
    ap.add_argument("--background", type=color,
                    help="colour to put behind a transparent --image (white, #rrggbb)")
    ap.add_argument("--box", help="inpaint box top,left,height,width (default: central quarter)")
    ap.add_argument("--mask", help="inpaint mask PNG of the image's size, white = regenerate")
    ap.add_argument("--tile", type=positive_int,
                    help="generate tile by tile with this core size (local models)")
    ap.add_argument("--seed", type=seed_int, default=0)
    ap.add_argument("--no-ema", action="store_true", help="use the raw instead of the EMA weights")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    out = check_output(a.output)
    if a.eta > 0 and a.sampler != "ddim":
        raise ValueError(f"--eta applies to --sampler ddim only, not "
                         f"{a.sampler or 'the default sampler (name --sampler ddim)'}")
    if a.mode != "generate" and a.image is None:
        raise ValueError(f"--mode {a.mode} needs --image")
    if (a.checkpoint is None) == (a.model is None):
        raise ValueError("give either a checkpoint or --model NAME (one of them)")
    if is_vnca(a.checkpoint, a.model):
        return sample_vnca(a, out)
    if a.model is not None:
        if a.no_ema:
            raise ValueError("--no-ema needs a checkpoint: pretrained modules hold the EMA "
                             "weights only")
        model, sched, train_size = load_denoiser(a.model, a.device)
    else:
        from ..drivers.checkpoints import load_diffusion_task

        task = load_diffusion_task(a.checkpoint, a.device)
        model = task.model.eval() if a.no_ema else task.eval_model.eval()
        sched, train_size = task.schedule, task.sample_size or (64, 64)
    if a.sampler is None:  # the card's measured choice (benchmarks/diffusion/diffusion_samplers.py)
        measured = getattr(model, "card", {}).get("sampling", {}) if a.model else {}
        a.sampler = measured.get("sampler", DEFAULT_SAMPLER)
        a.steps = a.steps or measured.get("steps")
    if a.tile is not None:
        model = TiledDenoiser(model, tile=a.tile)
    torch.manual_seed(a.seed)
    gen = torch.Generator(a.device).manual_seed(a.seed)
    steps = min(a.steps or default_sampling_steps(a.sampler, sched), sched.timesteps)
    kw = dict(sampler=a.sampler, steps=steps, eta=a.eta, generator=gen)
    start = time.perf_counter()
    with torch.no_grad():
        if a.mode == "generate":
            th, tw = train_size                                  # the training size by default
            size = a.size or [None]
            if len(size) > 2:
                raise ValueError(f"--size takes H or H W, got {len(size)} numbers")
            h, w = a.height or size[0] or th, a.width or size[-1] or tw
            if h < 2 or w < 2:
                raise ValueError(f"size must be at least 2x2, got {h}x{w}")
            check_pixels(a.n, h, w)
            x = torch.randn(a.n, 3, h, w, generator=gen, device=a.device)
            imgs = ((denoise(model, sched, x, **kw) + 1) / 2).clamp(0, 1)
        else:
            if a.size is not None and len(a.size) != 1:
                raise ValueError(f"--mode {a.mode} resizes its input to a square: give one --size")
            img, converted = read_rgb(a.image, a.background)
            if converted:
                note(converted)
            side = a.size[0] if a.size else None
            scale = 2 if a.mode == "superres" else 1
            check_pixels(a.n, scale * (side or img.shape[0]), scale * (side or img.shape[1]))
            img = to_tensor(resize_square(img, side))[None].to(a.device)
            img = img.expand(a.n, -1, -1, -1).contiguous()
            if a.mode == "inpaint":
                hh, ww = img.shape[-2:]
                if a.mask:
                    mask = load_mask(a.mask, hh, ww).to(a.device)
                else:
                    top, left, bh, bw = parse_box(a.box, hh, ww)
                    mask = torch.zeros(1, 1, hh, ww, device=a.device)
                    mask[..., top:top + bh, left:left + bw] = 1
                imgs = inpaint(model, sched, img, mask.expand(a.n, -1, -1, -1), **kw)
            else:
                imgs = superres_x2(model, sched, img, **kw)
    elapsed = time.perf_counter() - start
    save_png_atomic(to_uint8(_grid(imgs)), out)
    if not a.quiet:
        h, w = imgs.shape[-2:]
        print(f"{out}: {len(imgs)} x {w}x{h} px ({a.mode}, {a.sampler} {steps} steps) in "
              f"{elapsed:.1f} s")
    return 0
