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
weights.  It also gives the spread of the clean latent's per-channel standard deviation.

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
    """Eq. 7 and Eq. 8 on ``batches``: loss values, weighted gradient norms, ratio, cosine.

    Gradients are summed over the batches (one training step's worth each), then compared.
    """
    model, w = task.model, task.nca_loss
    params = [p for p in model.automaton.parameters() if p.requires_grad]
    sums = {"rec": [torch.zeros_like(p) for p in params],
            "latent": [torch.zeros_like(p) for p in params]}
    values = {"rec": 0.0, "latent": 0.0}
    task.train()
    torch.manual_seed(seed)
    for clean, degraded in batches:
        with torch.no_grad():
            skip, z = model.autoencoder.encode(degraded)
            _, z_true = model.autoencoder.encode(clean)
        state, _ = model.automaton.rollout(model.seed(z))
        t = task.phase2_losses(state, clean, degraded, skip, z_true)  # training's own terms
        terms = {"rec": w.rec * t["rec_nca"], "latent": w.latent * t["latent"]}
        for i, (k, loss) in enumerate(terms.items()):
            grads = torch.autograd.grad(loss, params, retain_graph=i == 0, allow_unused=True)
            for acc, g in zip(sums[k], grads):
                if g is not None:
                    acc += g
            values[k] += loss.item() / len(batches)
    g_rec, g_lat = grad_norm(sums["rec"]), grad_norm(sums["latent"])
    dot = sum((a * b).sum() for a, b in zip(sums["rec"], sums["latent"]))
    return {"rec_weighted": values["rec"], "latent_weighted": values["latent"],
            "grad_rec": float(g_rec), "grad_latent": float(g_lat),
            "grad_ratio_latent_over_rec": float(g_lat / g_rec),
            "grad_cosine": float(dot / (g_rec * g_lat))}


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
    results = {"weights": {"rec": trained.nca_loss.rec, "latent": trained.nca_loss.latent},
               "trained": balance(trained, batches), "fresh": balance(fresh, batches)}
    with torch.no_grad():
        z = torch.cat([trained.model.autoencoder.encode(c)[1] for c, _ in batches])
    std = z.std(dim=(0, 2, 3))
    results["latent_channel_std"] = {"max": float(std.max()), "median": float(std.median()),
                                     "min": float(std.min())}

    rows = [[k, r["rec_weighted"], r["latent_weighted"], r["grad_rec"], r["grad_latent"],
             r["grad_ratio_latent_over_rec"], r["grad_cosine"]]
            for k, r in ((k, results[k]) for k in ("fresh", "trained"))]
    md = (f"# LNCA phase-2 loss balance: {Path(args.checkpoint).name}\n\n"
          f"Loss weights rec {results['weights']['rec']}, latent "
          f"{results['weights']['latent']}; {len(batches)} validation batches of "
          f"{args.config}; gradients on the NCA's parameters.\n\n"
          + md_table(["NCA", "rec x Eq. 7", "latent x Eq. 8", "grad norm rec", "grad norm latent",
                      "latent / rec", "cosine"], rows)
          + "\n\nClean latent, per-channel standard deviation: max "
          f"{std.max():.3g}, median {std.median():.3g}, min {std.min():.3g}.\n")
    print(write_results(args.name, {"checkpoint": args.checkpoint, "config": args.config,
                                    "results": results}, md))


if __name__ == "__main__":
    main()
