"""The README's pictures, made from the shipped examples and pretrained modules (CPU, minutes).

    python benchmarks/tools/make_figures.py    # all figures into benchmarks/results/figures/

* ``gnca_growth.png``: the shipped ``examples/gnca/astronaut_120.nca`` grown from its seeds, frames
  after 0, 2, 4, 8, 16, 32 and all of its steps (GNCA paper Fig. 1);
* ``restoration.png``: one row per shipped restoration module: clean, degraded (fixed test
  strength), the classical filter of its task (``median3`` for noise, ``unsharp`` for blur),
  restored (as ``python -m nca_zoo.restore`` does it: ViTCA models tile by tile) -- on a held-out
  photo (``nca_zoo.data.held_out``, never trained on) downscaled to 128 px.  ``--restorers``
  takes pretrained names or folders instead (e.g. a removed module restored from git, see
  ``docs/restoration.md``); with none shipped and none given, one row per task without the last
  column (clean, degraded, classical filter);
* ``diffusion_samples.png``: 16 samples of every shipped generator at its training size;
* ``diffusion_large.png``: a pathology Diff-NCA grown far beyond its training size, tile by tile
  (bounded memory, §4.9);
* ``diffusion_inpaint.png``: a held-out image, its masked centre, three inpaintings (§4.7);
* ``diffusion_superres.png``: low-res input, bicubic x2, Diff-NCA x2 (§4.8), the original.

Figures whose model is not shipped are skipped with a message.  Every random draw is seeded.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.utils import make_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, ROOT, restorers

import nca_zoo
from nca_zoo.compression.nca_file import read
from nca_zoo.data.degradations import Curriculum, degrade
from nca_zoo.data.diffusion import DiffusionDataModule
from nca_zoo.data.held_out import held_out_photo, held_out_photos
from nca_zoo.data.images import load_rgb_uint8, resize_square, save_png_atomic
from nca_zoo.diffusion import TiledDenoiser, inpaint, load_denoiser, sample, superres_x2
from nca_zoo.layers import stitch, to_tensor, to_uint8
from nca_zoo.restoration import default_tile, load_restorer, restore

OUT = RESULTS / "figures"
WHITE = 1.0
#: the classical filter shown beside the restorers of each task
CLASSICAL_COLUMN = {"noise": "median3", "blur": "unsharp"}


def row(images: list, pad: int = 4) -> torch.Tensor:
    """Images ``(3, H, W)`` of one height side by side with white gaps."""
    return make_grid(torch.stack(images), nrow=len(images), padding=pad, pad_value=WHITE)


def upscale(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour enlargement so that small images stay visible in the README."""
    return F.interpolate(x[None] if x.dim() == 3 else x, scale_factor=factor,
                         mode="nearest").squeeze(0)


def save(img: torch.Tensor, name: str) -> None:
    save_png_atomic(to_uint8(img.clamp(0, 1)), OUT / name)
    print(f"wrote {OUT / name}")


def gnca_growth() -> None:
    nca = read(ROOT / "examples" / "gnca" / "astronaut_120.nca")
    model = nca.build()
    at = sorted({0, 2, 4, 8, 16, 32, nca.steps})
    torch.manual_seed(0)
    states = model.automaton.snapshots(model.seed(model.num_models), at)
    frames = [stitch(model.rgb(s)[0].clamp(0, 1), nca.height, nca.width) for s in states]
    save(row(frames), "gnca_growth.png")
    print(f"  frames after {at} steps")


def restoration(photo: str, names: list | None = None) -> None:
    """``names``: pretrained names or folders (default: the shipped restorers)."""
    names = restorers() if names is None else names  # by card task: not the priors, generators
    name = photo.split(":", 1)[1] if photo.startswith("held-out:") else None
    clean = to_tensor(resize_square(held_out_photo(name) if name else load_rgb_uint8(photo), 128))

    def degraded_and_filtered(kind: str) -> tuple:
        degraded = degrade(clean[None], kind, Curriculum(kind).strength(None),
                           generator=torch.Generator().manual_seed(0))[0]
        return degraded, restore(load_restorer(CLASSICAL_COLUMN[kind]), degraded)

    rows = []
    for name in names:
        model = nca_zoo.load_pretrained(name)
        kind = model.card["task"]
        degraded, classical = degraded_and_filtered(kind)
        torch.manual_seed(0)
        rows.append(row([clean, degraded, classical,
                         restore(model, degraded, tile=default_tile(model))]))
        print(f"  row {len(rows)}: {name} ({kind}; classical column: {CLASSICAL_COLUMN[kind]})")
    if not names:  # no restorer shipped: the classical filters the shipping rule compares with
        for kind, filt in CLASSICAL_COLUMN.items():
            rows.append(row([clean, *degraded_and_filtered(kind)]))
            print(f"  row {len(rows)}: {kind}, {filt} (no restorer shipped)")
    save(torch.cat(rows, 1), "restoration.png")


