"""How hard each phase-2 loss pulls on the NCA: the gradients of Eq. 7 and Eq. 8, side by side.

    python benchmarks/lnca/lnca_loss_balance.py RUN.ckpt \
        --config configs/lnca/lnca_nafca_denoise_corpus.yaml --name lnca_loss_balance_corpus

LNCA's phase 2 (§3.2.2) sums a pixel loss, ``rec`` times Eq. 7 (``D(output, skip)`` against the
clean image: what PSNR measures) and a latent loss, ``latent`` times Eq. 8 (the NCA's output
channels against ``E(clean)``).  The authors weight both 100.  Which term steers training depends
on the autoencoder: Eq. 8 is a plain mean over latent channels, so a latent with a few
high-variance channels makes it large however little those channels matter to the decoder.

On batches of the config's validation split (never the held-out photos) this rolls out the
checkpoint's NCA, and a fresh one on the same autoencoder (the start of phase 2), as training
does (random step counts, seeded), and reports for each loss term its value and the norm of its
weighted gradient on the NCA's parameters, their ratio and cosine, under the checkpoint's loss
weights (with the ``1 - SSIM`` term too, when the checkpoint weights it).  It also gives the
spread of the clean latent's per-channel standard deviation.

Writes ``results/<name>.{json,md}`` (default ``lnca_loss_balance``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import md_table, write_results

from nca_zoo.data import RestorationDataModule
from nca_zoo.drivers import load_restoration_task
from nca_zoo.tasks import LNCARestoration


def grad_norm(grads: tuple) -> torch.Tensor:
    """The Euclidean norm of a tuple of gradients (``None`` for unused parameters)."""
    return torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None))


def balance(task: LNCARestoration, batches: list, seed: int = 0) -> dict:
    """Eq. 7, Eq. 8 (and the SSIM term, if weighted) on ``batches``: values, gradient norms.

    Gradients are summed over the batches (one training step's worth each), then compared:
    each term's norm, and its ratio to and cosine with Eq. 7's.
    """
    model, w = task.model, task.nca_loss
    params = [p for p in model.automaton.parameters() if p.requires_grad]
    weights = {"rec": ("rec_nca", w.rec), "latent": ("latent", w.latent)}
    if w.ssim > 0:
        weights["ssim"] = ("ssim_nca", w.ssim)
    sums = {k: [torch.zeros_like(p) for p in params] for k in weights}
    values = dict.fromkeys(weights, 0.0)
    task.train()
    torch.manual_seed(seed)
    for clean, degraded in batches:
        with torch.no_grad():
            skip, z = model.autoencoder.encode(degraded)
            _, z_true = model.autoencoder.encode(clean)
        state, _ = model.automaton.rollout(model.seed(z))
        t = task.phase2_losses(state, clean, degraded, skip, z_true)  # training's own terms
        for i, (k, (term, weight)) in enumerate(weights.items()):
            grads = torch.autograd.grad(weight * t[term], params, allow_unused=True,
                                        retain_graph=i < len(weights) - 1)
            for acc, g in zip(sums[k], grads):
                if g is not None:
                    acc += g
            values[k] += weight * t[term].item() / len(batches)
    norms = {k: grad_norm(v) for k, v in sums.items()}
    out = {}
    for k in weights:
        out[f"{k}_weighted"], out[f"grad_{k}"] = values[k], float(norms[k])
        if k != "rec":
            dot = sum((a * b).sum() for a, b in zip(sums["rec"], sums[k]))
            out[f"grad_ratio_{k}_over_rec"] = float(norms[k] / norms["rec"])
            out[f"grad_cosine{'' if k == 'latent' else '_' + k}"] = float(
                dot / (norms["rec"] * norms[k]))
    return out


def main() -> None:
    """Measure the checkpoint's NCA and a fresh one; write the results files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a phase-2 LNCA checkpoint (.ckpt)")
    ap.add_argument("--config", required=True, help="the run's config: its data section")
    ap.add_argument("--batches", type=int, default=4, help="validation batches")
    ap.add_argument("--name", default="lnca_loss_balance", help="results file name")
    args = ap.parse_args()

    trained = load_restoration_task(args.checkpoint)
    if not isinstance(trained, LNCARestoration) or trained.in_phase1():
        sys.exit(f"error: {args.checkpoint} is not a phase-2 LNCA checkpoint")
    data = yaml.safe_load(Path(args.config).read_text())["data"]["init_args"]
    dm = RestorationDataModule(**data)
    dm.setup("fit")
    batches = [b for _, b in zip(range(args.batches), dm.val_dataloader())]

    torch.manual_seed(0)
    fresh = LNCARestoration(**{k: v for k, v in trained.hparams.items()})
    fresh.model.autoencoder.load_state_dict(trained.model.autoencoder.state_dict())
    w = trained.nca_loss
    weights = {"rec": w.rec, "latent": w.latent, **({"ssim": w.ssim} if w.ssim else {})}
    results = {"weights": weights,
               "trained": balance(trained, batches), "fresh": balance(fresh, batches)}
    with torch.no_grad():
        z = torch.cat([trained.model.autoencoder.encode(c)[1] for c, _ in batches])
    std = z.std(dim=(0, 2, 3))
    results["latent_channel_std"] = {"max": float(std.max()), "median": float(std.median()),
                                     "min": float(std.min())}

    ssim = ["ssim_weighted", "grad_ssim", "grad_ratio_ssim_over_rec", "grad_cosine_ssim"]
    ssim = ssim if w.ssim else []
    rows = [[k] + [results[k][c] for c in ["rec_weighted", "latent_weighted", "grad_rec",
                                           "grad_latent", "grad_ratio_latent_over_rec",
                                           "grad_cosine"] + ssim]
            for k in ("fresh", "trained")]
    md = (f"# LNCA phase-2 loss balance: {Path(args.checkpoint).name}\n\n"
          f"Loss weights {', '.join(f'{k} {v}' for k, v in results['weights'].items())}; "
          f"{len(batches)} validation batches of "
          f"{args.config}; gradients on the NCA's parameters.\n\n"
          + md_table(["NCA", "rec x Eq. 7", "latent x Eq. 8", "grad norm rec", "grad norm latent",
                      "latent / rec", "cosine"]
                     + (["ssim x (1 - SSIM)", "grad norm ssim", "ssim / rec", "cosine ssim, rec"]
                        if ssim else []), rows)
          + "\n\nClean latent, per-channel standard deviation: max "
          f"{std.max():.3g}, median {std.median():.3g}, min {std.min():.3g}.\n")
    print(write_results(args.name, {"checkpoint": args.checkpoint, "config": args.config,
                                    "results": results}, md))


if __name__ == "__main__":
    main()
