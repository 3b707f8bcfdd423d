"""Which LNCA deblurring recipe improves photos it never saw?  Recipes side by side, held-out.

    python benchmarks/lnca_deblur_recipes.py                       # all recipes, 40 + 20 epochs
    python benchmarks/lnca_deblur_recipes.py --ae-epochs 2 --nca-epochs 1   # a smoke run

Each recipe trains ``lnca_nafca`` on the embedded photos (photo-level split, seed 0): phase 1 for
``--ae-epochs`` epochs (best autoencoder by the recipe's ``ae_monitor`` on the validation photo),
then phase 2 for ``--nca-epochs``; then measures PSNR / SSIM of the degraded input and the model
on the held-out photos (``nca_zoo.restoration.held_out_metrics``) at 32 / 64 / 128 px, and whether
it passes the shipping rule.  Recipes:

* ``paper``: the paper's recipe (decode read-out, plain data, SSIM selection);
* ``augmented``: + flips / rotations, multi-scale crops ``[1, 2, 4]``, grayscale textures, PSNR
  selection;
* ``residual``: ``augmented`` + the residual read-out (``x + D(o, skip) - D(z, skip)``).

Writes ``results/lnca_deblur_recipes.{json,md}``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import lightning as L
from _common import md_table, write_results
from lnca_autoencoder_augmentation import VARIANTS

from nca_zoo.data import RestorationDataModule
from nca_zoo.restoration import held_out_metrics, ships
from nca_zoo.tasks import LNCARestoration

AUGMENTED = VARIANTS["augmented"]
RECIPES = {
    "paper": ({}, {"ae_monitor": "ssim"}, {}),
    "augmented": (AUGMENTED, {"ae_monitor": "psnr"}, {}),
    "residual": (AUGMENTED, {"ae_monitor": "psnr"}, {"readout": "residual"}),
}


def train(recipe: str, ae_epochs: int, nca_epochs: int, task: str) -> tuple:
    """Both phases of one recipe (seed 0); the model and the seconds it took."""
    data_args, task_args, model_args = RECIPES[recipe]
    L.seed_everything(0, verbose=False)
    module = LNCARestoration(model="lnca_nafca", phase="both", ae_epochs=ae_epochs,
                             lr_nca=1e-3, model_args=model_args or None, **task_args)
    dm = RestorationDataModule(task=task, image_size=32, batch_size=8, **data_args)
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(max_epochs=ae_epochs + nca_epochs, accelerator="cpu", logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0,
                            default_root_dir=root)
        start = time.perf_counter()
        trainer.fit(module, datamodule=dm)
        seconds = time.perf_counter() - start
    return module.model.eval(), seconds


def main(argv: list | None = None) -> None:
    """Train every recipe asked for and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--ae-epochs", type=int, default=40)
    ap.add_argument("--nca-epochs", type=int, default=20)
    ap.add_argument("--task", default="blur", choices=["noise", "blur"])
    args = ap.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "disabled")
    rows, results = [], {}
    for recipe in args.recipes:
        model, seconds = train(recipe, args.ae_epochs, args.nca_epochs, args.task)
        held = held_out_metrics(model, args.task, sizes=("32", "64", "128"))
        passes = ships(held)
        results[recipe] = {"seconds": round(seconds, 1), "held_out": held, "ships": passes}
        for size, r in held.items():
            rows.append([recipe, size, f"{r['psnr_input']:.2f} → {r['psnr_model']:.2f}",
                         f"{r['ssim_input']:.3f} → {r['ssim_model']:.3f}",
                         "yes" if passes else "**no**"])
        print(recipe, f"{seconds:.0f} s", held, flush=True)
    md = (f"LNCA-NAFCA deblurring recipes ({args.ae_epochs} autoencoder + {args.nca_epochs} NCA "
          f"epochs, embedded photos, photo-level split, seed 0), degraded → restored on the "
          f"held-out photos. Ships = beats the input in PSNR and SSIM at 64 and 128 px.\n\n")
    md += md_table(["recipe", "px", "PSNR dB", "SSIM", "ships"], rows)
    print(write_results("lnca_deblur_recipes", {"task": args.task, "ae_epochs": args.ae_epochs,
                                                "nca_epochs": args.nca_epochs,
                                                "results": results}, md))


if __name__ == "__main__":
    main()