def generators() -> list:
    return [n for n in nca_zoo.list_pretrained()
            if "diffusion" in json.loads((nca_zoo._pretrained.SHIPPED / n / "config.json")
                                         .read_text())]


def data_args(den) -> dict:
    """The DiffusionDataModule arguments of a generator's held-out data (from its card)."""
    return dict(den.model.card["data_args"])


def diffusion_figures(steps: int, large: int) -> None:
    dens = {name: load_denoiser(name) for name in generators()}
    if not dens:
        print("diffusion figures skipped: no shipped generator")
        return
    grids = []
    for name, den in dens.items():
        torch.manual_seed(0)
        imgs = sample(den.model, den.schedule, 16, *den.sample_size, "ddim", steps,
                      generator=torch.Generator().manual_seed(0))
        grids.append(upscale(make_grid(imgs, nrow=4, padding=1, pad_value=WHITE), 2))
        print(f"  samples: {name}")
    save(row(grids, pad=8), "diffusion_samples.png")

    local = [n for n, d in dens.items() if d.model.is_local]
    if not local:
        print("large / inpaint / superres figures skipped: no local (Diff-NCA) generator shipped")
        return
    den = dens[local[0]]
    size = den.sample_size[0]
    torch.manual_seed(0)
    big = sample(TiledDenoiser(den.model, tile=4 * size), den.schedule, 1, large, large, "ddim",
                 steps, generator=torch.Generator().manual_seed(0))[0]
    save(big, "diffusion_large.png")
    print(f"  large: {local[0]} {large}x{large} from {size}x{size} training images")

    data = DiffusionDataModule(**data_args(den))
    real = data.real_images("test", 1).float().div(255)             # (1, 3, s, s)
    mask = torch.zeros(1, 1, size, size)
    q = size // 4
    mask[..., q:size - q, q:size - q] = 1
    torch.manual_seed(0)
    filled = inpaint(den.model, den.schedule, real.expand(3, -1, -1, -1),
                     mask.expand(3, -1, -1, -1), "ddim", steps,
                     generator=torch.Generator().manual_seed(0))
    shown = [real[0], real[0] * (1 - mask[0]) + mask[0] * WHITE, *filled]
    save(upscale(row(shown, pad=2), 3), "diffusion_inpaint.png")

    hi = DiffusionDataModule(**{**data_args(den), "size": 2 * size, "stride": 2 * size})
    original = hi.real_images("test", 1).float().div(255)           # (1, 3, 2s, 2s)
    low = F.interpolate(original, scale_factor=0.5, mode="area")
    torch.manual_seed(0)
    sr = superres_x2(den.model, den.schedule, low, sampler="ddim", steps=steps,
                     generator=torch.Generator().manual_seed(0))
    bicubic = F.interpolate(low, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)
    shown = [upscale(low[0], 2), bicubic[0], sr[0], original[0]]
    save(upscale(row(shown, pad=2), 2), "diffusion_superres.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=["gnca", "restoration", "diffusion"])
    ap.add_argument("--photo", help="restoration figure photo (default: the first held-out "
                                     "photo, held-out:NAME, one no restorer trained on)")
    ap.add_argument("--restorers", nargs="+", help="pretrained names or folders of the "
                    "restoration figure (default: the shipped restorers; none shipped: the "
                    "classical filters alone)")
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps of the diffusion figures")
    ap.add_argument("--large", type=int, default=256, help="side of the large Diff-NCA image")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(a.only or ["gnca", "restoration", "diffusion"])
    if "gnca" in only:
        gnca_growth()
    if "restoration" in only:
        restoration(a.photo or f"held-out:{next(iter(held_out_photos()))}", a.restorers)
    if "diffusion" in only:
        diffusion_figures(a.steps, a.large)


if __name__ == "__main__":
    main()
