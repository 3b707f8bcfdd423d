"""Which LNCA deblurring recipe improves photos it never saw?  Recipes side by side, held-out.

    python benchmarks/lnca/lnca_deblur_recipes.py                     # all recipes, 40 + 20 epochs
    python benchmarks/lnca/lnca_deblur_recipes.py --ae-epochs 1 --nca-epochs 1 --out smoke  # smoke

Each recipe trains ``lnca_nafca`` on the embedded photos (photo-level split, seed 0): phase 1 for
``--ae-epochs`` epochs (best autoencoder by the recipe's ``ae_monitor`` on the validation photo;
recipes with the same data and monitor share one autoencoder, trained once), then phase 2 for
``--nca-epochs``; then measures PSNR / SSIM of the degraded input and the model on the held-out
photos (``nca_zoo.restoration.held_out_metrics``) at 32 / 64 / 128 / 256 px, whether it passes the
shipping rule, and the same at 128 px on the *training* photos (under- or over-fitting?).
Recipes:

* ``paper``: the paper's recipe (decode read-out, plain data, SSIM selection);
* ``augmented``: + flips / rotations, multi-scale crops ``[1, 2, 4]``, grayscale textures, PSNR
  selection;
* ``residual``: ``augmented`` + the residual read-out (``x + D(o, skip) - D(z, skip)``);
* ``*_swish``: Eq. 9 bounds the output channels to the swish latent's range ``[SWISH_MIN, inf]``
  instead of the paper's [0, 1] (which the clean latent itself breaks: Eq. 9 fights Eq. 8);
* ``*_zero``: + a zero-initialised NAFCA head (the untrained NCA is the identity);
* ``*_64`` / ``*_128``: phase 2 on 64 / 128 px tiles (the autoencoder still trains on 32 px): at
  32 px the latent is 8 x 8 cells, nearly all border, while a 128 px photo's is 32 x 32.

Writes ``results/lnca_deblur_recipes.{json,md}``; recipes run before with the same epochs and
task are kept.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import lightning as L

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, fit_on_embedded, md_table, write_results
from lnca_autoencoder_augmentation import VARIANTS

from nca_zoo.data.restoration import embedded_sources
from nca_zoo.layers import nested_split_indices
from nca_zoo.restoration import classical_held_out, held_out_metrics, ships
from nca_zoo.tasks import LNCARestoration
from nca_zoo.tasks.lnca_losses import SWISH_MIN

AUGMENTED = VARIANTS["augmented"]
SWISH = {"nca_loss": {"output_low": SWISH_MIN, "output_high": float("inf")}}
#: recipe -> (data settings, task settings, model settings)
RECIPES = {
    "paper": ({}, {"ae_monitor": "ssim"}, {}),
    "augmented": (AUGMENTED, {"ae_monitor": "psnr"}, {}),
    "residual": (AUGMENTED, {"ae_monitor": "psnr"}, {"readout": "residual"}),
    "augmented_swish": (AUGMENTED, {"ae_monitor": "psnr", **SWISH}, {}),
    "residual_swish": (AUGMENTED, {"ae_monitor": "psnr", **SWISH}, {"readout": "residual"}),
    "residual_zero": (AUGMENTED, {"ae_monitor": "psnr"},
                      {"readout": "residual", "zero_head": True}),
    "residual_swish_zero": (AUGMENTED, {"ae_monitor": "psnr", **SWISH},
                            {"readout": "residual", "zero_head": True}),
}
for _size in (64, 128):
    RECIPES[f"residual_zero_{_size}"] = RECIPES["residual_zero"]
#: recipe -> side of the phase-2 training tiles (default 32, the paper's)
PHASE2_SIZE = {"residual_zero_64": 64, "residual_zero_128": 128}


def train(recipe: str, ae_epochs: int, nca_epochs: int, task: str, work: Path,
          autoencoders: dict) -> tuple:
    """Both phases of one recipe (seed 0); the model and the seconds it took.

    ``autoencoders`` maps (data settings, ae_monitor) to a phase-1 file already trained.
    """
    data_args, task_args, model_args = RECIPES[recipe]
    key = (json.dumps(data_args, sort_keys=True), task_args["ae_monitor"])
    seconds = 0.0
    if key not in autoencoders:
        root = work / f"ae{len(autoencoders)}"
        L.seed_everything(0, verbose=False)
        module = LNCARestoration(model="lnca_nafca", phase="ae",
                                 ae_monitor=task_args["ae_monitor"])
        seconds += fit_on_embedded(module, data_args, task, ae_epochs, str(root))
        autoencoders[key] = (root / "phase1_autoencoder.pt", seconds)
    ae_file, ae_seconds = autoencoders[key]
    L.seed_everything(0, verbose=False)
    module = LNCARestoration(model="lnca_nafca", phase="nca", ae_checkpoint=str(ae_file),
                             lr={"nca": 1e-3}, model_args=model_args or None, **task_args)
    seconds = ae_seconds + fit_on_embedded(module, data_args, task, nca_epochs,
                                            str(work / recipe),
                                            image_size=PHASE2_SIZE.get(recipe, 32))
    return module.model.eval(), seconds


def training_photos() -> dict:
    """The embedded photos the photo-level split (seed 0) trains on, by index."""
    sources = embedded_sources()
    train_idx, _, _ = nested_split_indices(len(sources), seed=0)
    return {f"train{i}": sources[i] for i in train_idx}


def previous_results(out: str, settings: dict) -> dict:
    """Recipes already in ``results/<out>.json`` with the same epochs and task."""
    path = RESULTS / f"{out}.json"
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    return old["results"] if all(old.get(k) == v for k, v in settings.items()) else {}


def main(argv: list | None = None) -> None:
    """Train every recipe asked for and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--ae-epochs", type=int, default=40)
    ap.add_argument("--nca-epochs", type=int, default=20)
    ap.add_argument("--task", default="blur", choices=["noise", "blur"])
    ap.add_argument("--out", default="lnca_deblur_recipes",
                    help="results name (a smoke run elsewhere keeps the real results)")
    args = ap.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "disabled")
    settings = {"task": args.task, "ae_epochs": args.ae_epochs, "nca_epochs": args.nca_epochs}
    results = {}
    autoencoders, train_photos = {}, training_photos()
    with tempfile.TemporaryDirectory() as work:
        for recipe in args.recipes:
            model, seconds = train(recipe, args.ae_epochs, args.nca_epochs, args.task,
                                   Path(work), autoencoders)
            held = held_out_metrics(model, args.task, sizes=("32", "64", "128", "256"))
            seen = held_out_metrics(model, args.task, sizes=("128",), photos=train_photos)
            results[recipe] = {"seconds": round(seconds, 1), "held_out": held,
                               "train_photos": seen,
                               "ships": ships(held, classical_held_out(args.task), args.task)}
            print(recipe, f"{seconds:.0f} s", held, seen, flush=True)
    results = {**previous_results(args.out, settings), **results}  # read now: runs may overlap
    rows = []
    for recipe, r in results.items():
        for size, m in r["held_out"].items():
            rows.append([recipe, f"held-out {size}",
                         f"{m['psnr_input']:.2f} → {m['psnr_model']:.2f}",
                         f"{m['ssim_input']:.3f} → {m['ssim_model']:.3f}",
                         "yes" if r["ships"] else "**no**"])
        for size, m in r.get("train_photos", {}).items():
            rows.append([recipe, f"training {size}",
                         f"{m['psnr_input']:.2f} → {m['psnr_model']:.2f}",
                         f"{m['ssim_input']:.3f} → {m['ssim_model']:.3f}", ""])
    md = (f"LNCA-NAFCA deblurring recipes ({args.ae_epochs} autoencoder + {args.nca_epochs} NCA "
          f"epochs, embedded photos, photo-level split, seed 0), degraded → restored on the "
          f"held-out photos. Ships: the rule of `nca_zoo.restoration.ships` (64, 128, 256 px).\n\n")
    md += md_table(["recipe", "photos, px", "PSNR dB", "SSIM", "ships"], rows)
    print(write_results(args.out, {**settings, "results": results}, md))


if __name__ == "__main__":
    main()
