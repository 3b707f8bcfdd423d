"""Can the LNCA latent express deblurring at all?  The best an NCA could do, on held-out photos.

    python benchmarks/lnca/lnca_latent_oracle.py             # augmented phase 1, 40 epochs, ~1 min
    python benchmarks/lnca/lnca_latent_oracle.py --epochs 2  # a smoke run

Trains phase 1 (the autoencoder) with augmentation (``lnca_autoencoder_augmentation``), then, on
the held-out photos at 32 / 64 / 128 px, scores what an NCA that maps the blurred photo's latent
exactly onto the clean photo's latent would restore -- with the paper's read-out
``D(z_clean, skip_blurred)`` and with the residual read-out ``x + D(z_clean, skip_blurred) -
D(z_blurred, skip_blurred)`` -- beside the input, ``AE(clean)`` and ``AE(blurred)``.  If the oracles
beat the input by a wide margin, the autoencoder is not what holds deblurring back: the NCA is.
Writes ``results/lnca_latent_oracle.{json,md}``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, write_results
from lnca_autoencoder_augmentation import VARIANTS, train_autoencoder
from lnca_autoencoder_ceiling import score

from nca_zoo.data.degradations import Curriculum, degrade
from nca_zoo.data.held_out import held_out_photos
from nca_zoo.data.images import resize_square
from nca_zoo.layers import to_tensor

COLUMNS = ("input", "AE(clean)", "AE(blurred)", "oracle, decode", "oracle, residual")


@torch.no_grad()
def oracles(ae: torch.nn.Module, task: str, size: int) -> dict:
    """PSNR / SSIM of each column of :data:`COLUMNS` on the held-out photos at ``size`` px."""
    clean = torch.stack([to_tensor(resize_square(p, size)) for p in held_out_photos().values()])
    bad = degrade(clean, task, Curriculum(task).strength(None), torch.Generator().manual_seed(0))
    (skip_c, z_c), (skip_b, z_b) = ae.encode(clean), ae.encode(bad)
    outputs = {"input": bad, "AE(clean)": ae.decode(z_c, skip_c),
               "AE(blurred)": ae.decode(z_b, skip_b),
               "oracle, decode": ae.decode(z_c, skip_b),
               "oracle, residual": bad + ae.decode(z_c, skip_b) - ae.decode(z_b, skip_b)}
    return {k: score(v.clamp(0, 1), clean) for k, v in outputs.items()}


def main(argv: list | None = None) -> None:
    """Train the autoencoder, score the oracles, write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--task", default="blur", choices=["noise", "blur"])
    args = ap.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "disabled")
    model, _ = train_autoencoder(args.epochs, VARIANTS["augmented"], args.task)
    results, rows = {}, []
    for size in (32, 64, 128):
        results[size] = oracles(model.autoencoder.eval(), args.task, size)
        rows.append([size, *(f"{p:.2f} / {s:.3f}" for p, s in results[size].values())])
        print(size, results[size], flush=True)
    md = (f"PSNR dB / SSIM on the held-out photos, task {args.task}; the autoencoder of phase 1 "
          f"({args.epochs} epochs, augmented data). oracle = an NCA whose output latent is exactly "
          f"the clean photo's latent, read out by the paper's decoder or by the residual "
          f"read-out.\n\n")
    md += md_table(["px", *COLUMNS], rows)
    print(write_results("lnca_latent_oracle", {"task": args.task, "epochs": args.epochs,
                                               "results": results}, md))


if __name__ == "__main__":
    main()
