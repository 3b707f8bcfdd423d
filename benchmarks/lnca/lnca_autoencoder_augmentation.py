"""Does data augmentation lift the LNCA autoencoder's ceiling on held-out photos?

    python benchmarks/lnca/lnca_autoencoder_augmentation.py             # 10 and 40 epochs, ~5 min
    python benchmarks/lnca/lnca_autoencoder_augmentation.py --epochs 2  # a smoke run

Trains phase 1 alone (the autoencoder, ``LNCARestoration(phase="ae")``, deblurring losses) on the
embedded photos, photo-level split, with plain data and with ``augment`` + ``scales=[1, 2, 4]`` +
``textures``, then measures ``AE(clean)`` -- the best an LNCA restorer can reach -- and
``AE(blurred)`` on the held-out photos (``lnca_autoencoder_ceiling.ceiling``).  Writes
``results/lnca_autoencoder_augmentation.{json,md}``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import fit_on_embedded, md_table, write_results
from lnca_autoencoder_ceiling import ceiling

from nca_zoo.tasks import LNCARestoration

VARIANTS = {"plain": {}, "augmented": {"augment": True, "scales": [1, 2, 4], "textures": True}}


def train_autoencoder(epochs: int, data_args: dict, task: str) -> tuple:
    """Phase 1 for ``epochs`` epochs (seed 0); the model and the seconds it took."""
    torch.manual_seed(0)
    module = LNCARestoration(model="lnca_nafca", phase="ae")
    seconds = fit_on_embedded(module, data_args, task, epochs, validate=False)
    return module.model.eval(), seconds


def main(argv: list | None = None) -> None:
    """Train each variant for each epoch count and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", nargs="+", type=int, default=[10, 40])
    ap.add_argument("--task", default="blur", choices=["noise", "blur"])
    args = ap.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "disabled")
    rows, results = [], {}
    for epochs in args.epochs:
        for variant, data_args in VARIANTS.items():
            model, seconds = train_autoencoder(epochs, data_args, args.task)
            scores = {size: ceiling(model, args.task, size) for size in (32, 64, 128)}
            results[f"{variant}_{epochs}"] = {"seconds": round(seconds, 1), "scores": scores}
            for size, r in scores.items():
                rows.append([variant, epochs, size, *(f"{p:.2f} / {s:.3f}" for p, s in
                                                      (r["input"], r["AE(clean)"],
                                                       r["AE(degraded)"]))])
            print(variant, epochs, f"{seconds:.0f} s", scores[128], flush=True)
    md = ("Phase 1 alone (the autoencoder), task "
          f"{args.task}; PSNR dB / SSIM on the held-out photos. augmented = random flips / "
          "rotations + multi-scale crops [1, 2, 4] + grayscale training textures.\n\n")
    md += md_table(["data", "epochs", "px", "input", "AE(clean)", "AE(degraded)"], rows)
    print(write_results("lnca_autoencoder_augmentation", {"task": args.task, "results": results},
                        md))


if __name__ == "__main__":
    main()
